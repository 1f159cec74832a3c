"""Whether a check's program is another route to the answer, or the run's own computation again.

A route is independent only if it computes differently. On a table question of the data
benchmark's tune half the checked-program route wrote the run's program again, statement for
statement, with a row count printed in front (`max_drawdown = (df['high'] - df['close'].cummax())
/ …` twice, both 2.51, the right answer 29.35), and the two "agreeing families" verified a wrong
answer. Such a check repeats the run: it supports the answer as the run's own route does, not as a
family of its own (policy/verification.py).

Statements are compared as Python parses them (`ast.unparse`: comments, spacing and quoting do not
count). A check repeats the run when every statement it has, imports and printed sizes aside
(`print(df.shape)`, `print(len(rows))`, a printed string), is one the run's code already ran, and
so is its last statement (the one printing the answer), whatever it prints. Renamed variables or
the same computation written inline are not caught: such a check counts as a route of its own, as
before.
"""

from __future__ import annotations

import ast
from typing import Iterable


def statements(code: str) -> list[str] | None:
    """The code's top-level statements, normalised; None if it does not parse."""
    try:  # a model's reply: a sum of 200,000 terms is valid Python that parsing or unparsing cannot take
        tree = ast.parse(code)
        return [ast.unparse(node) for node in tree.body if not isinstance(node, (ast.Import, ast.ImportFrom))]
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _shows_size(statement: str) -> bool:
    """A print of a size or a fixed text: what the checked route is asked to print before computing."""
    try:
        node = ast.parse(statement).body[0]
    except (SyntaxError, ValueError, IndexError, RecursionError, MemoryError):
        return False
    call = node.value if isinstance(node, ast.Expr) else None
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "print"):
        return False
    def size_or_text(arg: ast.expr) -> bool:
        return ((isinstance(arg, ast.Attribute) and arg.attr == "shape")
                or (isinstance(arg, ast.Call) and isinstance(arg.func, ast.Name) and arg.func.id == "len")
                or (isinstance(arg, ast.Constant) and isinstance(arg.value, str)))

    return all(size_or_text(arg) for arg in call.args)


def repeats(code: str, run_code: Iterable[str]) -> bool:
    """Whether `code` (a check's program) only runs statements the run's code already ran."""
    mine = statements(code)
    if not mine:
        return False
    ran: set[str] = set()
    for block in run_code:
        ran.update(statements(block) or ())
    # The last statement prints the answer: it always counts, even when it prints a len()
    computing = [s for s in mine[:-1] if not _shows_size(s)] + mine[-1:]
    return all(s in ran for s in computing)
