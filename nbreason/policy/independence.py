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
so is its last statement (the one printing the answer), whatever it prints. Names the programs bind
themselves may differ: a check that is the run's program with its variables renamed
(`total = price * n` for `cost = price * n`) repeats it too, as long as one renaming, the same
throughout, turns each of its statements into one the run ran. Names neither binds (`df`, `round`,
the passed tables) must be the same. The same computation written inline, or in another order of
bindings that no renaming explains, is not caught: such a check counts as a route of its own.
"""

from __future__ import annotations

import ast
from typing import Iterable

SEARCH = 50_000  # node comparisons spent on finding a renaming, at most: a model's reply may be long


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
    """Whether `code` (a check's program) only runs statements the run's code already ran, its own
    names for the run's aside."""
    mine = statements(code)
    if not mine:
        return False
    blocks = list(run_code)
    ran: list[str] = []
    for block in blocks:
        ran.extend(statements(block) or ())
    # The last statement prints the answer: it always counts, even when it prints a len()
    computing = [s for s in mine[:-1] if not _shows_size(s)] + mine[-1:]
    if all(s in set(ran) for s in computing):
        return True
    try:
        return _renamed(computing, ran, _bound(code), set().union(*(_bound(b) for b in blocks)))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False


def _bound(code: str) -> set[str]:
    """The names a program binds itself: assigned, looped over, defined, imported, parameters."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return set()
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.alias):
            names.add(node.asname or node.name.split(".")[0])
    return names


class _Renaming:
    """One renaming of a check's own names to the run's, the same in both directions, grown
    statement by statement, with a cap on the work spent searching for it."""

    def __init__(self, mine: set[str], theirs: set[str]):
        self.mine, self.theirs = mine, theirs
        self.to: dict[str, str] = {}
        self.back: dict[str, str] = {}
        self.spent = 0

    def name(self, a: str, b: str) -> bool:
        if a in self.to or b in self.back:
            return self.to.get(a) == b and self.back.get(b) == a
        if a != b and (a not in self.mine or b not in self.theirs):
            return False  # only names both programs bind may differ (df, round, a passed table may not)
        self.to[a], self.back[b] = b, a
        return True

    def same(self, a, b) -> bool:
        self.spent += 1
        if self.spent > SEARCH or type(a) is not type(b):
            return False
        if isinstance(a, list):
            return len(a) == len(b) and all(self.same(x, y) for x, y in zip(a, b))
        if not isinstance(a, ast.AST):
            return a == b  # a constant, an attribute, an operator's field; 1 and 1.0 differ by type above
        for name in a._fields:
            x, y = getattr(a, name, None), getattr(b, name, None)
            if _binds(a, name):
                if not (x is None and y is None) and not (isinstance(x, str) and isinstance(y, str) and self.name(x, y)):
                    return False
            elif isinstance(x, (ast.AST, list)) or isinstance(y, (ast.AST, list)):
                if not self.same(x, y):
                    return False
            elif type(x) is not type(y) or x != y:
                return False
        return True


def _binds(node: ast.AST, field: str) -> bool:
    return ((isinstance(node, ast.Name) and field == "id") or (isinstance(node, ast.arg) and field == "arg")
            or (isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and field == "name"))


def _renamed(computing: list[str], ran: list[str], mine: set[str], theirs: set[str]) -> bool:
    """Whether one renaming of the check's own names turns each of its statements into one the
    run ran: a search over which run statement each matches, undoing a choice that leads nowhere."""
    check_nodes = [ast.parse(s).body[0] for s in computing]
    run_nodes = [ast.parse(s).body[0] for s in ran]
    renaming = _Renaming(mine, theirs)

    def match(i: int, after: int) -> bool:
        if i == len(check_nodes):
            return True
        # a copy keeps the run's order: the run's statement after the last one matched is tried first
        for j in [*range(after + 1, len(run_nodes)), *range(after + 1)]:
            to, back = dict(renaming.to), dict(renaming.back)
            if renaming.same(check_nodes[i], run_nodes[j]) and match(i + 1, j):
                return True
            renaming.to, renaming.back = to, back
            if renaming.spent > SEARCH:
                return False
        return False

    return match(0, -1)
