"""The trace: every event of a run, one JSON object per line, written as it happens.

Each line is flushed when written, so a run killed mid-way leaves a readable trace up to
its last event. Streamed text pieces (ModelDelta) are left out: the ModelCall event that
follows carries the whole reply.

A writer holds an exclusive lock (`fcntl.flock`) on its file for the whole run: a second run
given the same file is refused (TraceInUse) before it truncates or interleaves anything.

`load_trace` reads past lines it cannot read (not UTF-8, not JSON, not an event) and says
which; a last line cut off mid-write (a crash) is left out and reported. `read_trace` is the
same, returning only the events.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from .event_json import event_from_json
from .events import SCHEMA_VERSION, Event, ModelDelta, clean_text
from .views.safe import INVISIBLE

UNSAFE_IN_FILE = re.compile(f"[\x7f-\x9f{INVISIBLE}]")  # (json.dumps escapes C0 controls itself)

SKIP = (ModelDelta,)
_LISTED_LINES = 10  # line numbers named in a note; the rest are counted


class TraceError(ValueError):
    """A file that cannot be read as a trace: missing, a folder, a newer schema, not a trace at all."""


class TraceInUse(ValueError):
    """Another run is writing this trace."""


class TraceWriter:
    """A subscriber that appends events to a JSONL file."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path).expanduser()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Open without truncating, lock, and only then empty it: a trace another run holds stays whole.
        # Opening fails loudly here (read-only folder) before the run starts.
        fh = open(self.path, "a", encoding="utf-8")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            raise TraceInUse(f"the trace {self.path} is being written by another run; "
                             "give this run another trace file (or wait for that run to end)") from None
        except OSError as exc:
            # Some network file systems cannot lock at all: write unlocked rather than lose the trace.
            if exc.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL):
                fh.close()
                raise
        fh.truncate(0)
        self._fh = fh
        self._write({"kind": "trace_header", "schema": SCHEMA_VERSION})

    def _write(self, data: dict) -> None:
        # UTF-8 kept readable, but controls and hidden characters escaped: `cat run.jsonl` in a
        # terminal must not act on a C1 sequence or bidi override printed in the sandbox. A lone
        # surrogate that got this far is replaced: it cannot be UTF-8, and the write would fail.
        line = clean_text(json.dumps(data, ensure_ascii=False, default=str))
        line = UNSAFE_IN_FILE.sub(lambda m: json.dumps(m.group())[1:-1], line)
        self._fh.write(line + "\n")
        self._fh.flush()

    def __call__(self, event: Event) -> None:
        if isinstance(event, SKIP) or self._fh.closed:
            return
        self._write(event.to_json())

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.close()  # releases the lock


@dataclass
class TraceContents:
    """What a trace file held: its events, and the lines that could not be read."""

    events: list[Event] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)  # unreadable lines (1-based), other than a cut-off last one
    cut_off: int | None = None  # the last line, cut off mid-write (a crash), left out

    def note(self) -> str:
        """'skipped 3 unreadable lines (12, 13, 40); the last line (41) was cut off mid-write', or ''."""
        parts = []
        if self.skipped:
            listed = ", ".join(map(str, self.skipped[:_LISTED_LINES]))
            more = f", and {len(self.skipped) - _LISTED_LINES} more" if len(self.skipped) > _LISTED_LINES else ""
            plural = "s" if len(self.skipped) != 1 else ""
            parts.append(f"skipped {len(self.skipped)} unreadable line{plural} ({listed}{more})")
        if self.cut_off is not None:
            parts.append(f"the last line ({self.cut_off}) was cut off mid-write and is left out")
        return "; ".join(parts)


def load_trace(path: str | os.PathLike) -> TraceContents:
    """Read a trace back into the typed events the live run emitted, noting unreadable lines.

    TraceError (one line, for users) when the file cannot be opened, is a folder, was written
    by a newer nbreason, or has lines but neither a trace header nor an event (not a trace)."""
    contents = TraceContents()
    bad: list[int] = []
    lines, last_bad, last_whole, header = 0, False, True, False
    try:
        with open(path, "rb") as fh:
            for number, raw in enumerate(fh, 1):
                if not raw.strip():
                    continue
                lines, last_whole = lines + 1, raw.endswith(b"\n")
                kind = _read_line(raw, contents, path)
                header = header or kind == "header"
                last_bad = kind == "bad"
                if last_bad:
                    bad.append(number)
    except OSError as exc:
        raise TraceError(_open_problem(path, exc)) from None
    if last_bad and not last_whole:  # written up to a crash: expected, not damage
        contents.cut_off = bad.pop()
    contents.skipped = bad
    if not contents.events and not header and (bad or contents.cut_off is not None):
        raise TraceError(f"{path}: not an nbreason trace (no event in its {lines} line{'s' if lines != 1 else ''})")
    return contents


def read_trace(path: str | os.PathLike) -> list[Event]:
    """The events of a trace (see `load_trace` for what is skipped and reported)."""
    return load_trace(path).events


def _read_line(raw: bytes, contents: TraceContents, path) -> str:
    """Add the line's event, or check the header: "event", "header" or "bad" (unreadable)."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError both are ValueErrors;
        return "bad"  # values nested deeper than the decoder recurses (a crafted line) are a RecursionError
    if isinstance(data, dict) and data.get("kind") == "trace_header":
        schema = data.get("schema")
        if not isinstance(schema, int) or isinstance(schema, bool):
            return "bad"
        if schema > SCHEMA_VERSION:
            raise TraceError(f"{path}: trace schema {schema} is newer than this nbreason reads "
                             f"({SCHEMA_VERSION}); upgrade nbreason to read it")
        return "header"
    try:
        contents.events.append(event_from_json(data))
    except ValueError:
        return "bad"
    return "event"


def _open_problem(path, exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return f"{path}: no such file"
    if isinstance(exc, IsADirectoryError):
        return f"{path}: is a folder, not a trace file"
    if isinstance(exc, PermissionError):
        return f"{path}: permission denied"
    return f"{path}: cannot read it ({exc.strerror or exc})"
