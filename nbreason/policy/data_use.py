"""What a program does with the passed tables: two mistakes no printed value shows. No model involved.

  named    the question names one category of a passed table ('Renewables', a value of
           `df['source']`), and neither the program nor anything it printed mentions it: it
           answered over every category, not the one asked about (the tune half's d05 took the
           year-on-year change over all sources' rows).
  aligned  the program combines columns of two passed tables element by element (`df['yield'] >
           df2['yield']`), with no join, while their rows are in different orders: pandas
           lines them up by row position, not by the keys (d03 counted 48 pairs, not 12).

  some     the answer is one category of a column ('Black' of `df['race']`), the question does
           not list which to compare, and the program names some of the column's categories but
           not all, with nothing that goes over all of them (a groupby, value_counts): it
           compared the ones it guessed (d27 compared two races of five).

Each gives a signal at 0 (a veto, like policy/plausibility.py's rules: the answer is sent back
told why, and a check's route is repaired told why) only when it applies, and nothing
otherwise. The facts about the tables come from nbreason/data_facts.py.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Sequence

from ..events import Signal

RULES = ("named", "aligned", "some")
SHORTEST = 3  # shorter category values ('M', 'No') are too often words of the question itself
# Code that goes over every category of a column
_ALL_CATEGORIES = re.compile(r"\b(groupby|value_counts|pivot|pivot_table|crosstab|unique|nunique|idxmax|idxmin|"
                             r"nlargest|nsmallest|sort_values|max|min|mode|get_dummies|stack|unstack)\b")
# Code that matches rows by their labels or keys: after any of these, no element-wise mistake is claimed
_MATCHES_ROWS = re.compile(r"\b(merge|join|concat|align|set_index|sort_values|sort_index|reindex|pivot|"
                           r"pivot_table|groupby|crosstab|unstack|map|isin)\b")


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
    """The signals of the rules that apply (see the module docstring); [] when none does."""
    if facts is None or not code:
        return []
    signals = []
    named = _named(answer, question, code, outputs, facts)
    if named:
        signals.append(Signal("named", 0.0, named, 0.0))
    some = _some(answer, question, code, facts)
    if some:
        signals.append(Signal("some", 0.0, some, 0.0))
    aligned = _aligned(code, facts)
    if aligned:
        signals.append(Signal("aligned", 0.0, aligned, 0.0))
    return signals


def _named(answer: str | None, question: str, code: Sequence[str], outputs: Sequence[str],
           facts: DataFacts) -> str | None:
    asked: dict[tuple[str, str], list[str]] = {}
    for v in facts.values:
        if _names(question, v.value):
            asked.setdefault((v.frame, v.column), []).append(v.value)
    program = "\n".join(code).casefold()
    literals = [s.casefold() for s in _string_literals(code) if len(s) >= 4]
    printed = "\n".join(o or "" for o in outputs).casefold()
    for (frame, column), values in asked.items():
        if len(values) != 1:  # "I, II, III or IV": choices, which a groupby covers without naming them
            continue
        value = values[0]
        folded = value.casefold()
        if answer is not None and str(answer).strip().strip("'\"`").casefold() == folded:
            continue
        if folded in program or folded in printed or any(lit in folded for lit in literals):
            continue
        return (f"the question is about {value!r} (a value of `{frame}['{column}']`), but neither the program nor "
                f"its output mentions it: select those rows first, e.g. `{frame}[{frame}['{column}'] == {value!r}]`")
    return None


def _some(answer: str | None, question: str, code: Sequence[str], facts: DataFacts) -> str | None:
    if answer is None or any(_ALL_CATEGORIES.search(block) for block in code):
        return None
    given = str(answer).strip().strip("'\"`").casefold()
    columns: dict[tuple[str, str], list[str]] = {}
    for v in facts.values:
        columns.setdefault((v.frame, v.column), []).append(v.value)
    literals = {s.casefold() for s in _string_literals(code)}
    for (frame, column), values in columns.items():
        if given not in {v.casefold() for v in values} or any(_names(question, v) for v in values):
            continue
        used = [v for v in values if v.casefold() in literals]
        if 0 < len(used) < len(values):
            return (f"the program compares only {', '.join(repr(v) for v in used)} of the {len(values)} values of "
                    f"`{frame}['{column}']`: the question asks across all of them, e.g. "
                    f"`{frame}.groupby('{column}')`")
    return None


def _names(question: str, value: str) -> bool:
    """Whether the question names this category value: as written, as a whole word; a value with
    no capital letter ('other', 'male') only when quoted, since it may be a plain word there."""
    if len(value) < SHORTEST or not re.search(r"[A-Za-z]", value):
        return False
    if value == value.lower():
        return any(f"{q}{value}{q}" in question for q in ("'", '"', "`", "‘", "“"))
    return re.search(rf"(?<![\w]){re.escape(value)}(?![\w])", question) is not None


def _string_literals(code: Sequence[str]) -> list[str]:
    out = []
    for block in code:
        tree = _parse(block)
        if tree is not None:
            out += [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    return out


def _aligned(code: Sequence[str], facts: DataFacts) -> str | None:
    if not facts.misaligned or any(_MATCHES_ROWS.search(block) for block in code):
        return None
    for pair in facts.misaligned:
        for block in code:
            tree = _parse(block)
            if tree is not None and _combines(tree, pair.first, pair.second):
                keys = ", ".join(repr(k) for k in pair.keys)
                at = lambda values: ", ".join(f"{k} {v!r}" for k, v in zip(pair.keys, values))
                return (f"the program combines `{pair.first}` and `{pair.second}` row by row, by position, but their "
                        f"rows are in different orders (row {pair.row}: {at(pair.first_keys)} in `{pair.first}`; "
                        f"{at(pair.second_keys)} in `{pair.second}`): join them on the keys first, e.g. "
                        f"`{pair.first}.merge({pair.second}, on=[{keys}], suffixes=('_{pair.first}', "
                        f"'_{pair.second}'))`")
    return None


def _combines(tree: ast.AST, first: str, second: str) -> bool:
    """An operation with `first` on one side and `second` on the other: `a[c] > b[c]`,
    `a[c] - b[c]`, `a[c].corr(b[c])`."""
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp):
            sides = (node.left, node.right)
        elif isinstance(node, ast.Compare) and len(node.comparators) == 1:
            sides = (node.left, node.comparators[0])
        elif isinstance(node, ast.Call):  # a[c].corr(b[c]), zip(a[c], b[c]), np.subtract(a[c], b[c])
            sides = ([node.func.value] if isinstance(node.func, ast.Attribute) else []) + list(node.args)
        else:
            continue
        names = [_frames(side) for side in sides]
        for i, left in enumerate(names):
            for right in names[i + 1:]:
                if (first in left and second in right and second not in left and first not in right) or \
                        (second in left and first in right and first not in left and second not in right):
                    return True
    return False


def _frames(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _parse(block: str) -> ast.AST | None:
    try:
        return ast.parse(block)
    except (SyntaxError, ValueError):
        return None
