"""What other processes see of nbreason's command line.

`/proc/<pid>/cmdline` is readable by every process of the machine, a plain sandbox kernel's code
among them: a key given as `--api-key KEY` (or a base URL with credentials) is overwritten there
with `*` as nbreason starts.
"""

from __future__ import annotations

import os

SECRET_FLAGS = ("--api-key", "--base-url")  # a key, and a URL that may carry credentials


def _secret_flag(arg: bytes) -> str | None:
    """'--api-key' / '--base-url' for that flag, spelled whole or abbreviated as argparse accepts."""
    flag = arg.partition(b"=")[0].decode("ascii", "replace")
    return next((f for f in SECRET_FLAGS if len(flag) > 3 and f.startswith(flag)), None)


def _masked(flag: str, value: bytes) -> bytes:
    """`value` with its secret as `*`, byte for byte: the whole key, or a URL's credentials."""
    if flag == "--api-key":
        return b"*" * len(value)
    from .redact import _QUERY, _USERINFO

    def stars(text: str) -> str:  # one per byte, so the command line keeps its length
        return "*" * len(os.fsencode(text))

    text = os.fsdecode(value)
    text = _USERINFO.sub(lambda m: m.group(1) + stars(m.group()[len(m.group(1)):-1]) + "@", text)
    text = _QUERY.sub(lambda m: m.group(1) + stars(m.group()[len(m.group(1)):]), text)
    return os.fsencode(text)


def hide_secret_arguments() -> bool:
    """Overwrite `--api-key VALUE` (and a base URL's credentials) with `*` in this process's own
    command line, as `/proc/<pid>/cmdline` shows it to every process of the machine: the sandbox's
    code among them (a plain kernel, even as root, where the owner's environment is refused).
    Python keeps its own copy of the arguments; only what other processes read changes. Best
    effort (False where `/proc/self/mem` cannot be written); the environment is the better place."""
    try:
        with open("/proc/self/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
        start, end = int(fields[45]), int(fields[46])  # arg_start and arg_end (fields 48 and 49)
        fd = os.open("/proc/self/mem", os.O_RDWR)
    except (OSError, ValueError, IndexError):
        return False
    try:
        area = os.pread(fd, end - start, start)
        args = area.split(b"\0")
        for i, arg in enumerate(args[:-1]):
            flag = _secret_flag(arg)
            if flag is None:
                continue
            name, has_value, value = arg.partition(b"=")
            if has_value:
                args[i] = name + b"=" + _masked(flag, value)
            else:  # the value is the next argument
                args[i + 1] = _masked(flag, args[i + 1])
        hidden = b"\0".join(args)
        if hidden != area and len(hidden) == len(area):
            os.pwrite(fd, hidden, start)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)
