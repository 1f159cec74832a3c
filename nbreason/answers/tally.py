"""Tallying answers by key: the one count behind votes, checks and agreement signals."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .keys import key

@dataclass(frozen=True)
class Candidate:
    """One distinct answer in a tally."""

    key: str
    answer: str  # the first original text with this key
    votes: int
    weight: float  # summed weights (the number of votes when unweighted)


@dataclass(frozen=True)
class Tally:
    candidates: tuple[Candidate, ...]  # in order of first appearance
    cast: int  # answers counted, non-answers included

    @property
    def answered(self) -> int:
        return sum(c.votes for c in self.candidates)

    @property
    def ranked(self) -> tuple[Candidate, ...]:
        """By weight, then votes, then first appearance (so ties go to the answer seen first)."""
        return tuple(sorted(self.candidates, key=lambda c: (-c.weight, -c.votes)))

    @property
    def leader(self) -> Candidate | None:
        ranked = self.ranked
        return ranked[0] if ranked else None

    @property
    def runner_up(self) -> Candidate | None:
        ranked = self.ranked
        return ranked[1] if len(ranked) > 1 else None

    def candidate(self, answer: str | None) -> Candidate | None:
        k = key(answer)
        return next((c for c in self.candidates if c.key == k), None) if k is not None else None

    def votes(self, answer: str | None) -> int:
        """How many answers share `answer`'s key (0 for a non-answer)."""
        found = self.candidate(answer)
        return found.votes if found else 0


def tally(answers: Iterable[str | None], weights: Iterable[float] | None = None) -> Tally:
    """Votes per key; non-answers are counted as cast but vote for nothing."""
    answers = list(answers)
    weights = [1.0] * len(answers) if weights is None else [float(w) for w in weights]
    if len(weights) != len(answers):
        raise ValueError("one weight per answer is needed")
    order: dict[str, Candidate] = {}
    for answer, weight in zip(answers, weights):
        k = key(answer)
        if k is None:
            continue
        seen = order.get(k)
        order[k] = (Candidate(k, str(answer).strip(), 1, weight) if seen is None
                    else Candidate(k, seen.answer, seen.votes + 1, seen.weight + weight))
    return Tally(tuple(order.values()), len(answers))
