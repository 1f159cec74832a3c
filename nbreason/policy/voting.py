"""Voting over several attempts' answers, and when to stop sampling more.

Votes are counted by `answers.tally`: answers with the same `answers.key` are one candidate, so
"1,000", "1000.0" and "$1000" count as one vote, and non-answers (None, "nan") do not vote. The
stopping rule is Adaptive-Consistency's Beta criterion (Aggarwal et al. 2023): with v1 votes for
the leader and v2 for the runner-up, the leader's share among the two is Beta(v1 + 1, v2 + 1)
under a uniform prior; stop once the probability that this share exceeds one half reaches
`confidence`. For integer parameters that probability is a binomial tail, so it is computed
exactly, without scipy.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import comb

from ..answers import Tally, tally


@dataclass
class VoteResult:
    answer: str | None  # the first original answer text of the winning key
    key: str | None
    votes: dict[str, float]  # key -> count, or summed reward
    why: str


def _result(counted: Tally) -> VoteResult:
    leader = counted.leader
    if leader is None:
        return VoteResult(None, None, {}, f"no attempt of {counted.cast} gave an answer")
    return VoteResult(leader.answer, leader.key, {c.key: c.weight for c in counted.candidates}, "")


def majority_vote(answers: list[str | None]) -> VoteResult:
    counted = tally(answers)
    result = _result(counted)
    if counted.leader is not None:
        result.why = (f"majority: {counted.leader.votes} of {counted.answered} answers agree on {result.answer!r}"
                      f" ({len(counted.candidates)} distinct)")
    return result


def weighted_vote(answers: list[str | None], rewards: list[float], weight: str = "reward") -> VoteResult:
    """Each answer votes with its attempt's reward (or confidence), so checked answers count for more."""
    if len(rewards) != len(answers):
        raise ValueError("one weight per answer is needed")
    counted = tally(answers, [max(0.0, float(r)) for r in rewards])
    result = _result(counted)
    if counted.leader is not None:
        total = sum(c.weight for c in counted.candidates)
        result.why = (f"{weight}-weighted: {result.answer!r} holds {counted.leader.weight:.2f} of {total:.2f}"
                      f" total {weight} ({len(counted.candidates)} distinct answers)")
    return result


def leader_probability(leader: int, runner_up: int) -> float:
    """P(p > 1/2) for p ~ Beta(leader + 1, runner_up + 1): a binomial tail, exact."""
    a, b = leader + 1, runner_up + 1
    n = a + b - 1
    return sum(comb(n, j) for j in range(a)) / 2**n


@dataclass
class StopCheck:
    stop: bool
    why: str
    probability: float

    def __bool__(self) -> bool:
        return self.stop


def stop_check(votes: list[str | None], max_n: int, confidence: float = 0.95) -> StopCheck:
    """Whether sampling can stop after `votes` (answers in order; None for failed attempts)."""
    n = len(votes)
    counted = tally(votes)
    v1 = counted.leader.votes if counted.leader else 0
    v2 = counted.runner_up.votes if counted.runner_up else 0
    p = leader_probability(v1, v2)
    if n >= max_n:
        return StopCheck(True, f"all {max_n} samples drawn", p)
    if v1 and v1 - v2 > max_n - n:
        return StopCheck(True, f"leader ({v1} vs {v2}) cannot be caught in {max_n - n} more samples", p)
    if v1 and p >= confidence:
        return StopCheck(True, f"leader settled: {v1} vs {v2} votes, P(leader is majority)={p:.3f} >= {confidence}", p)
    return StopCheck(False, f"{v1} vs {v2} votes after {n}: P(leader is majority)={p:.3f} < {confidence}", p)


def should_stop(votes: list[str | None], max_n: int, confidence: float = 0.95) -> bool:
    return stop_check(votes, max_n, confidence).stop
