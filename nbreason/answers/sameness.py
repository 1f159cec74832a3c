"""Sameness: equal keys, numbers within the tolerance rule, else symbolic equality (math-verify)."""

from __future__ import annotations

import functools
import logging
import re
import threading
from dataclasses import dataclass
from fractions import Fraction

from .keys import key
from .numbers import Number, number, same_number
from .text import is_value, unwrap

# math-verify logs a warning for every expression it cannot parse; a benchmark makes many.
logging.getLogger("math_verify").setLevel(logging.ERROR)

@dataclass(frozen=True)
class Comparison:
    same: bool
    how: str  # what decided: "number", "same key", "math-verify", "different", "no answer", ...

    def __bool__(self) -> bool:
        return self.same


def same(a: str | None, b: str | None, *, strict: bool = False) -> bool:
    """Whether `a` and `b` mean the same answer (`b` is the reference, if there is one)."""
    return compare(a, b, strict=strict).same


def compare(a: str | None, b: str | None, *, strict: bool = False) -> Comparison:
    """`same`, saying what decided. `strict` is for grading against a reference: numbers always
    to 6 significant digits, and math-verify's strict mode (variables matter, a set is no tuple)."""
    if not is_value(a) or not is_value(b):
        return Comparison(False, "no answer")
    a, b = unwrap(str(a)), unwrap(str(b))
    number_a, number_b = number(a), number(b)
    if number_a is not None and number_b is not None:
        agree = same_number(number_a, number_b, strict=strict)
        return Comparison(agree, "number" if agree else "different")
    if key(a) == key(b):
        return Comparison(True, "same key")
    return _symbolic(a, b, number_a, number_b, strict)


@functools.cache
def _math_verify():
    # Imported on the first symbolic comparison: it brings sympy (most of a second), which votes
    # and rewards never need. A missing install raises ImportError here; it never grades "wrong".
    import math_verify

    return math_verify


def _as_latex(expr: str) -> str:
    # Just enough Python-to-LaTeX for what programs print: sqrt(3)/2, x**2 + 1, pi/2, oo.
    s = expr.replace("**", "^").replace("*", " \\cdot ")
    s = re.sub(r"\bsqrt\(([^()]*)\)", r"\\sqrt{\1}", s)
    s = re.sub(r"(?<!\\)\bpi\b", r"\\pi", s)
    return re.sub(r"\boo\b", r"\\infty", s)


def _closed_form_value(parsed: list) -> Fraction | None:
    """The real value of the first parsed expression with no variables in it, to 30 digits."""
    import sympy

    for expr in parsed:
        if isinstance(expr, sympy.Basic) and expr.is_number:
            value = sympy.N(expr, 30)
            if value.is_real and value.is_finite:
                return Fraction(str(value))
            return None
    return None


def _symbolic(a: str, b: str, number_a: Number | None, number_b: Number | None, strict: bool) -> Comparison:
    mv = _math_verify()
    # math-verify's timeouts use SIGALRM, which only the main thread may set.
    limit = 5 if threading.current_thread() is threading.main_thread() else None
    try:
        golds = mv.parse(f"\\boxed{{{b}}}", parsing_timeout=limit) or mv.parse(b, parsing_timeout=limit)
        if not golds:
            return Comparison(False, "different")
        # The whole answer as one expression, never a number picked out of a sentence.
        candidates = [mv.parse(c, parsing_timeout=limit) for c in (f"\\boxed{{{a}}}", f"\\boxed{{{_as_latex(a)}}}")]
        known = number_a or number_b
        if known is not None:
            # A number against a closed form (0.866025 and \frac{\sqrt{3}}{2}): the one tolerance rule.
            value = _closed_form_value(golds if number_a is not None else [e for c in candidates for e in c])
            if value is not None:
                agree = same_number(known, Number(value), strict=strict)
                return Comparison(agree, "number" if agree else "different")
        for parsed in candidates:
            if parsed and mv.verify(golds, parsed, strict=strict, timeout_seconds=limit):
                return Comparison(True, "math-verify")
    except Exception as exc:  # a parser bug on one odd answer must not end a run or a benchmark
        return Comparison(False, f"math-verify failed: {type(exc).__name__}")
    return Comparison(False, "different")


