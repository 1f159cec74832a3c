"""Stopping: the one place that decides when a run ends.

A run stops when
  1. an answer's combined reward reaches the threshold ("answered"), or
  2. a budget limit is reached ("budget:<limit>"), or
  3. progress stalls: the same code is written again after it failed, or the same error
     repeats `stall_repeats` times in a row ("stalled"), or
  4. someone stops it ("stopped by user").
An answer below the threshold is sent back for revision while budget remains. An answer
that passes can still have to survive a self-check first: `verify` (the model writes a
check that must print True) or `recompute` (below).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from ..answers import key, tally

# Independent samples (attempts that vote, recompute solutions) must differ from the greedy
# first answer and from each other.
SAMPLE_TEMPERATURE = 0.7


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


def self_check_mode(configured: str, model: object, voted: bool = False) -> str:
    """The self-check a run uses. "auto" means recompute for the embedded models, whose wrong
    answers are mostly programs that run and print a plausible number (no other signal sees
    them), and off for API models and for runs whose attempts vote (the vote is the check)."""
    if configured != "auto":
        return configured
    return "recompute" if getattr(model, "answer_from_output", False) and not voted else "off"


@dataclass
class Recompute:
    """The recompute check: solve the question again from scratch (fresh context, no sight of
    the first answer, sampled) until the answers settle, at most `extra` more times.

    An answer is settled once two solutions give it, the first answer's own vote included:
    one agreeing solution confirms the first answer, two that agree replace it. If nothing
    settles, the most-voted answer stands, unverified; ties keep the first. Stricter rules
    (`confirm`, `replace` = 3) were measured too and cost more for no accuracy on GSM8K with
    the 1.5B (docs/policies.md).
    """

    first: str
    extra: int = 3
    confirm: int = 2
    replace: int = 2
    answers: list = field(init=False)  # every solution's answer, the first included

    def __post_init__(self):
        self.answers = [self.first]

    def add(self, answer: str | None) -> None:
        self.answers.append(answer)

    @property
    def solutions(self) -> int:
        return len(self.answers) - 1  # independent solutions so far, besides the first

    def needed(self, answer: str | None) -> int:
        return self.confirm if key(answer) == key(self.first) else self.replace

    def votes(self, answer: str | None) -> int:
        return tally(self.answers).votes(answer)

    def settled(self) -> str | None:
        """The answer with the votes it needs (the first answer before others), or None."""
        counted = tally(self.answers)
        for answer in self.answers:
            if key(answer) is not None and counted.votes(answer) >= self.needed(answer):
                return answer
        return None

    def plurality(self) -> str | None:
        """The most-voted answer; ties keep the first answer, then the earliest."""
        counted = tally(self.answers)
        leader = counted.leader
        if leader is None or counted.votes(self.first) == leader.votes:
            return self.first
        return leader.answer

    def exhausted(self) -> bool:
        return self.solutions >= self.extra
