"""The trace: every event of a run, one JSON object per line, written as it happens.

Each line is flushed when written, so a run killed mid-way leaves a readable trace up to
its last event. Streamed text pieces (ModelDelta) are left out: the ModelCall event that
follows carries the whole reply. `read_trace` tolerates a cut-off last line.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .events import SCHEMA_VERSION, Event, ModelDelta, event_from_json

SKIP = (ModelDelta,)


class TraceWriter:
    """A subscriber that appends events to a JSONL file."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path).expanduser()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Opening fails loudly here (read-only folder) before the run starts.
        self._fh = open(self.path, "w", encoding="utf-8")
        self._write({"kind": "trace_header", "schema": SCHEMA_VERSION})

    def _write(self, data: dict) -> None:
        self._fh.write(json.dumps(data, ensure_ascii=False, default=str) + "\n")
        self._fh.flush()

    def __call__(self, event: Event) -> None:
        if isinstance(event, SKIP) or self._fh.closed:
            return
        self._write(event.to_json())

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.close()


def read_trace(path: str | os.PathLike) -> list[Event]:
    """Load a trace back into the typed events the live run emitted."""
    events: list[Event] = []
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError:
                break  # a line cut off by a crash: keep what came before it
            if data.get("kind") == "trace_header":
                if data.get("schema", 0) > SCHEMA_VERSION:
                    raise ValueError(f"{path}: trace schema {data['schema']} is newer than this nbreason reads")
                continue
            events.append(event_from_json(data))
    return events
