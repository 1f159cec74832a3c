"""Files in a local sandbox's working folder, read back without trusting what the kernel left
there: every part of the path is opened without following links, and the size is checked first."""

from __future__ import annotations

import os
from pathlib import Path


def read_inside(folder: Path, name: str, limit: int) -> bytes:
    parts = [p for p in Path(name).parts if p not in ("", ".")]
    if not parts or ".." in parts or Path(name).is_absolute():
        raise ValueError(f"{name!r} is outside the sandbox's working folder")
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for part in parts[:-1]:
            inner = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = inner
        file_fd = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW, dir_fd=fd)
    finally:
        os.close(fd)
    with os.fdopen(file_fd, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if size > limit:
            raise ValueError(f"{name} is {size:,} bytes, over the limit of {limit:,}")
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"{name} grew past the limit of {limit:,} bytes while it was read")
    return data
