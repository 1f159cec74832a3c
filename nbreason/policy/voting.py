"""Voting over several attempts' answers, and when to stop sampling more.

Answers are compared through `answer_key`, so "1,000", "1000.0" and "$1000" count as
one vote. The stopping rule is Adaptive-Consistency's Beta criterion (Aggarwal et al.
2023): with v1 votes for the leader and v2 for the runner-up, the leader's share among
the two is Beta(v1 + 1, v2 + 1) under a uniform prior; stop once the probability that
this share exceeds one half reaches `confidence`. For integer parameters that
probability is a binomial tail, so it is computed exactly, without scipy.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from fractions import Fraction
from math import comb

_BOXED = re.compile(r"\\boxed\s*\{(.*)\}", re.S)
_FRAC = re.compile(r"^\\[dt]?frac\s*\{([^{}]+)\}\s*\{([^{}]+)\}$")
_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
# A number, optionally a fraction, optionally followed by words (units) or a full stop.
_NUMERIC = re.compile(rf"^({_NUMBER})(?:\s*/\s*({_NUMBER}))?\s*(%)?(?:\s*[a-zA-Z][a-zA-Z .]*)?\.?$")
_ASSIGNMENT = re.compile(r"^[a-zA-Z]\w*\s*=\s*")
# "FINAL ANSWER: 12", "The answer is 12": small models repeat the marker inside the answer.
_LEAD_IN = re.compile(r"^\s*(?:(?:the\s+)?(?:final\s+)?answer\s*(?:is|:|=)\s*)+", re.I)
# A printed label before a number: "Total eggs: 18", "Profit ($): 70000".
_LABEL = re.compile(r"^[A-Za-z][\w\s'()$-]*:\s*(?=[-+$€£\\.\d])")


def parse_number(text: str) -> Fraction | None:
    """The number `text` states, if it states exactly one: '$1,000.00' -> 1000, '3/4', '\\frac{3}{4}'."""
    s = _LABEL.sub("", _LEAD_IN.sub("", text.strip()))
    boxed = _BOXED.search(s)
    if boxed:
        s = boxed.group(1).strip()
    s = s.strip("$ ").replace("\\$", "").replace("\\!", "").replace("\\,", "")
    s = _ASSIGNMENT.sub("", s)
    s = s.lstrip("$€£ ")
    frac = _FRAC.match(s)
    if frac:
        s = f"{frac.group(1)}/{frac.group(2)}"
    s = re.sub(r"(?<=\d),(?=\d{3}\b)", "", s)  # thousands separators only, never decimal commas
    s = s.replace("\\%", "%")
    match = _NUMERIC.match(s)
    if not match:
        return None
    try:
        value = Fraction(match.group(1))
        if match.group(2) is not None:
            value /= Fraction(match.group(2))
    except (ValueError, ZeroDivisionError):
        return None
    return value


def answer_key(answer: str | None) -> str | None:
    """The form two answers share when they mean the same thing; None for no answer."""
    if answer is None:
        return None
    text = _LEAD_IN.sub("", str(answer)).strip()
    if not text:
        return None
    number = parse_number(text)
    if number is not None:
        if number.denominator == 1:
            return str(number.numerator)
        # Six significant digits, so 1/3 and 0.333333 (a printed float) agree.
        return format(float(number), ".6g")
    boxed = _BOXED.search(text)
    if boxed:
        text = boxed.group(1)
    text = text.replace("\\left", "").replace("\\right", "").replace("\\dfrac", "\\frac")
    return re.sub(r"\s+", "", text.strip().strip("$").rstrip(".")).lower()


@dataclass
class VoteResult:
    answer: str | None  # the first original answer text of the winning key
    key: str | None
    votes: dict[str, float]  # key -> count, or summed reward
    why: str


def _tally(answers: list[str | None], weights: list[float]) -> VoteResult:
    totals: dict[str, float] = {}
    counts: Counter[str] = Counter()
    first_text: dict[str, str] = {}
    for answer, weight in zip(answers, weights):
        key = answer_key(answer)
        if key is None:
            continue
        totals[key] = totals.get(key, 0.0) + weight
        counts[key] += 1
        first_text.setdefault(key, str(answer).strip())
    if not totals:
        return VoteResult(None, None, {}, f"no attempt of {len(answers)} gave an answer")
    # Ties go to the key with more votes, then to the one seen first (dicts keep order).
    key = max(totals, key=lambda k: (totals[k], counts[k]))
    return VoteResult(first_text[key], key, totals, "")


def majority_vote(answers: list[str | None]) -> VoteResult:
    result = _tally(answers, [1.0] * len(answers))
    if result.key is not None:
        answered = sum(1 for a in answers if answer_key(a) is not None)
        result.why = (
            f"majority: {int(result.votes[result.key])} of {answered} answers agree on {result.answer!r}"
            f" ({len(result.votes)} distinct)"
        )
    return result


def weighted_vote(answers: list[str | None], rewards: list[float]) -> VoteResult:
    """Each answer votes with its attempt's reward, so checked answers count for more."""
    if len(rewards) != len(answers):
        raise ValueError("one reward per answer is needed")
    result = _tally(answers, [max(0.0, float(r)) for r in rewards])
    if result.key is not None:
        total = sum(result.votes.values())
        result.why = (
            f"reward-weighted: {result.answer!r} holds {result.votes[result.key]:.2f} of {total:.2f}"
            f" total reward ({len(result.votes)} distinct answers)"
        )
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
    counts = Counter(k for k in map(answer_key, votes) if k is not None).most_common(2)
    v1 = counts[0][1] if counts else 0
    v2 = counts[1][1] if len(counts) > 1 else 0
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
