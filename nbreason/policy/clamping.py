"""What a program did to its own result: a value clamped at zero. No model involved.

  clamped  the answer is 0 and the program clamped a value at 0 (`max(0, x)`, `max(x, 0.0)`,
           `np.maximum(x, 0)`, `x.clip(lower=0)`, `np.clip(x, 0, None)`): the value it
           computed was below 0 and the clamp hid it. On the data tune half the `magnitude` rule
           vetoed a drawdown of -2501 and the next program printed `max(0, drawdown)`, 0, for a
           fall of 8693: a veto met without being understood. The word problems' quantities-table
           route did the same twice (0 for 14 and for 200).

A signal at 0 (a veto, as in policy/plausibility.py): the answer is sent back told why, and a
check's route is repaired told why. A program that clamps where the clamp did not bind (its
answer is not 0) gets no signal, nor one whose question counts only what lies beyond a threshold
("overtime beyond 40 hours": there the clamp is the formula).
"""

from __future__ import annotations

import ast
import re
from typing import Sequence

from ..answers import number
from ..events import Signal

RULES = ("clamped",)
_LOWER = {"lower", "a_min", "min"}  # pandas' clip(lower=), numpy's clip(a_min=), torch's clamp(min=)


# A question that itself counts only what lies beyond a threshold ("overtime beyond 40 hours") makes
# max(0, hours - 40) its right formula, and 0 a right answer
_THRESHOLD = re.compile(r"\b(?:beyond|in excess of|exceed\w*|excess|overtime|threshold|"
                        r"(?:above|over) (?:\$\s?)?\d+(?:\.\d+)?(?![\d.])(?!\s*(?:days?|weeks?|months?|years?|hours?|minutes?|"
                        r"nights?|times|rounds|games)\b))", re.I)  # "over 3 days" is a span, not a threshold


def clamping(answer: str | None, code: Sequence[str], question: str = "") -> list[Signal]:
    """The `clamped` signal if it applies (see the module docstring); [] otherwise.
    `code`: the blocks of the program that gave the answer."""
    stated = number(answer)
    if stated is None or stated.value != 0 or _THRESHOLD.search(question):
        return []
    for block in code:
        call = _clamp_at_zero(block)
        if call:
            return [Signal("clamped", 0.0, f"{str(answer).strip()} is where the program clamped its result "
                                             f"({call}): the value it computed was below 0, and clamping hides "
                                             "that instead of fixing it; print the value before clamping and "
                                             "find why it is negative", 0.0)]
    return []


def _clamp_at_zero(block: str) -> str | None:
    """How the block clamps a value at 0 (`max(0, …)`), or None if it does not."""
    try:
        tree = ast.parse(block)
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and (shown := _shown(node)):
                return shown
    except (SyntaxError, ValueError, RecursionError, MemoryError):  # a model's reply, too deep to read
        return None
    return None


def _zero(node: ast.expr) -> bool:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        node = node.operand
    return (isinstance(node, ast.Constant) and type(node.value) in (int, float) and node.value == 0)


def _shown(call: ast.Call) -> str | None:
    func = call.func
    name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
    # the builtin max, and np.maximum; np.max(x, 0) is a maximum over axis 0
    builtin = isinstance(func, ast.Name) and name == "max"
    if (builtin or name == "maximum") and len(call.args) == 2 and not call.keywords:
        if _zero(call.args[0]):
            return f"{name}(0, …)"
        if _zero(call.args[1]):
            return f"{name}(…, 0)"
    if name in ("clip", "clamp"):
        # x.clip(0, hi) and np.clip(x, 0, hi): the lower bound is the first or the second argument
        first = 1 if isinstance(func, ast.Name) or (isinstance(func, ast.Attribute) and _module(func.value)) else 0
        if len(call.args) > first and _zero(call.args[first]):
            return f"{name}(…, 0, …)" if first else f"{name}(0, …)"
        if any(k.arg in _LOWER and _zero(k.value) for k in call.keywords):
            return f"{name}(lower=0)"
    return None


def _module(node: ast.expr) -> bool:
    """`np`, `numpy`, `torch`: a module's clip takes the array first."""
    return isinstance(node, ast.Name) and node.id in ("np", "numpy", "torch", "pd", "pandas")
