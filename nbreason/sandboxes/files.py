"""Files in a local sandbox's working folder, read and written without trusting what the kernel
left there: every part of the path is opened without following links (a link the sandbox planted
cannot point us at a file outside its folder), only regular files are read or replaced (a FIFO
or a device planted there would block the owner's thread forever), a read checks the size first,
and a write goes to a fresh file renamed into place (a planted hard link is replaced, never
written through)."""

from __future__ import annotations

import errno
import fcntl
import os
import secrets
import shutil
import stat
from pathlib import Path


def _parts(name: str) -> list[str]:
    parts = [p for p in Path(name).parts if p not in ("", ".")]
    if not parts or ".." in parts or Path(name).is_absolute():
        raise ValueError(f"{name!r} is outside the sandbox's working folder")
    return parts


def _open_folder(folder: Path, parts: list[str], create_dirs: bool = False) -> int:
    """The folder that holds the last part of the path, opened without following links."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for part in parts[:-1]:
            if create_dirs:
                try:
                    os.mkdir(part, dir_fd=fd)
                except FileExistsError:
                    pass
            inner = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = inner
    except BaseException:
        os.close(fd)
        raise
    return fd


def _not_regular(name: str, mode: int) -> OSError:
    kind = "a link" if stat.S_ISLNK(mode) else "a folder" if stat.S_ISDIR(mode) else "not a regular file"
    return OSError(errno.EINVAL, f"{name} in the sandbox's working folder is {kind}; it is not used")


def write_inside(folder: Path, name: str, data: bytes | Path) -> Path:
    """Write `data` (bytes, or a file of the owner's, copied in chunks) to `name` in the folder; a
    link or anything else but a regular file at any part of the path is refused (OSError), never
    followed or opened."""
    parts = _parts(name)
    dir_fd = _open_folder(folder, parts, create_dirs=True)
    temp = f".nbreason-{secrets.token_hex(8)}.tmp"
    keep = None  # the permissions of a file written over (never setuid/setgid bits)
    try:
        try:
            mode = os.stat(parts[-1], dir_fd=dir_fd, follow_symlinks=False).st_mode
        except FileNotFoundError:
            pass
        else:
            if not stat.S_ISREG(mode):
                raise _not_regular(name, mode)
            keep = stat.S_IMODE(mode) & 0o777
        # A fresh file of our own, renamed over the name: nothing the kernel left there (a hard
        # link to another file, a FIFO swapped in after the check) is opened or written through.
        file_fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_NOCTTY, 0o644,
                          dir_fd=dir_fd)
        try:
            if keep is not None:
                os.fchmod(file_fd, keep)
            with os.fdopen(file_fd, "wb") as fh:
                if isinstance(data, Path):
                    with open(data, "rb") as source:
                        shutil.copyfileobj(source, fh, 1 << 20)
                else:
                    fh.write(data)
            os.rename(temp, parts[-1], src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except BaseException:
            try:
                os.unlink(temp, dir_fd=dir_fd)
            except OSError:
                pass
            raise
    finally:
        os.close(dir_fd)
    return folder.joinpath(*parts)


def read_inside(folder: Path, name: str, limit: int) -> bytes:
    parts = _parts(name)
    dir_fd = _open_folder(folder, parts)
    try:
        # O_NONBLOCK: opening a FIFO for reading returns at once instead of waiting for a writer.
        file_fd = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY, dir_fd=dir_fd)
    finally:
        os.close(dir_fd)
    with os.fdopen(file_fd, "rb") as fh:
        info = os.fstat(file_fd)
        if not stat.S_ISREG(info.st_mode):
            raise _not_regular(name, info.st_mode)
        fcntl.fcntl(file_fd, fcntl.F_SETFL, fcntl.fcntl(file_fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
        if info.st_size > limit:
            raise ValueError(f"{name} is {info.st_size:,} bytes, over the limit of {limit:,}")
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"{name} grew past the limit of {limit:,} bytes while it was read")
    return data
