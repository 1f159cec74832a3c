"""Unwrapping an answer from what surrounds it, and telling values from non-answers."""

from __future__ import annotations

import re

# What programs print when they have no value; compared after unwrapping, lower-cased.
_NON_VALUES = frozenset({"", "none", "null", "nan", "+nan", "-nan", "inf", "+inf", "-inf", "<na>", "nat", "zoo"})
# How a program prints a non-value as if it were one: "nan%", "$nan", "nan days", "[nan]", "nan, nan",
# "array([nan])" (f"{x:.1%}" of a nan is "nan%"): its words without currency, brackets and one unit
_DRESS = re.compile(r"[$€£%(){}\[\],;]|\b(?:np\.)?array\b")
_PRINTED_NAN = frozenset({"nan", "NaN", "NAN", "-nan", "+nan", "inf", "-inf", "+inf", "Inf", "-Inf"})  # as printed
_UNIT = re.compile(r"[a-z]{1,12}|[a-zA-Z]{1,3}/[a-z]{1,3}")  # "days", "kg", "km/h": a unit, not a name
# Python's default repr of an object ("<object object at 0x7f…>", "<function f at 0x7f…>"): an
# address, never a value a question asks for
_ADDRESS_REPR = re.compile(r"^<[^<>]{1,200} at 0x[0-9a-fA-F]+>$")

# "FINAL ANSWER: 12", "The answer is 12", "**Final Answer:** 12": small models repeat the marker.
_LEAD_IN = re.compile(r"^(?:[\s*_]*(?:the\s+)?(?:final\s+)?answer[\s*_]*(?:is\b|:|=)[\s*_:]*)+", re.I)
# "Mean petal length of versicolor flowers: 4.26": a sentence-like label before the value, taken
# off once. Only words after the first that start in lower case: a capitalised word, a number or a
# numeral is likely part of the answer ("New York: 52", "Series IV: 12.5", "Year 2008: 3.3").
_LABEL = re.compile(r"^[A-Za-z][a-z'’]*(?:[ \t]+['\"‘’(]?[a-z][\w'’\")%/,-]*)+[ \t]*:[ \t]+(?=\S)")
# The last line pandas prints under a Series, a DataFrame or a Categorical: what was printed, not a value
_PANDAS_FOOTER = re.compile(r"^(?:Freq: \S+, )?(?:Name: .*?, )?(?:Length: \d+, )?dtype: .+$|"
                            r"^\[\d+ rows x \d+ columns\]$|^Categories \(\d+, [\w\[\]]+\): ")
_LONGEST = 10_000  # an answer longer than this is no single value: shown as it is, never parsed
_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")
# numpy 2 prints scalars as their repr: np.float64(3.25), np.str_('Trebi'), alone or inside a printed
# tuple or list: (np.str_('Trebi'), np.int64(3)) is ('Trebi', 3)
_SCALAR = r"\b(?:np|numpy)\.(?:u?int\d*|float\d*|bool_?|str_|complex\d*)\(('[^']*'|\"[^\"]*\"|[^()'\"]*)\)"
_SCALAR_REPR = re.compile(f"^{_SCALAR}$", re.S)
_INNER_SCALAR = re.compile(_SCALAR)
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
    """The answer without what surrounds it: lead-ins, markdown, `\\boxed{}`, `$…$`, a numpy
    scalar's repr, a final stop."""
    text = str(answer)
    if len(text) > _LONGEST:
        return text.strip()
    labelled = False
    while True:
        before = text
        text = _LEAD_IN.sub("", text.strip().strip("*`_ \t")).strip()
        if not labelled and not _PANDAS_FOOTER.match(text):
            text, labelled = _LABEL.sub("", text, count=1), bool(_LABEL.match(text))
        boxed = _last_boxed(text)
        if boxed is not None:
            text = boxed.strip()
        for left, right in _DELIMITERS:
            if len(text) > len(left) + len(right) and text.startswith(left) and text.endswith(right):
                text = text[len(left):-len(right)].strip()
                break
        scalar = _SCALAR_REPR.match(text)
        if scalar:
            text = scalar.group(1).strip().strip("'\"")
        else:
            text = _INNER_SCALAR.sub(lambda m: m.group(1).strip(), text)
        if text.endswith(".") and not text.endswith(".."):
            text = text[:-1].rstrip()
        if text == before:
            return text


def is_value(answer: object) -> bool:
    """Whether `answer` is an answer at all: not None, not empty, not nan/inf/None printed, not the
    footer pandas prints under a Series ("Name: target, Length: 442, dtype: float64")."""
    if answer is None:
        return False
    text = unwrap(str(answer))
    if _PANDAS_FOOTER.match((text.splitlines() or [""])[-1]):
        return False
    return re.sub(r"\s+", "", text).lower() not in _NON_VALUES and not _ADDRESS_REPR.match(text) \
        and not _dressed_non_value(text)


def _dressed_non_value(text: str) -> bool:
    """A non-value with currency, a percent sign or brackets around it ("nan%", "[None]", "nan, nan"),
    or a nan or an infinity with a unit ("nan days", "inf km"; not "None needed", "null hypothesis",
    "Nan Goldin": words, and names)."""
    if len(text) > 200 or any(ch.isdigit() for ch in text):
        return False
    bare = _DRESS.sub(" ", text).split()
    if len(bare) == 2 and bare[0] in _PRINTED_NAN and _UNIT.fullmatch(bare[1]):
        return True
    return bool(bare) and all(word.lower() in _NON_VALUES for word in bare)


