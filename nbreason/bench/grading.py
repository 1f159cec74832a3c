"""Whether an answer matches the reference.

The comparison is `answers.compare` in its strict form: numbers to 6 significant digits (a
program that prints 0.1 + 0.2 is right about 0.3; 0.3333 is not 1/3), spellings folded by
`answers.key`, everything else symbolic through math-verify (LaTeX, Python-style expressions,
sets, intervals). The one thing the grader adds is reading a sentence's last number when the
reference is a number ("After 3 weeks she has 42 left").
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

# The grader compares symbolically: a missing math-verify stops a benchmark before it starts,
# instead of grading every symbolic answer wrong.
import math_verify  # noqa: F401

from .. import answers

_GSM8K_GOLD = re.compile(r"####\s*(.+?)\s*$", re.S)


@dataclass
class Grade:
    correct: bool
    how: str  # which comparison decided, for reading per-problem results


def gsm8k_gold(solution: str) -> str:
    """The final number of a GSM8K reference solution ("... #### 72" -> "72")."""
    match = _GSM8K_GOLD.search(solution)
    return (match.group(1) if match else solution).replace(",", "").strip()


def grade(answer: str | None, gold: str) -> Grade:
    """Compare one answer to one reference answer (already extracted, e.g. by `gsm8k_gold`)."""
    if not answers.is_value(answer):
        return Grade(False, "no answer")
    result = answers.compare(answer, gold, strict=True)
    if result.same:
        return Grade(True, result.how)
    gold_number = answers.number(gold)
    if gold_number is not None and answers.number(answer) is None:
        found = answers.numbers_in(answer)
        if found and answers.same_number(found[-1], gold_number, strict=True):
            return Grade(True, "last number in text")
    return Grade(False, result.how)


def grade_problem(answer: str | None, problem) -> Grade:
    """A problem's own grading where it has one (questions about tables: grade_data),
    else `grade` against its gold answer."""
    if problem.meta.get("grader") == "data":
        return grade_data(answer, problem)
    return grade(answer, problem.gold)


DATA_TOLERANCE = 1e-3  # relative, when a data question states no rounding


# -- answers to data questions (data_questions.py) -------------------------------------------

_EDGES = "'\"`[](){}<>*.,;: \t\n"


def read_number(answer: str) -> float | None:
    """The number an answer states: the whole answer, else the last number in it
    ("np.float64(3.14)", "12.3%", "1,234", "The slope is 0.52"), read by `answers`."""
    text = answers.unwrap(answer).rstrip("%").strip()
    found = answers.number(text) or next(iter(answers.numbers_in(text)[-1:]), None)
    try:
        return float(found.value) if found is not None else None
    except OverflowError:  # "1e400": no float can be right or wrong about it
        return None


def _normal(text: str) -> str:
    return " ".join(answers.unwrap(text).strip(_EDGES).casefold().split())


def _names(text: str, name: str) -> bool:
    """`name` appears in `text` as a whole phrase (not inside a longer word or code)."""
    return re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-]|\.\d)", text) is not None


def grade_data(answer: str | None, problem) -> Grade:
    """Grade one answer to one data problem (the rules: data_questions.py's docstring)."""
    if answer is None or not str(answer).strip():
        return Grade(False, "no answer")
    meta = problem.meta
    if meta["kind"] == "category":
        return _grade_category(str(answer), problem.gold, meta.get("choices") or [])
    return _grade_number(str(answer), float(meta["exact"]), meta.get("decimals"))


def _grade_number(answer: str, exact: float, decimals: int | None) -> Grade:
    number = read_number(answer)
    if number is None:
        return Grade(False, "no number in the answer")
    if decimals == 0 and exact == int(exact):
        return Grade(number == exact, "whole number")
    if decimals is not None:
        # Half a unit of the requested last decimal, plus a hair for binary floats.
        limit = 0.5 * 10 ** -decimals * (1 + 1e-9) + 1e-12
        return Grade(abs(number - exact) <= limit, f"within half of 1e-{decimals}")
    return Grade(math.isclose(number, exact, rel_tol=DATA_TOLERANCE, abs_tol=1e-12), f"relative {DATA_TOLERANCE:g}")


def _grade_category(answer: str, gold: str, choices: list[str]) -> Grade:
    said, want = _normal(answer), _normal(gold)
    if said == want:
        return Grade(True, "category")
    if not _names(said, want):
        return Grade(False, "category: not named")
    rest = re.sub(rf"(?<![\w-]){re.escape(want)}(?![\w-])", " ", said)
    original = re.sub(rf"(?<![\w-]){re.escape(gold.strip())}(?![\w-])", " ", answer, flags=re.I)
    # A short code ("AS", "IN") names its category only as written: "as" and "in" are words.
    others = [c for c in choices if _normal(c) != want and (
        _names(original, c.strip()) if len(c.strip()) <= 3 else _names(rest, _normal(c)))]
    if others:
        return Grade(False, f"category: also names {others[0]!r}")
    return Grade(True, "category named in the answer")
