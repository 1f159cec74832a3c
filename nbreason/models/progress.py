"""Progress of slow preparations in the model layer, reported to whoever asked for them.

Assembling the embedded model's weights (a gigabyte, a minute or more) and starting its server
take long enough that people need to see them happen. The model layer only reports; the caller
decides how that looks (a bar in the terminal, a widget or text lines in a notebook,
nothing in tests), by passing `on_progress`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Progress:
    """One step of a stage: `done` of `total` units (bytes, or steps when `unit` is "")."""

    stage: str  # what is happening, for people: "assembling qwen2.5-coder-0.5b"
    done: int
    total: int  # > 0
    unit: str = "bytes"

    @property
    def finished(self) -> bool:
        return self.done >= self.total

    @property
    def fraction(self) -> float:
        return min(1.0, self.done / self.total) if self.total else 1.0


OnProgress = Callable[[Progress], None]


def report(on_progress: OnProgress | None, stage: str, done: int, total: int, unit: str = "bytes") -> None:
    if on_progress is not None:
        on_progress(Progress(stage, done, total, unit))
