"""What a run has learned so far: the executions, the outputs of clean code, the answers proposed
and how each was judged. The loop (loop.py) adds to it; the policy reads it through `RunState`."""

from __future__ import annotations

from dataclasses import dataclass, field

from .answers import is_value
from .events import Signal
from .execution import ExecutionRecord
from .sandboxes.results import last_line


@dataclass
class Evidence:
    """What the run has learned so far: executions, outputs and proposed answers."""

    last_execution: ExecutionRecord | None = None
    outputs: list[str] = field(default_factory=list)  # stdout of code that ran cleanly
    code: list[str] = field(default_factory=list)  # code that ran cleanly
    rejections: dict[str, int] = field(default_factory=dict)  # answer -> times sent back
    best: tuple[float, str] | None = None  # (reward, answer)
    self_checks: dict[str, Signal] = field(default_factory=dict)  # answer -> its model-written check

    def candidate(self) -> str | None:
        """Best answer so far: the best-scored proposal, else the last printed value."""
        if self.best and is_value(self.best[1]):
            return self.best[1]
        return next((line for text in reversed(self.outputs) if is_value(line := last_line(text))), None)
