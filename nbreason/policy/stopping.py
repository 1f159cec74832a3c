"""Stopping: the one place that decides when a run ends.

A run stops when
  1. an answer's combined reward reaches the threshold ("answered"), or
  2. a budget limit is reached ("budget:<limit>"), or
  3. progress stalls: the same code is written again after it failed, or the same error
     repeats `stall_repeats` times in a row ("stalled"), or
  4. someone stops it ("stopped by user").
An answer below the threshold is sent back for revision while budget remains.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field


def _key(text: str) -> str:
    return hashlib.sha1(" ".join(text.split()).encode()).hexdigest()


@dataclass
class StallDetector:
    stall_repeats: int = 3
    failed_code: set = field(default_factory=set)
    last_error: str | None = None
    error_streak: int = 0

    def record(self, code: str, error: str | None) -> str | None:
        """Record one execution; return a reason string if the run is stalling."""
        key = _key(code)
        if error is None:
            self.last_error, self.error_streak = None, 0
            return None
        if key in self.failed_code:
            return "stalled: the same failing code was written again"
        self.failed_code.add(key)
        self.error_streak = self.error_streak + 1 if error == self.last_error else 1
        self.last_error = error
        if self.error_streak >= self.stall_repeats:
            return f"stalled: the same error {self.stall_repeats} times in a row ({error})"
        return None


@dataclass
class StopRule:
    threshold: float = 0.7

    def accept(self, reward: float) -> bool:
        return reward >= self.threshold
