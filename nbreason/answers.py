"""Answers: reading, normalising and comparing them, in one place.

Everything that asks "is this an answer?", "which number does it state?" or "do these two answers
mean the same thing?" asks here: the reward signals, the votes, the recompute check and the bench
grader, so they cannot disagree.

* `unwrap` drops what surrounds an answer: "FINAL ANSWER:" / "The answer is" lead-ins, markdown
  emphasis, `\\boxed{}`, `$…$` and a closing full stop.
* `is_value` is False for non-answers: None, empty text, and what a program prints when it has no
  value (`None`, `nan`, `inf`, `-inf`, `<NA>`, `NaT`, sympy's `zoo`). Non-answers never vote.
* `number` reads an answer that states exactly one number ("$1,000.00", "3/4", "\\frac{3}{4}",
  "75%", "18 dollars", "Total: 18", "x = 5", "1.5 \\times 10^{3}"); `numbers_in` finds the numbers
  in free text such as a program's output.
* `key` is the canonical form two answers share when they mean the same thing, cheap enough for
  votes: numbers by value, LaTeX and Python spellings folded together ("\\frac{\\sqrt{3}}{2}" and
  "sqrt(3)/2", "\\left( 3, \\frac{\\pi}{2} \\right)" and "(3, pi/2)"), sets in sorted order.
* `same` decides: equal keys, else numbers within the tolerance rule, else symbolic equality
  through math-verify (expressions, intervals, equations). `tally` counts votes by key.

The tolerance rule, for every comparison of two numbers:

    Two integers (written without a decimal point or exponent) are compared exactly. Any other
    two numbers are the same when they agree once rounded, half up, to the significant digits of
    the less precisely written one, counting at least 4 and at most 6 (integers and fractions
    are precise: 6 when both are). `strict` (the bench grader) always rounds to 6.

So 1/3 and 0.333333 agree, 0.3 and 0.1 + 0.2 printed in full agree, 18 and 17.999999999999996
agree; 0.3 and 0.31, 18 and 18.4, 1/3 and 0.33 do not. A percentage is also read as its fraction
when the other side has no percent sign: 75% matches 75 and 0.75. Inside sets, tuples and
expressions math-verify compares floats itself, to 6 decimal places.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction
from collections.abc import Iterable

# math-verify logs a warning for every expression it cannot parse; a benchmark makes many.
logging.getLogger("math_verify").setLevel(logging.ERROR)

# Significant digits the tolerance rule rounds to: at least, at most (and always, when strict).
MIN_DIGITS, MAX_DIGITS = 4, 6

# What programs print when they have no value; compared after unwrapping, lower-cased.
_NON_VALUES = frozenset({"", "none", "null", "nan", "+nan", "-nan", "inf", "+inf", "-inf", "<na>", "nat", "zoo"})


# ---------------------------------------------------------------------------------------------
# Unwrapping

# "FINAL ANSWER: 12", "The answer is 12", "**Final Answer:** 12": small models repeat the marker.
_LEAD_IN = re.compile(r"^(?:[\s*_]*(?:the\s+)?(?:final\s+)?answer[\s*_]*(?:is\b|:|=)[\s*_:]*)+", re.I)
_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")
_DELIMITERS = (("$$", "$$"), ("\\[", "\\]"), ("\\(", "\\)"), ("$", "$"))


def _last_boxed(text: str) -> str | None:
    """The content of the last `\\boxed{…}`, braces balanced, or None."""
    starts = [m.end() for m in _BOXED.finditer(text)]
    for start in reversed(starts):
        depth = 1
        for i in range(start, len(text)):
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            if depth == 0:
                return text[start:i]
    return None


def unwrap(answer: str) -> str:
    """The answer without what surrounds it: lead-ins, markdown, `\\boxed{}`, `$…$`, a final stop."""
    text = str(answer)
    while True:
        before = text
        text = _LEAD_IN.sub("", text.strip().strip("*`_ \t")).strip()
        boxed = _last_boxed(text)
        if boxed is not None:
            text = boxed.strip()
        for left, right in _DELIMITERS:
            if len(text) > len(left) + len(right) and text.startswith(left) and text.endswith(right):
                text = text[len(left):-len(right)].strip()
                break
        if text.endswith(".") and not text.endswith(".."):
            text = text[:-1].rstrip()
        if text == before:
            return text


def is_value(answer: object) -> bool:
    """Whether `answer` is an answer at all: not None, not empty, not nan/inf/None printed."""
    if answer is None:
        return False
    return re.sub(r"\s+", "", unwrap(str(answer))).lower() not in _NON_VALUES


# ---------------------------------------------------------------------------------------------
# Numbers


@dataclass(frozen=True)
class Number:
    """A number as written: its value, and how precisely it was written."""

    value: Fraction
    digits: int | None = None  # significant digits written; None for integers and fractions: exact
    percent: bool = False  # written with a percent sign: "75%" is 75, or 0.75 next to a plain number

    @property
    def integer(self) -> bool:
        return self.digits is None and self.value.denominator == 1


_NUM = r"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
# Units or words after the number: "dollars", "km/h", "m^2", "°C", "eggs per day".
_UNIT = r"[A-Za-zµ°'][A-Za-zµ°²³/.' ]*?(?:\^\{?\d+\}?)?"
_NUMERIC = re.compile(
    rf"^(?P<sign>[-+])?(?P<a>{_NUM})(?:\s*/\s*(?P<bsign>[-+])?(?P<b>{_NUM}))?"
    rf"(?:\s*(?P<pct>%))?(?P<space>\s*)(?P<unit>{_UNIT})?$")
# A letter glued to a number is algebra, not a unit: 5x, 3i, 2pi.
_NOT_UNITS = frozenset({"pi", "i", "e", "x", "y", "z", "n", "k", "sqrt", "times"})
# A printed label before a number: "Total eggs: 18", "Profit ($): 70000".
_LABEL = re.compile(r"^[A-Za-z][\w\s'()$-]*:\s*(?=[-+$€£¥₹\\.\d])")
_ASSIGNMENT = re.compile(r"^[A-Za-z]\w*\s*=\s*(?=[^=<>]*$)")
_TEXT = re.compile(r"\\(?:text|textbf|textit|textrm|mathrm|mathbf|mbox|operatorname)\s*\{([^{}]*)\}")
_LATEX_SPACE = re.compile(r"\\[!,;: ]|~|\\(?:left|right|displaystyle|quad|qquad)(?![A-Za-z])")
_CURRENCY = re.compile(r"^([-+]?)\s*(?:\\?\$|[€£¥₹])\s*")
_LATEX_FRAC = re.compile(rf"\\[dt]?frac\s*\{{\s*([-+]?{_NUM})\s*\}}\s*\{{\s*([-+]?{_NUM})\s*\}}|\\[dt]?frac(\d)(\d)")
_SCIENTIFIC = re.compile(r"(?<=\d)\s*(?:\\times|\\cdot|×|\*|x)\s*10\s*(?:\^|\*\*)\s*\{?\s*([-+]?\d+)\s*\}?")
_DEGREES = re.compile(r"\^\s*\{?\s*\\circ\s*\}?|\\degree\b")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")


def _digits(literal: str) -> int | None:
    """Significant digits of a decimal literal; None for an integer literal (exact)."""
    mantissa = re.split(r"[eE]", literal)[0]
    if "." not in mantissa and mantissa == literal:
        return None
    return max(1, len(mantissa.replace(".", "").lstrip("0")))


def _literal(sign: str | None, text: str) -> tuple[Fraction, int | None]:
    value = Fraction(text)
    return (-value if sign == "-" else value), _digits(text)


def number(answer: str | None) -> Number | None:
    """The number `answer` states, if it states exactly one, with how precisely it was written."""
    if answer is None:
        return None
    s = unwrap(str(answer)).replace("−", "-")
    s = _TEXT.sub(lambda m: " " + m.group(1).strip(), s)
    s = _LATEX_SPACE.sub("", s.replace("{,}", ""))
    s = _LABEL.sub("", s)
    s = _ASSIGNMENT.sub("", s)
    s = _CURRENCY.sub(r"\1", s.replace("\\$", "$")).strip()
    s = _LATEX_FRAC.sub(lambda m: f"{m.group(1) or m.group(3)}/{m.group(2) or m.group(4)}", s)
    s = _SCIENTIFIC.sub(r"e\1", s)
    s = _DEGREES.sub("°", s).replace("\\%", "%")
    s = _THOUSANDS.sub("", s)
    match = _NUMERIC.match(s)
    if not match:
        return None
    unit = (match["unit"] or "").strip()
    if unit and (unit.split()[0].lower() in _NOT_UNITS or (not match["space"] and len(unit) == 1 and unit.isalpha())):
        return None
    try:
        value, digits = _literal(match["sign"], match["a"])
        if match["b"] is not None:
            divisor, divisor_digits = _literal(match["bsign"], match["b"])
            value /= divisor
            digits = min((d for d in (digits, divisor_digits) if d is not None), default=None)
    except (ValueError, ZeroDivisionError):
        return None
    return Number(value, digits, bool(match["pct"]))


def parse_number(answer: str | None) -> Fraction | None:
    """The value of the one number `answer` states: '$1,000.00' -> 1000, '3/4', '\\frac{3}{4}'."""
    found = number(answer)
    return None if found is None else found.value


# In free text: a minus sign counts only where it cannot be subtraction (not after a word or digit).
_FREE_NUMBER = re.compile(
    r"(?<![\w.])(?:(?<![\w)\]])(?P<sign>[-+−]))?"
    r"(?P<a>(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)"
    r"(?:/(?P<b>\d+)(?![\d.]))?(?P<pct>\s*%)?")


def numbers_in(text: str | None) -> list[Number]:
    """Every number written in free text, such as a program's output, in order."""
    found = []
    for m in _FREE_NUMBER.finditer(text or ""):
        sign = "-" if m["sign"] in ("-", "−") else None
        value, digits = _literal(sign, m["a"].replace(",", ""))
        if m["b"] is not None:
            if int(m["b"]) == 0:
                continue
            value /= int(m["b"])
        found.append(Number(value, digits, bool(m["pct"])))
    return found


def _rounded(value: Fraction, digits: int) -> Decimal:
    """`value` rounded half-up to `digits` significant digits, exactly."""
    if value == 0:
        return Decimal(0)
    with localcontext() as ctx:
        ctx.prec = max(60, len(str(abs(value.numerator))) + 10)
        exact = Decimal(value.numerator) / Decimal(value.denominator)
        return exact.quantize(Decimal(1).scaleb(exact.adjusted() - digits + 1), rounding=ROUND_HALF_UP)


def _agree(a: Fraction, b: Fraction, digits: int | None) -> bool:
    return a == b if digits is None else _rounded(a, digits) == _rounded(b, digits)


def same_number(a: Number, b: Number, *, strict: bool = False) -> bool:
    """The tolerance rule (module docstring)."""
    if a.integer and b.integer:
        digits = None
    elif strict:
        digits = MAX_DIGITS
    else:
        written = min((d for d in (a.digits, b.digits) if d is not None), default=MAX_DIGITS)
        digits = max(MIN_DIGITS, min(MAX_DIGITS, written))
    if _agree(a.value, b.value, digits):
        return True
    if a.percent != b.percent:  # "75%" next to "0.75": the percentage read as its fraction
        pct, plain = (a, b) if a.percent else (b, a)
        return same_number(Number(pct.value / 100, pct.digits), plain, strict=strict)
    return False


# ---------------------------------------------------------------------------------------------
# Keys


def number_key(value: Fraction) -> str:
    """How a number is written in a key: integers exactly, others to 6 significant digits."""
    if value.denominator == 1:
        return str(value.numerator)
    rounded = _rounded(value, MAX_DIGITS).normalize()
    if rounded == rounded.to_integral_value():
        return str(int(rounded))
    return format(rounded, "f")


_FOLDS = [  # applied until nothing changes: innermost braces first
    (re.compile(r"\\sqrt\s*\{([^{}]*)\}"), r"sqrt(\1)"),
    (re.compile(r"\\frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}"), r"(\1)/(\2)"),
    (re.compile(r"\^\s*\{([^{}]*)\}"), r"**(\1)"),
]
_DFRAC = re.compile(r"\\[dt]frac(?![A-Za-z])")
_SYMBOLS = [
    (re.compile(r"\\frac\s*(\w)\s*(\w)"), r"(\1)/(\2)"),
    (re.compile(r"\\sqrt\s*(\d+|[A-Za-z])"), r"sqrt(\1)"),
    (re.compile(r"\\pi(?![A-Za-z])|π"), "pi"),
    (re.compile(r"\\infty(?![A-Za-z])|∞"), "oo"),
    (re.compile(r"\\(?:cdot|times)(?![A-Za-z])|×"), "*"),
    (re.compile(r"\\([{}%$])"), r"\1"),
    (re.compile(r"\^"), "**"),
    (re.compile(r"−"), "-"),
]
# Parentheses around one atom or one call say nothing: (2) -> 2, (sqrt(3))/(2) -> sqrt(3)/2.
_REDUNDANT_PARENS = re.compile(r"(?<![\w)\]])\((\w*\([^()]*\)|[\w.]+)\)")
_BRACKETS = {"(": ")]", "[": ")]", "{": "}"}


def _fold(text: str) -> str:
    """LaTeX and Python spellings of one expression folded together, without spaces or case."""
    s = _TEXT.sub(lambda m: m.group(1), text)
    s = _LATEX_SPACE.sub("", s)
    s = _DFRAC.sub(r"\\frac", s)
    while True:
        before = s
        for pattern, repl in _FOLDS:
            s = pattern.sub(repl, s)
        if s == before:
            break
    for pattern, repl in _SYMBOLS:
        s = pattern.sub(repl, s)
    s = re.sub(r"\s+", "", s).lower()
    s = re.sub(r"(?<=\d)\*(?=[a-z(])", "", s)  # 2*sqrt(3) is written 2\sqrt{3}
    while True:
        before, s = s, _REDUNDANT_PARENS.sub(r"\1", s)
        if s == before:
            break
    s = _ASSIGNMENT.sub("", s)
    return s.rstrip(".")


def _split_top_level(text: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    return parts + [text[start:]]


def _enclosed(text: str) -> bool:
    """Whether the first bracket of `text` closes at its last character: "(1,2]" yes, "(1)+(2)" no."""
    if len(text) < 2 or text[0] not in _BRACKETS or text[-1] not in _BRACKETS[text[0]]:
        return False
    depth = 0
    for i, ch in enumerate(text):
        depth += 1 if ch in "([{" else -1 if ch in ")]}" else 0
        if depth == 0 and i < len(text) - 1:
            return False
    return True


def _element_key(text: str) -> str:
    found = number(text)
    return number_key(found.value) if found is not None else text


def key(answer: str | None) -> str | None:
    """The form two answers share when they mean the same thing; None for a non-answer."""
    if not is_value(answer):
        return None
    found = number(answer)
    if found is not None:
        return number_key(found.value)
    text = _fold(unwrap(str(answer)))
    # Tuples, intervals and sets element by element: (0.5, 1) is (\frac{1}{2}, 1); {2, 1} is {1, 2}.
    inner, left, right = text, "", ""
    if _enclosed(text):
        inner, left, right = text[1:-1], text[0], text[-1]
    parts = _split_top_level(inner)
    if len(parts) < 2 and not left:
        return text
    elements = [_element_key(p) for p in parts]
    if left == "{":
        elements.sort()
    return left + ",".join(elements) + right


# ---------------------------------------------------------------------------------------------
# Sameness


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


# ---------------------------------------------------------------------------------------------
# Tallying


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
