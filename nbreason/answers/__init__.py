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

    Two whole numbers written with every digit (18, 18.0, 15234567.0; not 1.5e7) are compared
    exactly, and "1.2 million" is 1,200,000. Any other
    two numbers are the same when they agree once rounded, half up, to the significant digits of
    the less precisely written one, counting at least 4 and at most 6 (integers and fractions
    are precise: 6 when both are). `strict` (the bench grader) always rounds to 6.

So 1/3 and 0.333333 agree, 0.3 and 0.1 + 0.2 printed in full agree, 18 and 17.999999999999996
agree; 0.3 and 0.31, 18 and 18.4, 1/3 and 0.33 do not. A percentage is also read as its fraction
when the other side has no percent sign: 75% matches 75 and 0.75. Inside sets, tuples and
expressions math-verify compares floats itself, to 6 decimal places. `rounded_alike` is a looser
rule for two programs over one table (the data checks): rounded to however few digits the less
precise one was written with.
"""

from __future__ import annotations

from .sameness import Comparison, compare, same
from .keys import key, number_key
from .numbers import Number, number, numbers_in, parse_number, rounded_alike, same_number
from .tally import Candidate, Tally, tally
from .text import is_value, unwrap

__all__ = ["Candidate", "Comparison", "Number", "Tally", "compare", "is_value", "key", "number", "number_key",
           "numbers_in", "parse_number", "rounded_alike", "same", "same_number", "tally", "unwrap"]
