"""What a program did with the passed tables: three mistakes no printed value shows. No model involved.

  named    the question names one category of a passed table ('Renewables', a value of
           `df['source']`), and neither the run's code nor its output mentions it, nor selects
           by any other category of that table: it answered over every category, not the one
           asked about (the tune half's d05 took the year-on-year change over all sources' rows).
  some     the answer is one category of a column of three or more ('Black' of `df['race']`),
           the question names none of them, and the program names some of the column's
           categories but not all, with nothing anywhere in it that goes over a whole column (a
           groupby, value_counts, idxmax, a sort, max): it compared the ones it guessed (d27
           compared two races of four).
  aligned  the program combines values of two passed tables element by element (`df2['yield']
           > df['yield']`, `zip(…)`, `.gt(…)`), with no join, sort or groupby anywhere in it,
           while their rows (named by the same key columns) are in different orders: pandas
           lines them up by position, not by the keys.

Each gives a signal at 0 (a veto, like policy/plausibility.py's rules: the answer is sent back
told why, and a check's route is repaired told why) only when it applies, and nothing
otherwise. The facts about the tables come from nbreason/data_facts.py. Where a rule cannot
tell, it says nothing: a wrong veto costs a right answer a step, or the answer.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Sequence

from ..events import Signal

RULES = ("named", "some", "aligned")
SHORTEST = 3  # shorter category values ('M', 'No') are too often words of the question itself
FEWEST = 3  # `some` needs a column of at least this many categories ("Yes"/"No" is a question, not a choice)
_BOOLEAN = {"yes", "no", "true", "false", "y", "n"}
# Month and weekday names: a question names them, code selects them by number (`dt.month == 1`)
_CALENDAR = {"january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
             "november", "december", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov",
             "dec", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}
# Code that goes over every category of a column
_ALL_CATEGORIES = re.compile(r"\b(groupby|value_counts|pivot|pivot_table|crosstab|unique|nunique|idxmax|idxmin|"
                             r"nlargest|nsmallest|sort_values|max|min|mode|get_dummies|stack|unstack)\b")
# Code that matches rows by their labels or keys: after any of these, no element-wise mistake is claimed
_MATCHES_ROWS = re.compile(r"\b(merge|join|concat|align|set_index|sort_values|sort_index|reindex|pivot|"
                           r"pivot_table|groupby|crosstab|unstack|map|isin)\b")
# What reads a table's shape or labels, not its values
_ABOUT = {"shape", "columns", "dtypes", "index", "size", "ndim", "name", "empty", "dtype"}
_LOOKS = {"len", "print", "type", "isinstance", "id", "repr", "str", "list", "set", "sorted", "display"}


@dataclass(frozen=True)
class Value:
    """A category value of a passed table's text column."""

    frame: str
    column: str
    value: str


@dataclass(frozen=True)
class Misaligned:
    """Two passed tables of the same length and index whose key columns differ at row `row`."""

    first: str
    second: str
    keys: tuple[str, ...]
    row: int
    first_keys: tuple[str, ...]
    second_keys: tuple[str, ...]


@dataclass(frozen=True)
class DataFacts:
    values: tuple[Value, ...] = ()
    misaligned: tuple[Misaligned, ...] = ()


def data_use(answer: str | None, question: str, code: Sequence[str], outputs: Sequence[str],
             facts: DataFacts | None) -> list[Signal]:
    """The signals of the rules that apply (see the module docstring); [] when none does.
    `code`: the program's blocks (a run's every clean block); `outputs`: what they printed."""
    if facts is None or not code:
        return []
    trees = [tree for tree in map(_parse, code) if tree is not None]
    signals = []
    for name, rule in (("named", _named), ("some", _some), ("aligned", _aligned)):
        try:
            reason = rule(answer, question, code, trees, outputs, facts)
        except (RecursionError, MemoryError):  # code nested too deep to read: no claim about it
            reason = None
        if reason:
            signals.append(Signal(name, 0.0, reason, 0.0))
    return signals


def _named(answer, question, code, trees, outputs, facts: DataFacts) -> str | None:
    asked: dict[tuple[str, str], list[str]] = {}
    for v in facts.values:  # short ones too: "(I, II, III or IV)" names four series, not 'III' alone
        if _names(question, v.value, shortest=1) and v.value.casefold() not in _CALENDAR:
            asked.setdefault((v.frame, v.column), []).append(v.value)
    program = "\n".join(code).casefold()
    every = {s.casefold() for s in _string_literals(trees)}
    literals = {s for s in every if len(s) >= SHORTEST}
    printed = "\n".join(o or "" for o in outputs).casefold()
    for (frame, column), values in asked.items():
        if len(values) != 1:  # "I, II, III or IV": choices, which a groupby covers without naming them
            continue
        value = values[0]
        folded = value.casefold()
        if len(value) < SHORTEST:
            continue
        if answer is not None and str(answer).strip().strip("'\"`").casefold() == folded:
            continue
        if folded in program or folded in printed or any(lit in folded for lit in literals):
            continue
        # selecting by another category of that table (`!= 'Fossil Fuels'`, a code column) is a selection
        if any(v.value.casefold() in every for v in facts.values if v.frame == frame):
            continue
        return (f"the question is about {value!r} (a value of `{frame}['{column}']`), but neither the program nor "
                f"its output mentions it: select those rows first, e.g. `{frame}[{frame}['{column}'] == {value!r}]`")
    return None


def _some(answer, question, code, trees, outputs, facts: DataFacts) -> str | None:
    if answer is None or any(_ALL_CATEGORIES.search(block) for block in code):
        return None
    given = str(answer).strip().strip("'\"`").casefold()
    if given in _BOOLEAN:
        return None
    columns: dict[tuple[str, str], list[str]] = {}
    for v in facts.values:
        columns.setdefault((v.frame, v.column), []).append(v.value)
    literals = {s.casefold() for s in _string_literals(trees)}
    for (frame, column), values in columns.items():
        if len(values) < FEWEST or given not in {v.casefold() for v in values}:
            continue
        if any(_names(question, v, loose=True) for v in values):  # "treatment or control": those two
            continue
        used = [v for v in values if v.casefold() in literals]
        if 0 < len(used) < len(values):
            return (f"the program compares only {', '.join(repr(v) for v in used)} of the {len(values)} values of "
                    f"`{frame}['{column}']`: the question asks across all of them, e.g. "
                    f"`{frame}.groupby('{column}')`")
    return None


def _names(question: str, value: str, loose: bool = False, shortest: int = SHORTEST) -> bool:
    """Whether the question names this category value: as written, as a whole word. A value with
    no capital letter ('other', 'male') counts only when quoted, since it may be a plain word
    there, unless `loose` (where a plain-word mention is reason enough to say nothing)."""
    if len(value) < shortest or not re.search(r"[A-Za-z]", value):
        return False
    if value == value.lower() and not loose:
        return any(f"{q}{value}{q}" in question for q in ("'", '"', "`", "‘", "“"))
    flags = re.I if loose else 0
    return re.search(rf"(?<![\w]){re.escape(value)}(?![\w])", question, flags) is not None


def _string_literals(trees: Sequence[ast.AST]) -> list[str]:
    return [n.value for tree in trees for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def _aligned(answer, question, code, trees, outputs, facts: DataFacts) -> str | None:
    if not facts.misaligned or any(_MATCHES_ROWS.search(block) for block in code):
        return None
    for pair in facts.misaligned:
        if any(_combines(tree, pair.first, pair.second) for tree in trees):
            keys = ", ".join(repr(k) for k in pair.keys)
            at = lambda values: ", ".join(f"{k} {v!r}" for k, v in zip(pair.keys, values))
            return (f"the program combines `{pair.first}` and `{pair.second}` row by row, by position, but their "
                    f"rows are in different orders (row {pair.row}: {at(pair.first_keys)} in `{pair.first}`; "
                    f"{at(pair.second_keys)} in `{pair.second}`): join them on the keys first, e.g. "
                    f"`{pair.first}.merge({pair.second}, on=[{keys}], suffixes=('_{pair.first}', "
                    f"'_{pair.second}'))`")
    return None


def _combines(tree: ast.AST, first: str, second: str) -> bool:
    """An operation on values of `first` on one side and of `second` on the other: `a[c] > b[c]`,
    `a[c] - b[c]`, `a[c].corr(b[c])`, `zip(a[c], b[c])`; not `len(a) == len(b)` or a look at
    both tables' columns."""
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp):
            sides = [node.left, node.right]
        elif isinstance(node, ast.Compare) and len(node.comparators) == 1:
            sides = [node.left, node.comparators[0]]
        elif isinstance(node, ast.Call) and not (isinstance(node.func, ast.Name) and node.func.id in _LOOKS):
            sides = ([node.func.value] if isinstance(node.func, ast.Attribute) else []) + list(node.args)
        else:
            continue
        names = [_values_of(side) for side in sides]
        for i, left in enumerate(names):
            for right in names[i + 1:]:
                if (first in left and second in right and second not in left and first not in right) or \
                        (second in left and first in right and first not in left and second not in right):
                    return True
    return False


def _values_of(node: ast.AST) -> set[str]:
    """The names whose values an expression reads (not `len(df)`, `df.shape`, `df.columns`)."""
    if isinstance(node, ast.Attribute) and node.attr in _ABOUT:
        return set()
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _LOOKS:
        return set()
    if isinstance(node, ast.Name):
        return {node.id}
    found: set[str] = set()
    for child in ast.iter_child_nodes(node):
        found |= _values_of(child)
    return found


def _parse(block: str) -> ast.AST | None:
    try:
        return ast.parse(block)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
