"""Confidence: how likely the final answer is right, from the evidence the run gathered.

    confidence = 1 / (1 + exp(-(b0 + Σ bᵢ·featureᵢ)))

over the features of `Features` (how many method families agree on the answer, its share of the
support, the plausibility rules, the reward). The coefficients are fitted by logistic regression
on development data only — GSM8K problems 0–59 with the embedded 1.5B model and the default
settings (benchmarks/results/calibration.json names the runs) — by `benchmarks/calibrate.py`,
which also picks `CUTOFF`:
the lowest confidence at which the verified answers of the development data were at least 90 %
right. An answer is *verified* when its confidence reaches `CUTOFF` and two method families gave it
(samples of one method, or a check repeating the run's code, are one family). docs/policies.md gives the
precision this measured on held-out problems. Word problems only: no data question was in the fit,
where the checked program and row by row count as families of their own although they are
programs too, unless their code only repeats the run's (policy/independence.py); their measured
precision is in docs/policies.md.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from .verification import Verification

# Fitted by benchmarks/calibrate.py (see the module docstring); the fit's data and date are in
# benchmarks/results/calibration.json.
COEFFICIENTS = {"bias": -4.561, "families": 0.325, "share": 4.847, "suspicion": 1.534, "reward": 0.424,
                "unchecked": -2.087, "settled": -0.552}
CUTOFF = 0.701


@dataclass(frozen=True)
class Features:
    families: int = 1  # distinct method families giving the answer (the run's own route included, unless
    # ruled out or absent)
    share: float = 1.0  # the answer's share of all support among the solutions, a solution that gave no usable
    # answer (it failed, printed nothing, its answer cannot be right, or the run stalled) counting 1 against it
    suspicion: float = 1.0  # the lowest plausibility value (1: nothing suspicious)
    reward: float = 0.0  # the combined reward of the answer's last check
    unchecked: float = 1.0  # 1: no independent solution was made
    settled: float = 0.0  # 1: the check's agreement rule settled on this answer (not a fallback plurality)

    def to_json(self) -> dict:
        return asdict(self)


def features(answer: str | None, reward: float, suspicion: float, check: Verification | None,
             user_check: bool | None = None) -> Features:
    """The features of a final answer. A user's own check (--check fn) that passes counts as one more
    agreeing family, one that fails as a disagreeing one."""

    extra = {True: 1, False: 0, None: 0}[user_check]
    if user_check is False:
        return Features(1, 0.5, suspicion, reward, 0.0, 0.0)
    if check is None or check.extra_done == 0:
        return Features(1 + extra, 1.0, suspicion, reward, 0.0 if extra else 1.0, float(bool(extra)))
    standings = check.standings()
    mine = check.standing_of(answer)
    # A check that could not answer is no confirmation: on table questions half the checks failed,
    # and counted as silence they left a lone first answer with a share of 1.
    # The run's own answer ruled out (it came back impossible), or none at all (it stalled), counts
    # against the same way.
    unusable = sum(1 for s in check.solutions if s.vote is None)
    total = (sum(s.support for s in standings) + unusable) or 1.0
    agreed = check.settled()
    settled = float(mine is not None and agreed is not None and check.standing_of(agreed) == mine)
    if mine is None:
        return Features(extra, 0.0, suspicion, reward, 0.0, settled)
    return Features(len(mine.families) + extra, mine.support / total, suspicion, reward, 0.0, settled)


def confidence(f: Features, coefficients: dict | None = None) -> float:
    c = coefficients or COEFFICIENTS
    z = c["bias"] + sum(c[name] * value for name, value in asdict(f).items())
    return round(1 / (1 + math.exp(-z)), 4)


def verified(value: float, f: Features | None = None, cutoff: float | None = None) -> bool:
    """Confidence at the cut-off, and (given the features) an answer two method families gave that
    the check settled on. The fit weighs families little: without this, a sampled repeat of the
    run's program, or a check that only copied its code, verified a lone family's answer at 0.92."""
    sure = value >= (CUTOFF if cutoff is None else cutoff)
    return sure and (f is None or (f.families >= 2 and f.settled == 1.0))
