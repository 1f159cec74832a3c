"""Reading the model's reply: what it plans, what code it wants to run, what it answers.

Two protocols: native tool calls (run_python / final_answer) for servers that support
them, and plain text (a fenced ```python block and a `FINAL ANSWER:` line) for small
local models.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field

from .answers import unwrap
from .models.base import Completion
from .prompts import FINAL_MARKER

FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.S)
FINAL = re.compile(re.escape(FINAL_MARKER) + r"\s*(.+)", re.I | re.S)
NON_PYTHON = {"bash", "sh", "shell", "console", "text", "json", "output", "javascript", "js", "r", "sql"}


@dataclass
class Action:
    plan: str = ""
    code: str | None = None
    answer: str | None = None
    call_id: str | None = None  # tool protocol: the run_python call to answer
    notes: list[str] = field(default_factory=list)  # parse problems, told to the user and the model


def _only_shows_output(code: str) -> bool:
    """A block that is just a literal (e.g. `72.0`): the model showing the output it expects."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return False
    return bool(tree.body) and all(
        isinstance(node, ast.Expr) and isinstance(node.value, (ast.Constant, ast.UnaryOp, ast.Tuple, ast.List))
        for node in tree.body)


def _clean_answer(text: str) -> str:
    """The answer's first line, unwrapped (lead-ins, markdown, LaTeX wrappers, a closing full stop)."""
    return unwrap(text.strip().splitlines()[0]) if text.strip() else ""


def from_text(text: str) -> Action:
    action = Action()
    blocks = FENCE.findall(text)
    python = [code for lang, code in blocks if lang.lower() in ("", "python", "py", "python3", "ipython")]
    other = [lang for lang, _ in blocks if lang.lower() in NON_PYTHON]
    shown = [c for c in python if _only_shows_output(c)]
    if shown and len(shown) < len(python):
        python = [c for c in python if c not in shown]
        action.notes.append(f"{len(shown)} block(s) that only showed expected output were not run")
    if python:
        # Several python blocks: run them together, in order; the model meant one program.
        action.code = "\n\n".join(c.strip("\n") for c in python if c.strip())
        if len(python) > 1:
            action.notes.append(f"{len(python)} code blocks were joined into one")
    elif other:
        action.notes.append(f"a ```{other[0]} block was ignored: only Python runs here")
    first_fence = text.find("```")
    head = text if first_fence < 0 else text[:first_fence]
    match = FINAL.search(FENCE.sub("", text))
    if match:
        action.answer = _clean_answer(match.group(1))
        head = head[: head.upper().find(FINAL_MARKER)] if FINAL_MARKER in head.upper() else head
    action.plan = head.strip()
    return action


def from_completion(completion: Completion) -> Action:
    if not completion.tool_calls:
        return from_text(completion.text)
    action = Action(plan=completion.text.strip())
    for call in completion.tool_calls:
        try:
            args = json.loads(call.arguments or "{}")
            if not isinstance(args, dict):
                raise ValueError("arguments are not an object")
        except ValueError as exc:
            action.notes.append(f"tool call {call.name} had invalid arguments ({exc})")
            action.call_id = action.call_id or call.id
            continue
        if call.name == "run_python" and action.code is None:
            action.code = str(args.get("code", ""))
            action.call_id = call.id
        elif call.name == "final_answer" and action.answer is None:
            action.answer = _clean_answer(str(args.get("answer", "")))
            action.call_id = action.call_id or call.id
        elif call.name not in ("run_python", "final_answer"):
            action.notes.append(f"unknown tool {call.name!r} was ignored")
            action.call_id = action.call_id or call.id
    return action


def choose_protocol(configured: str, supports_tools: bool | None, preferred: str = "tools") -> str:
    """How the model is asked to act: native tool calls, or fenced code in text. "auto" asks what
    the model's profile prefers (text for the embedded models, as measured), and text from a
    server known to refuse tools; tools otherwise, falling back to text if the server refuses them."""
    if configured in ("tools", "text"):
        return configured
    return "text" if supports_tools is False else preferred
