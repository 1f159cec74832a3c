"""Verification by solving again: the answer the run reached is checked against independent
solutions of the same question (fresh context, no sight of the first answer, sampled).

An answer is settled once `confirm` solutions give it, the first answer's own vote included
(one agreeing solution confirms the first answer), or `replace` solutions agree on another
answer. If nothing settles within `extra` more solutions, the most-voted answer stands,
unverified; ties keep the first. Stricter rules (`confirm`, `replace` = 3) were measured too and
cost more for no accuracy on GSM8K with the 1.5B (docs/policies.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..answers import key, tally

FIRST = "run"  # the method name of the run's own answer


@dataclass(frozen=True)
class Solution:
    method: str  # how it was reached: "run" for the run's own answer, "recompute" for a fresh solution
    answer: str | None  # None: the solution failed or printed nothing


@dataclass
class Verification:
    first: str
    extra: int = 3
    confirm: int = 2
    replace: int = 2
    solutions: list[Solution] = field(init=False)  # the first answer's own included

    def __post_init__(self):
        self.solutions = [Solution(FIRST, self.first)]

    def add(self, answer: str | None, method: str = "recompute") -> None:
        self.solutions.append(Solution(method, answer))

    @property
    def answers(self) -> list[str | None]:
        return [s.answer for s in self.solutions]

    @property
    def extra_done(self) -> int:
        """Independent solutions so far, besides the first answer."""
        return len(self.solutions) - 1

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
        return self.extra_done >= self.extra
