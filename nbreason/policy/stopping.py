"""Stall detection, redrawing a reply that repeats a failed program, and which self-check a run uses.

The rules themselves (when a run ends, revises, backtracks or checks an answer) are in
`policy/decide.py`; this module keeps the two small pieces of state they read.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from ..models.base import ModelProfile
from .sampling import Sampling, revision_sampling


REDRAWS = 2  # a reply repeating a failed program is drawn again at most this often


def _key(text: str) -> str:
    return hashlib.sha1(" ".join(text.split()).encode()).hexdigest()


def same_program(a: str | None, b: str | None) -> bool:
    """Two programs are the same one, whitespace aside."""
    return bool(a and b and a.strip() and _key(a) == _key(b))


@dataclass
class StallDetector:
    stall_repeats: int = 3
    failed_code: dict = field(default_factory=dict)  # program key -> its error
    last_error: str | None = None
    error_streak: int = 0

    def repeats_failure(self, code: str) -> bool:
        """`code` is a program that already failed in this run (whitespace aside)."""
        return _key(code) in self.failed_code

    def error_of(self, code: str | None) -> str | None:
        """The error `code` failed with in this run, if it did."""
        return self.failed_code.get(_key(code)) if code else None

    def record(self, code: str, error: str | None) -> str | None:
        """Record one execution; return a reason string if the run is stalling."""
        key = _key(code)
        if error is None:
            self.last_error, self.error_streak = None, 0
            return None
        if key in self.failed_code:
            return "stalled: the same failing code was written again"
        self.failed_code[key] = error
        self.error_streak = self.error_streak + 1 if error == self.last_error else 1
        self.last_error = error
        if self.error_streak >= self.stall_repeats:
            return f"stalled: the same error {self.stall_repeats} times in a row ({error})"
        return None


def redraw(code: str | None, stall: StallDetector, *, within_budget: bool, temperature: float,
           seed: int | None, step: int, draw: int = 0) -> Sampling | None:
    """How to draw a step's reply again (`draw` redraws made so far), or None to carry it out. A
    program that already failed in this run is drawn again, sampled, up to REDRAWS times while the
    budget allows a call: greedy decoding rewrites a failing program byte for byte, and running it
    again teaches nothing. The caller tells the model what must change from the second redraw on."""
    if draw >= REDRAWS or not code or not code.strip() or not within_budget or not stall.repeats_failure(code):
        return None
    return revision_sampling(temperature, seed, step, draw)


def self_check_mode(configured: str, profile: ModelProfile, voted: bool = False) -> str:
    """The self-check a run uses. "auto" means solving again by other methods for the embedded
    models, whose wrong answers are mostly programs that run and print a plausible number (no
    other signal sees them; measured in docs/policies.md), and off for API models (whose bill the
    checks would double: ask for them with self_check = "methods") and for runs whose attempts vote
    (the vote is the check)."""
    if configured != "auto":
        return configured
    return "methods" if profile.embedded and not voted else "off"
