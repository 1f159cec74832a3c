"""Tool calls a server left in the reply text.

Offered tools, small models often answer with the call itself as JSON, without the
`<tool_call>` tags their chat template asks for: Qwen2.5-Coder-0.5B replies
`{"name": "run_python", "arguments": {"code": "2**100"}}`, sometimes in a ```json fence.
llama.cpp's parser then returns it as content, and the tools protocol would see no call.
A reply that is nothing but such calls, to tools that were offered, is read as those calls
(a last call cut off by the token limit is dropped); anything else (prose, a python block, a
call to an unknown tool) stays text.
"""

from __future__ import annotations

import json
import re
import uuid

from .base import ToolCall

# Between calls only: a fence or tag inside a call's arguments (code that prints "```") is code.
_BETWEEN = re.compile(r"(?:\s|,|```(?:json)?|</?tool_call>)*")


def calls_in_text(text: str, tool_names: list[str]) -> list[ToolCall]:
    """The calls `text` consists of, or [] when it is anything more (or less) than calls."""
    body = text or ""
    at = _BETWEEN.match(body).end()
    if not body.startswith("{", at):
        return []
    decoder = json.JSONDecoder()
    calls = []
    while at < len(body):
        try:
            item, at = decoder.raw_decode(body, at)
        except (ValueError, RecursionError):  # not JSON, or nested deep enough to break the parser
            # Calls up to one cut off by the token limit (small models repeat calls until it):
            # the complete ones are still calls.
            return calls if calls and body[at] == "{" else []
        call = _call(item, tool_names)
        if call is None:
            return []
        calls.append(call)
        at = _BETWEEN.match(body, at).end()
    return calls


def _call(item: object, tool_names: list[str]) -> ToolCall | None:
    if not isinstance(item, dict) or set(item) != {"name", "arguments"} or item["name"] not in tool_names:
        return None
    arguments = item["arguments"]
    if isinstance(arguments, str):  # some models send the arguments JSON-encoded, like the API does
        try:
            arguments = json.loads(arguments)
        except (ValueError, RecursionError):  # not JSON, or nested deep enough to break the parser
            return None
    if not isinstance(arguments, dict):
        return None
    return ToolCall(id=f"call_{uuid.uuid4().hex[:12]}", name=item["name"], arguments=json.dumps(arguments))
