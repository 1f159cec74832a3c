"""KernelLog: where a local kernel's own stdout and stderr go, instead of ours.

A kernel that inherits the owner's file descriptors can write ahead of `--json` output, reopen
`>> results.jsonl` through /proc/self/fd and read or truncate it, or type into the user's terminal
(TIOCSTI). So a kernel gets /dev/null as stdin and this file as stdout and stderr: private to the
sandbox's runtime folder, never a pipe (a full pipe would block the kernel), kept small by `trim()`,
and read only for its last line, to say why a kernel would not start.

The owner touches the file only through the descriptor it opened: a confined kernel can write the
runtime folder and could swap the path for a symlink to a file of the owner's.
"""

from __future__ import annotations

import os
import re
import time

LIMIT = 1 << 20  # bytes kept before trimming
KEEP = 64 << 10  # bytes kept by a trim (the most recent)
TRIM_EVERY = 0.5  # seconds between size checks while code runs
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


class KernelLog:
    """The kernel's stdout and stderr, one append-only file in `folder`."""

    def __init__(self, folder: str, name: str = "kernel.log"):
        path = os.path.join(folder, name)
        flags = os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        # The kernel gets a write-only, append-only descriptor; ours reads and trims.
        self.writer = os.open(path, flags | os.O_WRONLY | os.O_APPEND, 0o600)
        self._reader = os.open(path, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
        self._checked = 0.0

    def trim(self, *, force: bool = False) -> None:
        """Keep the file under LIMIT bytes: drop all but the last KEEP bytes. Cheap to call often."""
        now = time.monotonic()
        if self._reader < 0 or (not force and now - self._checked < TRIM_EVERY):
            return
        self._checked = now
        size = os.fstat(self._reader).st_size
        if size <= LIMIT:
            return
        tail = os.pread(self._reader, KEEP, size - KEEP)
        os.ftruncate(self._reader, 0)
        os.pwrite(self._reader, tail, 0)

    def last_line(self, max_chars: int = 300) -> str:
        """The last non-blank line, printable characters only (it ends up in error messages)."""
        if self._reader < 0:
            return ""
        size = os.fstat(self._reader).st_size
        tail = os.pread(self._reader, 8192, max(0, size - 8192)).decode("utf-8", "replace")
        lines = [line.strip() for line in tail.splitlines() if line.strip()]
        return _UNPRINTABLE.sub("", lines[-1])[:max_chars] if lines else ""

    def close(self) -> None:
        for fd in (self.writer, self._reader):
            if fd >= 0:
                os.close(fd)
        self.writer = self._reader = -1
