"""Whether a check's program is another route to the answer, or the run's own computation again.

A route is independent only if it computes differently. On a table question of the data
benchmark's tune half the checked-program route wrote the run's program again, statement for
statement, with a row count printed in front (`max_drawdown = (df['high'] - df['close'].cummax())
/ …` twice, both 2.51, the right answer 29.35), and the two "agreeing families" verified a wrong
answer. Such a check repeats the run: it supports the answer as the run's own route does, not as a
family of its own (policy/verification.py).

Statements are compared as Python parses them (`ast.unparse`: comments, spacing and quoting do not
count), after what cannot change the computation is taken out of both (`_normal`): docstrings,
asserts, the last print's rounding or formatting, a variable that only carries the result to it,
and `df.x` read as `df['x']`. A check repeats the run when every statement it has, imports and printed sizes aside
(`print(df.shape)`, `print(len(rows))`, a printed string), is one the run's code already ran, and
so is its last statement (the one printing the answer), whatever it prints.

A check that is one of the run's blocks with its variables renamed (`total = price * n` for
`cost = price * n`) repeats it too. Only plain variables the two programs assign at their top level
may differ, by one renaming that is the same throughout and one to one; every other name is the
same name in both: the passed tables, builtins, imports, functions and their parameters, loop
variables of comprehensions, and any name a keyword argument, an attribute, a `global` or a string
spells (`df.query('x > @t')` reads `t` by its spelling). The check's statements must follow the
block's in order, each used once, passing over none but prints, and no earlier block may have
rebound a name the check reads (it would read other data). In either case, a name the check
imports must not stand for another module in the run (`import math as m`, `import numpy as m`).
The same computation written inline, split differently, or in another order is not caught: such a
check counts as a route of its own, and so does a copy the search cannot confirm within `SEARCH`
node comparisons.
"""

from __future__ import annotations

import ast
import copy
import re
from typing import Iterable

SEARCH = 50_000  # node comparisons spent on finding a renaming, at most: a model's reply may be long


def _parse(code: str) -> ast.Module | None:
    try:  # a model's reply: a sum of 200,000 terms is valid Python that parsing cannot take
        return ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _body(tree: ast.Module) -> list[ast.stmt]:
    """A program's top-level statements, imports aside."""
    return [node for node in tree.body if not isinstance(node, (ast.Import, ast.ImportFrom))]


def _unparsed(tree: ast.Module | None) -> set[str]:
    """A block's statements as text (comments, spacing and quoting gone); none for one too deep to unparse."""
    try:
        return {ast.unparse(node) for node in _body(tree)} if tree is not None else set()
    except (ValueError, RecursionError, MemoryError):
        return set()


def _shows_size(node: ast.stmt) -> bool:
    """A print of a size or a fixed text: what the checked route is asked to print before computing."""
    call = _print(node)
    if call is None:
        return False
    def size_or_text(arg: ast.expr) -> bool:
        return ((isinstance(arg, ast.Attribute) and arg.attr == "shape")
                or (isinstance(arg, ast.Call) and isinstance(arg.func, ast.Name) and arg.func.id == "len")
                or (isinstance(arg, ast.Constant) and isinstance(arg.value, str)))

    return all(size_or_text(arg) for arg in call.args)


def repeats(code: str, run_code: Iterable[str]) -> bool:
    """Whether `code` (a check's program) only runs statements the run's code already ran, or is
    one of its blocks with the variables renamed: as written, or once both are `_normal`. Each
    program is parsed once."""
    check = _parse(code)
    trees = [_parse(block) for block in run_code if isinstance(block, str)]
    return _repeats(check, trees) or _repeats(_normal(check), [_normal(tree) for tree in trees])


def _repeats(check: ast.Module | None, trees: list[ast.Module | None]) -> bool:
    mine = _body(check) if check is not None else []
    if not mine:
        return False
    # The last statement prints the answer: it always counts, even when it prints a len()
    computing = [node for node in mine[:-1] if not _shows_size(node)] + mine[-1:]
    try:
        if not _same_imports(check, trees):
            return False
        ran = set().union(*(_unparsed(tree) for tree in trees))
        return all(ast.unparse(node) in ran for node in computing) or _renamed(check, computing, trees)
    except (ValueError, RecursionError, MemoryError):  # unparsing a deep tree
        return False


_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda, ast.ListComp, ast.SetComp,
           ast.DictComp, ast.GeneratorExp)


def _top_level(node: ast.AST):
    """The nodes of a statement outside the scopes it opens (functions, classes, comprehensions)."""
    yield node
    for child in ast.iter_child_nodes(node):
        if not isinstance(child, _SCOPES):
            yield from _top_level(child)


def _renamable(tree: ast.Module) -> set[str]:
    """The plain variables a program assigns at its top level and spells nowhere else: the only
    names a copy may have renamed."""
    assigned = {n.id for stmt in tree.body for n in _top_level(stmt)
                if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    fixed: set[str] = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.keyword) and n.arg:
            fixed.add(n.arg)
        elif isinstance(n, ast.Attribute):
            fixed.add(n.attr)
        elif isinstance(n, (ast.Global, ast.Nonlocal)):
            fixed.update(n.names)
        elif isinstance(n, ast.ExceptHandler) and n.name:
            fixed.add(n.name)
        elif isinstance(n, ast.alias):
            fixed.add(n.asname or n.name.split(".")[0])
        elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            fixed.add(n.name)
        elif isinstance(n, ast.arg):
            fixed.add(n.arg)
        elif isinstance(n, ast.NamedExpr) and isinstance(n.target, ast.Name):
            fixed.add(n.target.id)
        elif isinstance(n, ast.Constant) and isinstance(n.value, str):
            fixed.update(_WORD.findall(n.value))
        elif isinstance(n, _SCOPES):  # a name assigned in an inner scope may shadow a global one
            fixed.update(m.id for m in ast.walk(n) if isinstance(m, ast.Name) and isinstance(m.ctx, ast.Store))
        elif hasattr(ast, "MatchAs") and isinstance(n, (ast.MatchAs, ast.MatchStar)) and n.name:
            fixed.add(n.name)
        elif hasattr(ast, "MatchMapping") and isinstance(n, ast.MatchMapping) and n.rest:
            fixed.add(n.rest)
    return assigned - fixed


_WORD = re.compile(r"[A-Za-z_]\w*")


def _reads(nodes: list[ast.stmt], own: set[str]) -> set[str]:
    return {n.id for node in nodes for n in ast.walk(node)
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and n.id not in own}


def _assigns(node: ast.stmt) -> set[str]:
    """The names a statement (re)binds, in any scope it opens too."""
    names: set[str] = set()
    for n in ast.walk(node):
        if isinstance(n, ast.Name) and isinstance(n.ctx, (ast.Store, ast.Del)):
            names.add(n.id)
        elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(n.name)
        elif isinstance(n, ast.alias):
            names.add(n.asname or n.name.split(".")[0])
    return names


class _Renaming:
    """One renaming of a check's variables to a block's, one to one, grown statement by
    statement (an undo log takes back a failed comparison's part), with a cap on the work spent."""

    def __init__(self, mine: set[str], theirs: set[str], spent: int = 0):
        self.mine, self.theirs = mine, theirs
        self.to: dict[str, str] = {}
        self.back: dict[str, str] = {}
        self.log: list[str] = []
        self.spent = spent

    def undo(self, mark: int) -> None:
        while len(self.log) > mark:
            a = self.log.pop()
            del self.back[self.to.pop(a)]

    def name(self, a: str, b: str) -> bool:
        if a in self.to or b in self.back:
            return self.to.get(a) == b and self.back.get(b) == a
        if a != b and (a not in self.mine or b not in self.theirs):
            return False  # only variables both may rename can differ
        self.to[a], self.back[b] = b, a
        self.log.append(a)
        return True

    def same(self, a, b) -> bool:
        self.spent += 1
        if self.spent > SEARCH or type(a) is not type(b):
            return False
        if isinstance(a, list):
            return len(a) == len(b) and all(self.same(x, y) for x, y in zip(a, b))
        if not isinstance(a, ast.AST):
            return a == b  # a constant, an attribute, an operator's field; 1 and 1.0 differ by type above
        for field in a._fields:
            x, y = getattr(a, field, None), getattr(b, field, None)
            if isinstance(a, ast.Name) and field == "id":
                if not self.name(x, y):
                    return False
            elif isinstance(x, (ast.AST, list)) or isinstance(y, (ast.AST, list)):
                if not self.same(x, y):
                    return False
            elif type(x) is not type(y) or x != y:
                return False
        return True


def _print(node: ast.stmt) -> ast.Call | None:
    """The statement's print call, if it only prints: one that assigns a name on the way
    (`print(len(t := other))`) computes."""
    call = node.value if isinstance(node, ast.Expr) else None
    if (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "print"
            and not any(isinstance(n, ast.NamedExpr) for n in ast.walk(call))):
        return call
    return None


def _imported(trees) -> dict[str, set[str]]:
    """What each imported name stands for ("np" -> {"numpy"}, "floor" -> {"math.floor"})."""
    names: dict[str, set[str]] = {}
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    names.setdefault(a.asname or a.name.split(".")[0], set()).add(a.name if a.asname else a.name.split(".")[0])
            elif isinstance(node, ast.ImportFrom):
                for a in node.names:
                    names.setdefault(a.asname or a.name, set()).add(f"{'.' * node.level}{node.module or ''}.{a.name}")
    return names


def _same_imports(check: ast.Module, trees: list[ast.Module | None]) -> bool:
    """No name the check imports stands for something else in the run (`import math as m` where
    the run had `import numpy as m`)."""
    mine, theirs = _imported([check]), _imported([t for t in trees if t is not None])
    return all(theirs.get(name, meant) == meant for name, meant in mine.items())


def _renamed(check: ast.Module, nodes: list[ast.stmt], trees: list[ast.Module | None]) -> bool:
    """Whether the check is one of the run's blocks with its variables renamed (see the module
    docstring): its statements matched in order, greedily, against the block's."""
    mine = _renamable(check)
    reads = _reads(nodes, mine)
    spent, rebound = 0, set()
    for tree in trees:
        if tree is None:
            continue
        if not reads & rebound:
            renaming = _Renaming(mine, _renamable(tree), spent)
            if _in_order(nodes, _body(tree), renaming):
                return True
            spent = renaming.spent
            if spent > SEARCH:
                return False
        rebound |= {name for node in tree.body for name in _assigns(node)}
    return False


def _in_order(nodes: list[ast.stmt], run: list[ast.stmt], renaming: _Renaming) -> bool:
    """Each check statement matches a later block statement than the one before; the block
    statements passed over only print (a copy that skipped a filter, or an in-place change,
    computes on other rows)."""
    j = 0
    for node in nodes:
        while True:
            if j == len(run) or renaming.spent > SEARCH:
                return False
            mark = len(renaming.log)
            if renaming.same(node, run[j]):
                j += 1
                break
            renaming.undo(mark)
            if _print(run[j]) is None:
                return False
            j += 1
    return True


# --- the same computation written differently, made one form before comparing -------------------

_PASSED_ON = {"round", "str", "float", "repr"}  # print(round(x, 2)) prints x, as far as a copy goes
# what a table has besides its columns (print(df.shape) is a size, which a check may print first)
_PROPERTIES = {"shape", "size", "columns", "index", "values", "dtypes", "empty", "T", "loc", "iloc", "at", "iat",
               "str", "dt", "cat", "ndim"}


def _normal(tree: ast.Module | None) -> ast.Module | None:
    """`tree` with what does not change the computation taken out: docstrings and other bare
    constants, asserts, a last print's rounding or formatting (`f'{x:.2f}'`, `round(x, 2)`,
    `str(x)`), a single-use variable that only carries the result to that print, and `df.x` for
    `df['x']` (a column read either way). Applied to both programs, so it can only make copies
    meet: a review found each of these in checks that repeated a wrong run's code."""
    if tree is None:
        return None
    try:
        tree = _Columns().visit(copy.deepcopy(tree))
    except (RecursionError, MemoryError):
        return tree
    body = [node for node in tree.body if not (isinstance(node, (ast.Assert, ast.Pass))
                                               or (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)))]
    while body:
        last = body[-1]
        call = _print(last)
        if call is not None and len(call.args) == 1 and not call.keywords:
            inner = _bare(call.args[0])
            if inner is not call.args[0]:
                call.args[0] = inner
                continue
            carried = _carried(body, inner)
            if carried is not None:
                call.args[0] = carried
                del body[-2]
                continue
        break
    tree.body = body
    return tree


def _bare(arg: ast.expr) -> ast.expr:
    """What a printed value formats: x for round(x, 2), str(x), f'{x:.2f}'."""
    if isinstance(arg, ast.Call) and isinstance(arg.func, ast.Name) and arg.func.id in _PASSED_ON \
            and arg.args and not arg.keywords and len(arg.args) <= 2:
        return arg.args[0]
    if isinstance(arg, ast.JoinedStr) and len(arg.values) == 1 and isinstance(arg.values[0], ast.FormattedValue):
        return arg.values[0].value
    return arg


def _carried(body: list[ast.stmt], printed: ast.expr) -> ast.expr | None:
    """The value of `name = value` just before `print(name)`, if `name` is read nowhere else."""
    if len(body) < 2 or not isinstance(printed, ast.Name):
        return None
    before = body[-2]
    if not (isinstance(before, ast.Assign) and len(before.targets) == 1 and isinstance(before.targets[0], ast.Name)
            and before.targets[0].id == printed.id):
        return None
    reads = sum(1 for node in body for n in ast.walk(node)
                if isinstance(n, ast.Name) and n.id == printed.id and isinstance(n.ctx, ast.Load))
    return before.value if reads == 1 else None


class _Columns(ast.NodeTransformer):
    """`df.close` read as `df['close']`: an attribute of a plain name that is not called."""

    def visit_Call(self, node: ast.Call) -> ast.AST:
        func = node.func
        if isinstance(func, ast.Attribute):  # a method: df.sum(), its object may still hold columns
            func.value = self.visit(func.value)
        else:
            node.func = self.visit(func)
        node.args = [self.visit(a) for a in node.args]
        node.keywords = [self.visit(k) for k in node.keywords]
        return node

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        node.value = self.visit(node.value)
        if isinstance(node.value, ast.Name) and isinstance(node.ctx, ast.Load) and not node.attr.startswith("_") \
                and node.attr not in _PROPERTIES:
            return ast.copy_location(ast.Subscript(node.value, ast.Constant(node.attr), ast.Load()), node)
        return node
