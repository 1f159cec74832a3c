"""Whether an answer matches the reference.

Numbers are compared with a small relative tolerance (a program that prints 0.1 + 0.2
is right about 0.3); everything else goes to math-verify, which parses LaTeX and plain
expressions into sympy and compares them symbolically. Programs print Python-style
expressions ("sqrt(3)/2", "x**2 + 1", "pi/2"), so those are also tried as LaTeX.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from dataclasses import dataclass

from ..policy.voting import parse_number

# math-verify logs a warning for every expression it cannot parse; a benchmark makes many.
logging.getLogger("math_verify").setLevel(logging.ERROR)

_GSM8K_GOLD = re.compile(r"####\s*(.+?)\s*$", re.S)
_LAST_NUMBER = re.compile(r"[-+]?\$?\d[\d,]*(?:\.\d+)?")


@dataclass
class Grade:
    correct: bool
    how: str  # which comparison decided, for reading per-problem results


def gsm8k_gold(solution: str) -> str:
    """The final number of a GSM8K reference solution ("... #### 72" -> "72")."""
    match = _GSM8K_GOLD.search(solution)
    return (match.group(1) if match else solution).replace(",", "").strip()


def numbers_equal(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-4, abs_tol=1e-6)


def _last_number(text: str):
    found = _LAST_NUMBER.findall(text)
    return parse_number(found[-1]) if found else None


def _as_latex(expr: str) -> str:
    # Just enough Python-to-LaTeX for what programs print.
    s = expr.replace("**", "^").replace("*", " \\cdot ")
    s = re.sub(r"\bsqrt\(([^()]*)\)", r"\\sqrt{\1}", s)
    s = re.sub(r"(?<!\\)\bpi\b", r"\\pi", s)
    s = re.sub(r"\boo\b", r"\\infty", s)
    return s


def _symbolic_equal(gold: str, answer: str) -> bool:
    from math_verify import parse, verify  # slow import; only needed for non-numeric answers

    # math-verify's timeouts use SIGALRM, which only the main thread may set.
    limit = 5 if threading.current_thread() is threading.main_thread() else None
    golds = parse(f"\\boxed{{{gold}}}", parsing_timeout=limit) or parse(gold, parsing_timeout=limit)
    if not golds:
        return False
    for candidate in (answer, f"\\boxed{{{answer}}}", f"\\boxed{{{_as_latex(answer)}}}"):
        parsed = parse(candidate, parsing_timeout=limit)
        if parsed and verify(golds, parsed, timeout_seconds=limit):
            return True
    return False


def grade(answer: str | None, gold: str) -> Grade:
    """Compare one answer to one reference answer (already extracted, e.g. by `gsm8k_gold`)."""
    if answer is None or not str(answer).strip():
        return Grade(False, "no answer")
    answer = str(answer).strip()
    gold_number = parse_number(gold)
    if gold_number is not None:
        number = parse_number(answer)
        how = "number"
        if number is None:
            number, how = _last_number(answer), "last number in text"
        if number is not None and numbers_equal(float(number), float(gold_number)):
            return Grade(True, how)
    try:
        if _symbolic_equal(gold, answer):
            return Grade(True, "math-verify")
    except Exception as exc:  # a grader bug must not end a benchmark; count it as wrong, say why
        return Grade(False, f"math-verify failed: {type(exc).__name__}")
    return Grade(False, "different")


def grade_problem(answer: str | None, problem) -> Grade:
    """A problem's own grading where it has one (questions about tables: data_questions.grade),
    else `grade` against its gold answer."""
    if problem.meta.get("grader") == "data":
        from .data_questions import grade as grade_data

        return grade_data(answer, problem)
    return grade(answer, problem.gold)
