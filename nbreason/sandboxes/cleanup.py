"""Cleaning up after a local kernel: its folders and its pids cgroup, without ever deleting
through a mount that code in the kernel may have made."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import stat
import subprocess
import time

log = logging.getLogger("nbreason.sandboxes.local")


def remove_tree(path: str | os.PathLike) -> None:
    """Delete a sandbox folder, unless something is mounted below it: rmtree would delete the
    mounted file system too (a kernel that can mount, as an unconfined root kernel with
    capabilities could, might bind / there). Left in place with a warning instead."""
    prefix = os.path.realpath(path).rstrip("/") + "/"
    try:
        with open("/proc/self/mountinfo") as fh:
            mounted = [fields[4] for fields in map(str.split, fh) if fields[4].startswith(prefix)]
    except (OSError, IndexError):
        mounted = []
    if mounted:
        log.warning("local sandbox: not removing %s: something is mounted below it (%s)",
                    path, ", ".join(mounted))
        return
    try:
        shutil.rmtree(path, ignore_errors=True)
        return
    except RecursionError:
        # The kernel nested folders deeper than Python recurses (1,500 levels of `d/`): rmtree
        # gave up with the folder still there. rm walks any depth, never follows a link, and
        # --one-file-system stays off anything mounted since the check above.
        pass
    try:
        subprocess.run(["rm", "-rf", "--one-file-system", "--", os.fspath(path)], stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300)
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("local sandbox: could not remove %s: %s", path, exc)


def remove_setid_files(path: str | os.PathLike, since: float | None) -> list[str]:
    """Unlink the setuid and setgid files linked into a kept working folder since `since` (a time);
    return their paths. The launcher's seccomp filter stops a kernel from making one, but not from
    hard-linking one the system has (/usr/bin/passwd, same file system, plain kernels): that link
    would keep the program usable after an update patched it. Only a file with more than one link
    whose inode changed since then (link() changes it) is the sandbox's: the owner's own setuid
    files there stay. Unlinked, never chmod-ed: the mode is the linked program's own."""
    if since is None:
        return []
    try:  # find walks any depth (os.walk recurses), never follows links, and -xdev stays off mounts
        done = subprocess.run(["find", os.path.abspath(path), "-xdev", "-type", "f", "-perm", "/6000", "-print0"],
                              stdin=subprocess.DEVNULL, capture_output=True, timeout=300)
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("local sandbox: could not look for setuid files in %s: %s", path, exc)
        return []
    removed = []
    for found in filter(None, done.stdout.split(b"\0")):
        with contextlib.suppress(OSError):
            info = os.lstat(found)
            if stat.S_ISREG(info.st_mode) and info.st_nlink > 1 and info.st_ctime >= since:
                os.unlink(found)
                removed.append(os.fsdecode(found))
    return removed


def remove_cgroup(path: str | None) -> None:
    """A confined kernel's pids cgroup, once its processes are gone (a launcher also sweeps
    up those left behind)."""
    if not path or not os.path.basename(path).startswith("nbreason-"):
        return
    for _ in range(20):
        try:
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError:  # still busy: the killed processes are being reaped
            time.sleep(0.01)
