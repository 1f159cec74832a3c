"""Files in a local sandbox's working folder, read and written without trusting what the kernel
left there: every part of the path is opened without following links (a link the sandbox planted
cannot point us at a file outside its folder), and a read checks the size first."""

from __future__ import annotations

import os
from pathlib import Path


def _parts(name: str) -> list[str]:
    parts = [p for p in Path(name).parts if p not in ("", ".")]
    if not parts or ".." in parts or Path(name).is_absolute():
        raise ValueError(f"{name!r} is outside the sandbox's working folder")
    return parts


def _open_inside(folder: Path, parts: list[str], flags: int, create_dirs: bool = False) -> int:
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
        return os.open(parts[-1], flags | os.O_NOFOLLOW, 0o644, dir_fd=fd)
    finally:
        os.close(fd)


def write_inside(folder: Path, name: str, data: bytes) -> Path:
    """Write `data` to `name` in the folder; a link planted at any part of the path is refused
    (OSError), never followed."""
    parts = _parts(name)
    file_fd = _open_inside(folder, parts, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, create_dirs=True)
    with os.fdopen(file_fd, "wb") as fh:
        fh.write(data)
    return folder.joinpath(*parts)


def read_inside(folder: Path, name: str, limit: int) -> bytes:
    file_fd = _open_inside(folder, _parts(name), os.O_RDONLY)
    with os.fdopen(file_fd, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if size > limit:
            raise ValueError(f"{name} is {size:,} bytes, over the limit of {limit:,}")
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"{name} grew past the limit of {limit:,} bytes while it was read")
    return data
