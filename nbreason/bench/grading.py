"""Whether an answer matches the reference.

The comparison is `answers.compare` in its strict form: numbers to 6 significant digits (a
program that prints 0.1 + 0.2 is right about 0.3; 0.3333 is not 1/3), spellings folded by
`answers.key`, everything else symbolic through math-verify (LaTeX, Python-style expressions,
sets, intervals). The one thing the grader adds is reading a sentence's last number when the
reference is a number ("After 3 weeks she has 42 left").
"""

from __future__ import annotations

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
    """A problem's own grading where it has one (questions about tables: data_questions.grade),
    else `grade` against its gold answer."""
    if problem.meta.get("grader") == "data":
        from .data_questions import grade as grade_data

        return grade_data(answer, problem)
    return grade(answer, problem.gold)
