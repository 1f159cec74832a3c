"""Independent methods: other routes to the same answer, chosen to fail differently.

Sampling the same prompt again tends to repeat the same mistake (a wrong 49-token program came
back byte for byte at temperature 0.7), so an answer is checked by solving the question again by
another *route*: in prose instead of code, by simulation, by enumeration, with exact arithmetic,
or by a program that first writes out every quantity the question states. Each method is a fresh
conversation holding only its instructions and the question: the model never sees the first
answer while it computes the second.

How the methods are chosen (`plan_for`), from the question's words:
  probability, chance, odds, expected value  -> simulation, exact arithmetic, prose
  counting ("how many ways / integers / …")  -> enumeration, prose, exact arithmetic
  exact values (remainders, digits, fractions, "exact", big powers)
                                             -> exact arithmetic, prose, enumeration
  anything else (word problems)              -> prose, quantities table
  a question about passed data (--with)      -> checked program, row by row
and a sampled program (the run's own route again) last, when every other route is used up.
Agreement between methods of different *families* counts more than agreement between samples of
one family (see policy/verification.py).

Data questions get only routes that run code over the data: prose and a quantities table cannot
read a table, and on the data benchmark's report half (benchmarks/results/local-data-report-corrections)
all four answers the loop lost were a right first program outvoted by a value from those routes.
The two data routes aim at the failures traced there: a category spelled differently from the
table's (a selection of zero rows), and an aggregate taken over the wrong rows or column.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .. import prompts

ANSWER_LINE = re.compile(r"^\s*\**\s*ANSWER\s*\**\s*:\s*\**\s*(.+?)\s*$", re.I | re.M)
LAST_NUMBER = re.compile(r"-?\$?\d[\d,]*(?:\.\d+)?(?:/\d+)?")


@dataclass(frozen=True)
class Method:
    name: str  # shown in checks: "prose", "quantities table", "simulation", …
    family: str  # methods of one family share their failure modes; agreement across families counts more
    code: bool  # the reply is a program whose printed last line is the answer; else prose ending in ANSWER:
    instructions: str  # the system message of its fresh conversation
    tolerance: float = 0.0  # relative: estimates (simulation) agree with exact values within this
    rounding: bool = False  # its value may be an earlier one printed to other precision (answers.rounded_alike)

    def messages(self, question: str, context: str = "") -> list[dict]:
        return [{"role": "system", "content": self.instructions}, prompts.question(question, context)]

    def answer(self, reply: str) -> str | None:
        """A prose solution's answer: its ANSWER: line, else its last \\boxed{}, else the last number of
        its last line. (Programs answer with their printed last line, read by the loop.)"""
        found = ANSWER_LINE.findall(reply or "")
        if found:
            return found[-1].strip()
        from ..answers import unwrap

        if "\\boxed" in (reply or ""):
            return unwrap(reply[reply.rindex("\\boxed"):].splitlines()[0]) or None
        lines = [line for line in (reply or "").strip().splitlines() if line.strip()]
        numbers = LAST_NUMBER.findall(lines[-1]) if lines else []
        return numbers[-1] if numbers else None


PROGRAM = Method("program", "program", True, prompts.SYSTEM_TEXT)
PROSE = Method("prose", "prose", False,
               "You are a careful math tutor. Solve the problem step by step in short sentences, doing each "
               "calculation explicitly, without writing code. End with a last line of the form 'ANSWER: <value>'.")
QUANTITIES = Method("quantities table", "program", True,
                    "You solve problems by writing one Python program. Reply with one ```python block. First assign "
                    "every quantity stated in the problem to a variable, each with a comment quoting the words it "
                    "comes from. Then compute the answer step by step from those variables and print only the final "
                    "answer.")
SIMULATION = Method("simulation", "simulation", True,
                    "You check answers by simulation. Reply with one ```python block that simulates the random "
                    "process the problem describes many times (at least 200000 trials, random.seed(0)) and prints "
                    "only the estimated answer as a decimal number.", tolerance=0.02)
ENUMERATION = Method("enumeration", "enumeration", True,
                     "You check answers by brute force. Reply with one ```python block that enumerates every case "
                     "with loops over a bounded range (no counting formulas) and prints only the final answer.")
EXACT = Method("exact arithmetic", "exact", True,
               "You compute exactly. Reply with one ```python block that uses only integers, fractions.Fraction or "
               "sympy (never floats) and prints only the final answer, as an integer or a fraction.")

_DATA = ("The variables described below already exist in the Python session: use them, never read a file "
         "or make up data. Reply with one ```python block. ")
CHECKED = Method("checked program", "checked", True,
                 _DATA + "Before computing, print how many rows each filter keeps, and write every category value "
                 "exactly as the description spells it. Then compute the answer and print it alone on the last line.",
                 rounding=True)
ROWS = Method("row by row", "rows", True,
              _DATA + "Compute the answer with plain Python over the records (for row in "
              "df.to_dict('records'): …) instead of pandas aggregation methods, and print only the final answer "
              "on the last line. For anything counted \"so far\" or \"in a row\" (a highest value so far, a "
              "streak), go through the records in time order and update it at every record.", rounding=True)

METHODS = {m.name: m for m in (PROGRAM, PROSE, QUANTITIES, SIMULATION, ENUMERATION, EXACT, CHECKED, ROWS)}

_PROBABILITY = re.compile(r"\b(probabilit\w*|chance|odds|likel\w*|expected (?:value|number)|at random|randomly)\b", re.I)
_COUNTING = re.compile(r"\bhow many (?:(?:different|distinct|positive|negative|ordered|unordered|possible)\s+)*"
                       r"(?:ways|arrangements|integers|numbers|pairs|triples|subsets|divisors|factors|primes|"
                       r"solutions|paths|committees|outcomes|digits|sequences|strings|permutations|combinations)\b", re.I)
_EXACT = re.compile(r"\b(remainder|mod(?:ulo)?|last (?:two |three )?digits?|exact(?:ly)?|common fraction|"
                    r"simplest form|factorial|divisible|gcd|lcm|greatest common|least common)\b|\d\s*\^\s*\d{2,}|"
                    r"\*\*\s*\d{2,}", re.I)


# "the probability", "the chance", "the likelihood" is asked: not "expected value", "odds" or "chosen at
# random", which are no probabilities (question_kind still checks them by simulation)
_ASKS_PROBABILITY = re.compile(r"\b(?:probabilit\w*|chances?|likelihood)\b", re.I)


def asks_probability(question: str) -> bool:
    """Whether the answer asked for is a probability (policy/plausibility.py; an estimate of one is
    judged by its standard error, policy/verification.py)."""
    return bool(_ASKS_PROBABILITY.search(question))


def question_kind(question: str) -> str:
    """probability | counting | exact | word: which routes can check an answer to this question."""
    if _PROBABILITY.search(question):
        return "probability"
    if _COUNTING.search(question):
        return "counting"
    if _EXACT.search(question):
        return "exact"
    return "word"


PLANS = {
    "probability": (SIMULATION, EXACT, PROSE),
    "counting": (ENUMERATION, PROSE, EXACT),
    "exact": (EXACT, PROSE, ENUMERATION),
    "word": (PROSE, QUANTITIES),
}


DATA_PLAN = (CHECKED, ROWS)


def plan_for(question: str, data: bool = False) -> tuple[Method, ...]:
    """The independent methods for a question, most telling first (see the module docstring).
    `data`: the run was given variables or files, and the question is about them."""
    return DATA_PLAN if data else PLANS[question_kind(question)]
