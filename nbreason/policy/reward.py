"""Reward: composable signals that score the evidence for an answer.

Each signal returns a `Signal(name, value in [0, 1], reason, weight)`. The combined
reward is their weighted mean. Signals only look at evidence (executions, the answer,
the user's check); they never call the model.
"""

from __future__ import annotations

import math
import re
from typing import Any, Callable

from ..events import Signal
from ..execution import ExecutionRecord
from .voting import answer_key

MAX_ANSWER_WORDS = 15  # longer "answers" are usually prose about the problem, not an answer

NUMBER = re.compile(r"-?\d[\d,]*\.?\d*(?:[eE][-+]?\d+)?|-?\.\d+")


def parse_number(text: str | None) -> float | None:
    """The single number an answer states ("$1,234.50" -> 1234.5), or None."""
    if text is None:
        return None
    cleaned = text.strip().strip("$€£ ").rstrip(".").replace("\\$", "")
    cleaned = re.sub(r"\\boxed\{(.*)\}", r"\1", cleaned)
    matches = NUMBER.findall(cleaned)
    if len(matches) != 1:
        return None
    try:
        return float(matches[0].replace(",", ""))
    except ValueError:
        return None


def numbers_in(text: str) -> list[float]:
    out = []
    for m in NUMBER.findall(text or ""):
        try:
            out.append(float(m.replace(",", "")))
        except ValueError:
            pass
    return out


def same_number(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)


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
        value = parse_number(answer)
        if value is None:
            return Signal("answer", 0.3, f"expected a number, got {answer[:60]!r}")
        return Signal("answer", 1.0, f"a number: {value:g}")
    return Signal("answer", 1.0, "an answer was given")


def grounded(answer: str | None, outputs: list[str]) -> Signal:
    """Does the answer appear in what the code printed? Catches answers the model made up."""
    if not answer:
        return Signal("grounded", 0.0, "no answer to compare")
    if not outputs:
        return Signal("grounded", 0.0, "no code output supports the answer")
    value = parse_number(answer)
    text = "\n".join(outputs)
    if value is not None:
        if any(same_number(value, n) for n in numbers_in(text)):
            return Signal("grounded", 1.0, f"{value:g} appears in the code output")
        return Signal("grounded", 0.0, f"{value:g} does not appear in any code output")
    if answer.strip().lower() in text.lower():
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
    if isinstance(verdict, (int, float)) and not isinstance(verdict, bool):
        value = max(0.0, min(1.0, float(verdict)))
        return Signal("user_check", value, f"{name}() returned {verdict}", weight=2.0)
    return Signal("user_check", 1.0 if verdict else 0.0, f"{name}() returned {verdict!r}", weight=2.0)


def agreement(answer: str | None, answers: list[str | None], needed: int = 2) -> Signal:
    """Do `needed` of the independent solutions (`answers`, the first included) give `answer`?"""
    key = answer_key(answer)
    same = sum(1 for a in answers if key is not None and answer_key(a) == key)
    if key is not None and same >= needed:
        return Signal("agreement", 1.0, f"{same} of {len(answers)} independent solutions give {answer}", 2.0)
    others = [a if a is not None else "no answer" for a in answers if key is None or answer_key(a) != key]
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
