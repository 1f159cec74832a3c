"""Reward: composable signals that score the evidence for an answer.

Each signal returns a `Signal(name, value in [0, 1], reason, weight)`. The combined
reward is their weighted mean. Signals only look at evidence (executions, the answer,
the user's check); they never call the model.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Callable, Sequence

from ..answers import key, number, number_key, numbers_in, same_number, tally, unwrap
from ..events import Signal
from ..execution import ExecutionRecord
from .clamping import clamping
from .data_use import DataFacts, data_use
from .plausibility import plausibility
from .verification import Verification

MAX_ANSWER_WORDS = 15  # longer "answers" are usually prose about the problem, not an answer


def code_ran(execution: ExecutionRecord | None) -> Signal:
    if execution is None:
        return Signal("code_ran", 0.0, "no code has run yet")
    error = execution.error
    if error:
        return Signal("code_ran", 0.0, f"the last code raised {error.name}: {error.value[:120]}")
    return Signal("code_ran", 1.0, "the last code ran without error")


def answer_parses(answer: str | None, expect: str = "any") -> Signal:
    """`expect` is "number" or "any"."""
    if answer is None or not answer.strip():
        return Signal("answer", 0.0, "no answer was given")
    if len(answer.split()) > MAX_ANSWER_WORDS:
        return Signal("answer", 0.4, f"the answer is a {len(answer.split())}-word sentence, not a value")
    if expect == "number":
        value = number(answer)
        if value is None:
            return Signal("answer", 0.3, f"expected a number, got {answer[:60]!r}")
        return Signal("answer", 1.0, f"a number: {number_key(value.value)}")
    return Signal("answer", 1.0, "an answer was given")


def grounded(answer: str | None, outputs: list[str]) -> Signal:
    """Does the answer appear in what the code printed? Catches answers the model made up."""
    if not answer:
        return Signal("grounded", 0.0, "no answer to compare")
    if not outputs:
        return Signal("grounded", 0.0, "no code output supports the answer")
    value = number(answer)
    text = "\n".join(outputs)
    if value is not None:
        shown = number_key(value.value)
        if any(same_number(value, found) for found in numbers_in(text)):
            return Signal("grounded", 1.0, f"{shown} appears in the code output")
        return Signal("grounded", 0.0, f"{shown} does not appear in any code output")
    # Literally, or as a printed line with the same key (\frac{\sqrt{3}}{2} and sqrt(3)/2).
    wanted = key(answer)
    if unwrap(answer).lower() in text.lower() or (wanted and any(key(line) == wanted for line in text.splitlines())):
        return Signal("grounded", 1.0, "the answer appears in the code output")
    return Signal("grounded", 0.5, "the answer is not literally in the output (may be a paraphrase)")


def user_check(answer: str | None, check: Callable[[Any], Any] | None) -> Signal | None:
    """Run the user's `--check` callable on the answer. Its exceptions become a 0 with the reason."""
    if check is None:
        return None
    name = getattr(check, "__name__", "check")
    try:
        verdict = check(answer)
    except Exception as exc:  # the user's function: report, never crash the run
        return Signal("user_check", 0.0, f"{name}() raised {type(exc).__name__}: {exc}", weight=2.0)
    if isinstance(verdict, numbers.Real) and not isinstance(verdict, bool):  # numpy's numbers too
        value = float(verdict)
        if not math.isfinite(value):  # max(0, min(1, nan)) is 1: a nan score passed
            return Signal("user_check", 0.0, f"{name}() returned {verdict}: not a score", weight=2.0)
        return Signal("user_check", max(0.0, min(1.0, value)), f"{name}() returned {verdict}", weight=2.0)
    return Signal("user_check", 1.0 if verdict else 0.0, f"{name}() returned {verdict!r}", weight=2.0)


def agreement(answer: str | None, answers: list[str | None], needed: int = 2) -> Signal:
    """Do `needed` of the independent solutions (`answers`, the first included) give `answer`?"""
    wanted = key(answer)
    same = tally(answers).votes(answer)
    if wanted is not None and same >= needed:
        return Signal("agreement", 1.0, f"{same} of {len(answers)} independent solutions give {answer}", 2.0)
    others = [a if a is not None else "no answer" for a in answers if wanted is None or key(a) != wanted]
    shown = ", ".join(str(a)[:20] for a in others[:4]) or "nothing else"
    return Signal("agreement", 0.0, f"{same} of {len(answers)} independent solutions give {answer}, "
                                    f"{needed} needed (the others give {shown})", 2.0)


def combine(signals: list[Signal]) -> float:
    total = sum(s.weight for s in signals)
    if not total:
        return 0.0
    return round(sum(s.value * s.weight for s in signals) / total, 4)


def self_check_signal(execution: ExecutionRecord | None) -> Signal:
    """Read a verification's verdict: its last printed line, True or False."""
    if execution is None or execution.error:
        failed = execution.error.name if execution is not None and execution.error else "no code"
        return Signal("self_check", 0.5, f"the check itself failed ({failed}): inconclusive", 2.0)
    lines = [ln.strip() for ln in execution.stdout_text.splitlines() if ln.strip()]
    verdict = lines[-1] if lines else ""
    if verdict in ("True", "true", "PASS", "OK"):
        return Signal("self_check", 1.0, "the independent check printed True", 2.0)
    if verdict in ("False", "false", "FAIL"):
        return Signal("self_check", 0.0, "the independent check printed False", 2.0)
    return Signal("self_check", 0.5, f"the check printed {verdict[:40]!r}, not True/False: inconclusive", 2.0)


def method_agreement(answer: str | None, check: Verification) -> Signal:
    """Do independent methods of different families give `answer`? (policy/verification.py)"""
    standing = check.standing_of(answer)
    families = len(standing.families) if standing else 0
    value = 1.0 if families >= 2 else 0.0
    return Signal("agreement", value, f"{families} method famil{'y' if families == 1 else 'ies'} give {answer}: "
                                      f"{check.summary()}", 2.0)


def judge_signals(answer: str | None, *, question: str, answer_type: str, outputs: list[str],
                  last_execution: ExecutionRecord | None, self_check: Signal | None = None,
                  verification: Verification | None = None, user: Signal | None = None,
                  program: Sequence[str] = (), facts: DataFacts | None = None) -> list[Signal]:
    """Every signal that scores an answer: its form, whether the code's output backs it, whether
    the last code ran, what the question says a right answer looks like and what the `program`
    that gave it did with the passed tables (weight 0: they veto or lower confidence,
    policy/plausibility.py, policy/data_use.py, policy/clamping.py), and the checks the run made (the model's own
    check, independent solutions, the user's function)."""
    signals = [answer_parses(answer, answer_type), grounded(answer, outputs), code_ran(last_execution)]
    signals += plausibility(answer, question, outputs)
    signals += data_use(answer, question, program, outputs, facts)
    signals += clamping(answer, program, question)
    if self_check is not None:
        signals.append(self_check)
    if verification is not None and verification.extra_done:
        if verification.mode == "methods":
            signals.append(method_agreement(answer, verification))
        else:
            signals.append(agreement(answer, verification.answers, verification.needed(answer)))
    return signals + ([user] if user else [])
