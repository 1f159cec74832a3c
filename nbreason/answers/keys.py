"""Keys: the canonical form two answers share when they mean the same thing."""

from __future__ import annotations

import re
from fractions import Fraction

from .numbers import _ASSIGNMENT, _LATEX_SPACE, _TEXT, MAX_DIGITS, _rounded, number
from .text import is_value, unwrap

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


