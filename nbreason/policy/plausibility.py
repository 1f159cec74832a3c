"""Plausibility: what the question itself says a right answer must look like. No model involved.

Each rule that applies to the question gives one signal with its reason, shown under the step:

  value        None, nan, inf and empty answers are no answer at all (never accepted)
  single       "how many / how much …" asks for one quantity, not a line of several numbers
  probability  a probability asked lies in [0, 1] (or 0 % to 100 %); exactly 0 or 1 is suspicious
  count        "how many …" is a non-negative whole number ("how many dollars / miles / cups", or
               a decimal asked: a non-negative number)
  decimals     "to N decimal places" / "rounded to N decimals" gives N decimals
  money        an amount of money is not negative (a correlation, a slope, a growth, a return or a
               change may be; a profit may not, unless a loss is spoken of)
  magnitude    "how far / long / old / tall / fast / wide / heavy …", "how much more / longer / farther …",
               "the largest fall / drop / decline" and "answer with a positive …" ask for a distance, a
               duration, an age or a size, or by how much one exceeds another: not negative
  truth        True or False (a comparison's printed result) where the question asks no yes-or-no question
  copied       the answer is a number the question already states (often a misread question)
  percent      a percentage asked ("by what percentage", "as a percent") answered with a fraction below 1
               (0.05 for 5 %); suspicious
  overflow     an exact answer (a count, a remainder) printed as a float in scientific notation (a veto
               where the question asks for exactness: "exact", "remainder", "digits", a big power)
  rows         the code's output shows a selection of zero rows ("Empty DataFrame"), or the answer is one ("[]")
  form         the form the question asks for: a year ("in which year", "answer with the year") is a
               whole number 1000–2999; "as YYYY-MM" is that pattern; "answer with … (I, II, III or IV)"
               is one of the listed; "answer with … (1–12)" lies in that range; "answer with … two-letter code"
               is two letters; "answer with the … name" is not a bare number (unless it speaks of a
               column, an index or a number). A table question answered with the measured value or
               a row label instead of the row it names ("which year was the price highest?" → 52,
               idxmax's index label) is the case this catches.

They carry weight 0 in the reward: a rule at 0 (an answer that cannot be right: no value, a
probability above 1, a negative count, amount or distance, True where a number is asked) vetoes the answer, which is sent back and never
accepted; a suspicion (between 0 and 1) lowers the answer's confidence (policy/confidence.py).
"""

from __future__ import annotations

import re
from fractions import Fraction

from ..answers import is_value, number, numbers_in, unwrap
from ..events import Signal
from .clamping import RULES as CLAMP_RULES
from .data_use import RULES as DATA_RULES
from .methods import asks_probability, question_kind

# with the rules on what a program does with the passed tables (policy/data_use.py) and with its
# own result (policy/clamping.py)
RULES = ("value", "single", "probability", "count", "decimals", "money", "magnitude", "truth", "overflow", "copied",
         "rows", "form", "percent",
         *DATA_RULES, *CLAMP_RULES)

_HOW_MANY = re.compile(r"\bhow many\b", re.I)
_ONE_QUANTITY = re.compile(r"\bhow (?:many|much|far|long|old|tall|fast)\b", re.I)
_DECIMALS = re.compile(r"\b(?:to|rounded to|round(?:ed)? it to|with)\s+(\w+)\s+decimal(?:\s+places?|s)?\b", re.I)
_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8}
_MONEY = re.compile(r"(€|£|\bdollars?\b|\bcents?\b|\beuros?\b|\bcost\w*\b|\bprice\w*\b|\bpa(?:y|id)\b|\bearn\w*\b|"
                    r"\bspen[dt]\b|\bprofit\b|\bsav(?:e|ed|ings)\b)", re.I)
# "$2 each", but not LaTeX's "$1-2+3-\dots-100$" (MATH-500: its right -50 was vetoed as money)
_DOLLAR = re.compile(r"\$\s?\d")
_LATEX_COMMAND = re.compile(r"\\[A-Za-z]+")
_MATH_SPAN = re.compile(r"\$([^$]*)\$")
_OPERATOR = re.compile(r"[=+\-*/^_{}]")
_WORDS_IN_A_ROW = re.compile(r"[A-Za-z]{2,}\s+[A-Za-z]{2,}")  # prose between two prices, not mathematics
# A signed quantity about money is no amount: a correlation, a slope, a growth or a return asked for may be
# negative.
# A profit stays an amount: every negative profit on GSM8K (0-59 and 60-159: 4) was a sign slip.
_SIGNED = re.compile(r"\b(?:correlat\w*|slope|elasticit\w*|covarian\w*|coefficient|regression|grow\w*|"
                     r"return on|rate of (?:change|return|growth)|growth rate|per ?cent(?:age)? (?:change|increase|"
                     r"decrease|difference)|changed|change (?:in|from|over|between)|trend)\b", re.I)
_IN_PERCENT = re.compile(r"\bper ?cent(?:age)?\b|%", re.I)
# "by what percentage", "what percent", "as a percentage": 0.05 there is most likely 5 % left as a fraction
_PERCENT_ASKED = re.compile(r"\b(?:what|which|how many) (?:per ?cent(?:age)?|%)|\bas an? per ?cent(?:age)?\b|"
                            r"\bin per ?cent\b|\bper ?cent(?:age)? (?:of|did|does|is|was|were|are)\b", re.I)
# "how many dollars / cups / miles" asks for a measure, which may be a fraction; so does a question that
# asks for a decimal ("How many miles … Express your answer as a decimal": MATH-500's right 1.25 was vetoed)
_MEASURE = re.compile(r"\bhow many (?:more |fewer |less |total |additional |extra )?(?:\w+ )?"
                      r"(?:dollars?|cents?|euros?|pounds?|yen|hours?|minutes?|seconds?|days?|weeks?|months?|years?|"
                      r"miles?|kilomet\w+|km|met(?:er|re)s?|feet|foot|inch(?:es)?|yards?|cups?|lit(?:er|re)s?|"
                      r"gallons?|ounces?|grams?|kilograms?|kg|lbs?|tons?|servings?|percent|degrees?)\b|"
                      r"\bas an? (?:decimal|fraction|mixed number)\b|\bdecimal places?\b|\bnearest (?:tenth|hundredth|thousandth)\b",
                      re.I)
# a size, or by how much one thing exceeds another: "how far outside the reach" is 200 feet, not -200
# "the largest fall" is a size too (on the data tune half a drawdown in jobs came back -2501), and so is
# whatever the question says to answer with as positive
_MAGNITUDE = re.compile(r"\bhow (?:far|long|old|tall|fast|wide|heavy)\b|\bhow much (?:more|longer|farther|further|"
                        r"taller|older|faster|heavier|bigger|larger|higher)\b|"
                        r"\b(?:largest|biggest|greatest|steepest|maximum) (?:fall|drop|decline|decrease)\b|"
                        r"\banswer with a positive\b", re.I)
_LOSS = re.compile(r"\b(loss|lose|lost|owe\w*|debt|change in|difference|net)\b", re.I)
# A yes-or-no question: a sentence opened by an auxiliary verb and closed by "?", or one that names
# the answers; "whether" asks one too. Anything else asks for a value that True or False is not.
_YES_NO = re.compile(r"(?:^|[.?!:]\s+|\n)(?:is|are|was|were|does|do|did|has|have|had|can|could|will|would|should)\b"
                     r"[^.?!]*\?|\byes\b|\btrue\b|\bfalse\b|\bwhether\b|\bboolean\b|"
                     r"\b(?:determine|check|decide|tell|verify|test|find out|say) if\b", re.I)
_TRUTH = re.compile(r"(?:np\.)?(?:True|False)", re.I)  # unwrap() has taken np.bool_(…) and np.True_ apart
_SCIENTIFIC = re.compile(r"\d[eE][+-]?\d+")
_APPROXIMATE = re.compile(r"\bscientific notation\b|\bapproximat\w*|\bestimate\b|\bround(?:ed)? to\b", re.I)
_EXACTLY_ASKED = re.compile(r"\bexact (?:value|answer|integer|number)\b|\bremainder\b|\blast (?:two |three )?digits?\b|"
                            r"\bmod(?:ulo)?\b|\bcommon fraction\b", re.I)
_EMPTY = re.compile(r"Empty DataFrame|Empty Series|\b0 rows\b|Series\(\[\], ", re.I)
# an answer that is itself an empty selection: "[]", "Series([], Name: price, dtype: float64)", "Index([], …)"
_EMPTY_ANSWER = re.compile(r"\s*(?:\[\s*\]|\{\s*\}|\(\s*\)|set\(\)|(?:np\.)?array\(\[\s*\].*|(?:Series|Index)\(\[\s*\].*|"
                           r"Empty (?:DataFrame|Series)\b.*)\s*", re.S)
# "which year", not "which year of the trial", "what year-over-year growth", "the year's total"
_YEAR = re.compile(r"\b(?:(?:in )?(?:which|what) year|answer with the year)\b(?![-'’]| of\b)", re.I)
_PATTERNS = {"YYYY-MM-DD": re.compile(r"^\d{4}-\d{2}-\d{2}$"), "YYYY-MM": re.compile(r"^\d{4}-\d{2}$")}
_AS_PATTERN = re.compile(r"\bas (YYYY-MM-DD|YYYY-MM)\b")
_ANSWER_WITH = r"\b(?:answer|reply|respond) with\b[^.()]{0,200}"
_CHOICES = re.compile(_ANSWER_WITH + r"\(([^()]*?\bor\b[^()]*)\)", re.I)
_RANGE = re.compile(_ANSWER_WITH + r"\((-?\d+)\s*(?:–|-|to)\s*(-?\d+)\)", re.I)
_LETTERS = re.compile(_ANSWER_WITH + r"\b(two|three)-letter\b", re.I)
_NAME = re.compile(_ANSWER_WITH + r"\bname\b", re.I)
_NOT_A_NAME = re.compile(r"\b(?:numbers?|numeric|count|columns?|index|id|code)\b", re.I)
# What a whole number where a year or a name is asked usually is: told with the veto, so the
# revision knows what to change (the same code came back otherwise)
_ROW_LABEL = ("; a whole number here is often a row's index label (what idxmax()/idxmin() return), "
              "not that row's value: read the column asked for at that row")
_EXAMPLES = re.compile(r"^\s*(?:e\.g\.|for example\b|such as\b|like\b)", re.I)


def _latex(question: str) -> bool:
    """Whether the question is written in LaTeX: a command, or a $…$ span of mathematics (operators,
    no prose; "$12 T-shirts and $5" is two prices)."""
    return bool(_LATEX_COMMAND.search(question)) or any(
        _OPERATOR.search(span) and not _WORDS_IN_A_ROW.search(span) for span in _MATH_SPAN.findall(question))


def _asked(question: str) -> str:
    """The question's last sentence, what it asks for ("prices rose 50 %" earlier is no growth asked)."""
    sentences = re.split(r"(?<=[.!?])\s+", question.strip())
    return next((s for s in reversed(sentences) if s.rstrip().endswith("?")), sentences[-1])


def _note(name: str, value: float, reason: str) -> Signal:
    return Signal(name, value, reason, 0.0)  # shown, but outside the reward's mean (see the module docstring)


def _decimals(question: str) -> int | None:
    match = _DECIMALS.search(question)
    if not match:
        return None
    word = match.group(1).lower()
    return int(word) if word.isdigit() else _WORDS.get(word)


# What a nan usually comes from in table work (on the tune half: a correlation of two yearly series,
# one keyed by dates and one by whole years, shared no label).
NAN_CAUSES = ("nan usually means the computation had no rows to work on: a filter that keeps nothing, or two series "
              "whose index labels do not match (a year as a date in one and as a number in the other), so print "
              "the sizes and the labels before combining them")


def plausibility(answer: str | None, question: str, outputs: list[str] | None = None) -> list[Signal]:
    """The signals of every rule that applies to this question and answer (see the module docstring)."""
    if not is_value(answer):
        shown = "no answer" if answer is None or not str(answer).strip() else repr(str(answer).strip()[:20])
        why = f"{shown} is not a value: never accepted as an answer"
        if shown.strip("'").casefold() == "nan":
            why += f"; {NAN_CAUSES}"
        return [Signal("value", 0.0, why, 0.0)]
    signals = [Signal("value", 1.0, "a value", 0.0)]
    text = str(answer).strip()
    stated = number(text)
    value = stated.value if stated else None
    kind = question_kind(question)
    if kind == "probability" and asks_probability(question) and value is not None:
        in_percent = stated.percent or (value > 1 and _IN_PERCENT.search(_asked(question)))  # "in percent": 40
        share = value / 100 if in_percent else value
        if not 0 <= share <= 1:
            signals.append(_note("probability", 0.0, f"a probability, but {text} is outside [0, 1]"))
        elif share in (0, 1):
            signals.append(_note("probability", 0.5, f"a probability of exactly {text} is rare: "
                                                      "often a rounding or integer-division slip"))
        else:
            signals.append(_note("probability", 1.0, f"a probability in [0, 1]: {text}"))
    if _ONE_QUANTITY.search(question) and value is None and len(numbers_in(text)) > 1:
        signals.append(_note("single", 0.3, f"the question asks for one quantity; {text[:40]!r} states "
                                            f"{len(numbers_in(text))} numbers"))
    if _HOW_MANY.search(question) and value is not None and not (value >= 0 and _MEASURE.search(question)):
        if value < 0 or value.denominator != 1:
            signals.append(_note("count", 0.0, f"\"how many\" asks for a whole number ≥ 0, not {text}"))
        else:
            signals.append(_note("count", 1.0, f"a whole number ≥ 0: {text}"))
    if value is not None and not stated.percent and 0 < abs(value) < 1 and kind != "probability" \
            and _PERCENT_ASKED.search(_asked(question)):
        signals.append(_note("percent", 0.5, f"a percentage is asked; {text} looks like a fraction "
                                             f"({float(value) * 100:g} %)"))
    places = _decimals(question)
    if places is not None and value is not None:
        shown = text.split(".", 1)[1] if "." in text else ""
        digits = len(re.match(r"\d*", shown).group(0))
        ok = digits == places
        signals.append(_note("decimals", 1.0 if ok else 0.3,
                              f"{places} decimal places asked, {digits} given" + ("" if ok else f" ({text})")))
    money = _MONEY.search(question) or (_DOLLAR.search(question) and not _latex(question))
    if money and value is not None and value < 0 and not _LOSS.search(question) and not _SIGNED.search(_asked(question)):
        signals.append(_note("money", 0.0, f"an amount of money, but {text} is negative"))
    if value is not None and value < 0 and (magnitude := _MAGNITUDE.search(question)):
        asked = magnitude.group(0).lower()
        signals.append(_note("magnitude", 0.0, f"\"{asked}\" asks for a size or a difference ≥ 0, not {text}: "
                                                 "subtract the smaller from the larger"))
    if _TRUTH.fullmatch(unwrap(text).strip("'\"`")) and not _YES_NO.search(question):
        signals.append(_note("truth", 0.0, f"{text} is a comparison's result, but the question asks for a value, "
                                            "not yes or no: print the value itself"))
    if value is not None and kind != "word" and _SCIENTIFIC.search(text) and abs(value) >= 10**15 \
            and not _APPROXIMATE.search(question):
        # a veto where the question asks for exactness ("exact value of 3^50": the float agreed with the
        # exact route's digits within the tolerance rule, and was verified)
        exact = bool(_EXACTLY_ASKED.search(question))
        signals.append(_note("overflow", 0.0 if exact else 0.3,
                             f"{text} is a float in scientific notation where an exact value is asked: digits "
                             "are lost" + ("; compute with integers or fractions" if exact else "")))
    given = {n.value for n in numbers_in(question)}
    if value is not None and value in given and len(given) > 1 and value not in (Fraction(0), Fraction(1)):
        signals.append(_note("copied", 0.5, f"{text} is a number the question already states"))
    if outputs and any(_EMPTY.search(out or "") for out in outputs[-1:]):
        signals.append(_note("rows", 0.3, "the code's output shows a selection of zero rows"))
    elif _EMPTY_ANSWER.fullmatch(text):
        signals.append(_note("rows", 0.3, f"{text[:40]!r} is an empty selection"))
    form = _form(text, value, question)
    if form is not None:
        signals.append(form)
    return signals


def _form(text: str, value: Fraction | None, question: str) -> Signal | None:
    """The form the question asks the answer in (see the module docstring), or None if it names none."""
    given = unwrap(text).strip("'\"`")
    shown = repr(given[:30])
    row_label = _ROW_LABEL if value is not None and value.denominator == 1 else ""  # said if a year or name is vetoed
    pattern = _AS_PATTERN.search(question)
    if pattern:
        ok = bool(_PATTERNS[pattern.group(1)].match(given))
        return _form_note(ok, f"the question asks for {pattern.group(1)}", shown)
    choices = _CHOICES.search(question)
    if choices and not _EXAMPLES.match(choices.group(1)):  # "(e.g. Trebi or Manchuria)" lists no choices
        listed = [c.strip().strip("'\"`") for c in re.split(r",|/|\bor\b", choices.group(1), flags=re.I) if c.strip()]
        ok = given.lower() in {c.lower() for c in listed}
        return _form_note(ok, f"the question asks for one of {', '.join(listed)}", shown)
    bounds = _RANGE.search(question)
    if bounds and value is not None:
        low, high = int(bounds.group(1)), int(bounds.group(2))
        return _form_note(low <= value <= high, f"the question asks for a value from {low} to {high}", shown)
    if _YEAR.search(question):
        ok = value is not None and value.denominator == 1 and 1000 <= value <= 2999
        ok = ok or bool(re.fullmatch(r"\D*\b[12]\d{3}\b\D*", given))  # "Year 2008", "in 1855"
        return _form_note(ok, "the question asks for a year (a whole number like 2005)", shown, row_label)
    letters = _LETTERS.search(question)
    if letters and not _HOW_MANY.search(question):
        n = _WORDS[letters.group(1).lower()]
        ok = bool(re.fullmatch(rf"[A-Za-z]{{{n}}}", given))
        return _form_note(ok, f"the question asks for a {letters.group(1)}-letter code", shown)
    name = _NAME.search(question)
    # "the number, not the name", a column's or an index's name (columns can be years): no name form
    if name and not _NOT_A_NAME.search(name.group(0)) and not _HOW_MANY.search(question):
        ok = value is None
        return _form_note(ok, "the question asks for a name, not a number", shown, row_label)
    return None


def _form_note(ok: bool, asked: str, shown: str, hint: str = "") -> Signal:
    return _note("form", 1.0 if ok else 0.0, f"{asked}: {shown} is" + (" one" if ok else f" not one{hint}"))


def vetoed(signals: list[Signal] | tuple[Signal, ...]) -> str | None:
    """Why the answer cannot be right (a plausibility rule at 0), or None."""
    return next((s.reason for s in signals if s.name in RULES and s.value == 0.0), None)


def suspicion(signals: list[Signal] | tuple[Signal, ...]) -> float:
    """The lowest plausibility value among the signals (1.0: nothing suspicious)."""
    return min((s.value for s in signals if s.name in RULES), default=1.0)
