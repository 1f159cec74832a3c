"""Numbers in answers and outputs, and the one tolerance rule for comparing two of them
(see the package docstring)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction

from .text import unwrap

# Significant digits the tolerance rule rounds to: at least, at most (and always, when strict).
MIN_DIGITS, MAX_DIGITS = 4, 6

@dataclass(frozen=True)
class Number:
    """A number as written: its value, and how precisely it was written."""

    value: Fraction
    digits: int | None = None  # significant digits written; None for integers and fractions: exact
    percent: bool = False  # written with a percent sign: "75%" is 75, or 0.75 next to a plain number

    @property
    def integer(self) -> bool:
        return self.digits is None and self.value.denominator == 1

    @property
    def whole(self) -> bool:
        """A whole number written with every digit of it: 18, 18.0, 15234567.0 (not 1.5e7, which rounds)."""
        return self.value.denominator == 1 and (self.digits is None
                                                or self.digits >= len(str(abs(self.value.numerator))))


_NUM = r"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
# Units or words after the number: "dollars", "km/h", "m^2", "°C", "eggs per day".
_UNIT = r"[A-Za-zµ°'][A-Za-zµ°²³/.' ]*?(?:\^\{?\d+\}?)?"
_NUMERIC = re.compile(
    rf"^(?P<sign>[-+])?(?P<a>{_NUM})(?:\s*/\s*(?P<bsign>[-+])?(?P<b>{_NUM}))?"
    rf"(?:\s*(?P<pct>%))?(?P<space>\s*)(?P<unit>{_UNIT})?$")
# A letter glued to a number is algebra, not a unit: 5x, 3i, 2pi.
_NOT_UNITS = frozenset({"pi", "i", "e", "x", "y", "z", "n", "k", "sqrt", "times"})
# A scale word is part of the number: "1.2 million" is 1,200,000, not 1.2
_SCALES = {"thousand": 10**3, "million": 10**6, "billion": 10**9, "trillion": 10**12}
# A printed label before a number: "Total eggs: 18", "Profit ($): 70000".
_LABEL = re.compile(r"^[A-Za-z][\w\s'()$-]*:\s*(?=[-+$€£¥₹\\.\d])")
_ASSIGNMENT = re.compile(r"^[A-Za-z]\w*\s*=\s*(?=[^=<>]*$)")
_TEXT = re.compile(r"\\(?:text|textbf|textit|textrm|mathrm|mathbf|mbox|operatorname)\s*\{([^{}]*)\}")
_LATEX_SPACE = re.compile(r"\\[!,;: ]|~|\\(?:left|right|displaystyle|quad|qquad)(?![A-Za-z])")
_CURRENCY = re.compile(r"^([-+]?)\s*(?:\\?\$|[€£¥₹])\s*")
_LATEX_FRAC = re.compile(rf"\\[dt]?frac\s*\{{\s*([-+]?{_NUM})\s*\}}\s*\{{\s*([-+]?{_NUM})\s*\}}|\\[dt]?frac(\d)(\d)")
# A mixed number: "2\\frac{1}{2}" and "2 1/2" are 2½ (glued, the first read 21/2)
_MIXED = re.compile(r"([-+]?)(\d+)\s*(?:\\[dt]?frac\s*\{\s*(\d+)\s*\}\s*\{\s*(\d+)\s*\}|\\[dt]?frac(\d)(\d)|\s(\d+)\s*/\s*(\d+))")
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
    mixed = _MIXED.fullmatch(s)
    if mixed:
        whole, top, bottom = int(mixed[2]), *(int(n) for n in (mixed[3] or mixed[5] or mixed[7],
                                                               mixed[4] or mixed[6] or mixed[8]))
        if bottom == 0 or top >= bottom:  # "2 7/3" is no mixed number
            return None
        value = whole + Fraction(top, bottom)
        return Number(-value if mixed[1] == "-" else value)
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
    scale = _SCALES.get(re.split(r"\s", unit)[0].lower(), 1) if unit else 1  # "1.2 million", "1.2million"
    try:
        value, digits = _literal(match["sign"], match["a"])
        if match["b"] is not None:
            divisor, divisor_digits = _literal(match["bsign"], match["b"])
            value /= divisor
            digits = min((d for d in (digits, divisor_digits) if d is not None), default=None)
    except (ValueError, ZeroDivisionError):
        return None
    return Number(value * scale, digits, bool(match["pct"]))


def parse_number(answer: str | None) -> Fraction | None:
    """The value of the one number `answer` states: '$1,000.00' -> 1000, '3/4', '\\frac{3}{4}'."""
    found = number(answer)
    return None if found is None else found.value


# In free text: a minus sign counts only where it cannot be subtraction (not after a word or digit).
_FREE_NUMBER = re.compile(
    r"(?<![\w.])(?:(?<![\w)\]])(?P<sign>[-+−]))?"
    r"(?P<a>(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)"
    r"(?:/(?P<b>\d+)(?![\d.]))?(?P<pct>\s*%)?(?:\s*(?P<scale>thousand|million|billion|trillion)\b)?", re.I)


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
        if m["scale"]:
            value *= _SCALES[m["scale"].lower()]
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


def rounded_alike(a: Number, b: Number) -> bool:
    """A looser rule for two programs over one table, which print one value to different precision:
    the same once rounded to the significant digits of the less precisely written one, however
    few (0.58 and 0.5803, 38.8 and 38.81, 5 and 5.004). Two integers still only when equal (2008
    is not 2012), and a percentage never matches a plain number here."""
    if a.whole and b.whole:
        return a.value == b.value
    if a.percent != b.percent:
        return False

    def written(n: Number) -> int:
        if n.digits is not None:
            return n.digits
        return len(str(abs(n.value.numerator))) if n.integer else MAX_DIGITS

    return _agree(a.value, b.value, max(1, min(written(a), written(b), MAX_DIGITS)))


def same_number(a: Number, b: Number, *, strict: bool = False) -> bool:
    """The tolerance rule (module docstring). Whole numbers written out in full compare exactly: a
    sum over a table that dropped a row printed 15234564.0 where the run printed 15234567.0, and the
    six significant digits of the rule made them one."""
    if a.whole and b.whole:
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


