"""Ingestion: everything a sandbox hands back is written by the code it ran, so it is checked here
before anything downstream (loop, traces, views) sees it.

Code in a kernel can publish any message it likes: a display whose data is a list, an int as
stream text or as a PNG, strings with lone surrogates (they cannot be encoded as UTF-8 later, in
traces and terminals). The local and E2B sandboxes both pass their outputs through here, so both
hand on the same clean, typed data: str where text is expected, valid base64 for images, no lone
surrogates anywhere. What is dropped leaves a note on the execution's stderr.
"""

from __future__ import annotations

import base64
import binascii
import json
import sys
from typing import Any

from e2b_code_interpreter.models import Execution, ExecutionError, Logs, Result

from ..events import clean_text  # shared: model text and command-line values are cleaned the same way
from .results import cut_middle, result_from_bundle

TEXT_FIELDS = ("text", "html", "markdown", "svg", "latex", "javascript")
#: Text read as text keeps its head and tail past the limit; markup cut short would render
#: broken, so markup past the limit is dropped (with a note) instead.
CUT_FIELDS = ("text", "markdown", "latex")
MAX_TEXT_CHARS = 1_000_000  # per text field of a result, where the sandbox sets no limit of its own
BASE64_FIELDS = {"png": b"\x89PNG\r\n\x1a\n", "jpeg": b"\xff\xd8", "pdf": b""}  # field -> magic
MAX_DEPTH = 64  # nesting kept in JSON values (application/json, unknown MIME types)
# Base64 images and PDFs of one execution, together, at most this many times the text limit: 10 M
# characters by default (7.5 MB of pictures; a plot is about 50 kB). Past it they are dropped with a
# note, so fifty images as large as the kernel's memory are not all kept by the owner.
BINARY_FACTOR = 10
HELD_FACTOR = 40  # bytes of text and JSON kept from all of an execution's results, per character of the limit


JSON_BYTES = 20  # what one character of JSON takes decoded, at most about (measured: 16 to 18)


def held_size(result: Result) -> int:
    """Bytes the result's text and JSON take in memory (base64 fields aside: `binary_size`). A text
    is held at the width of its widest character: one emoji makes a million characters 4 MB, and
    40 results of seven such fields took 1.2 GB in the notebook, each within its limit."""
    size = 0
    for name in (*TEXT_FIELDS, "json", "data", "extra"):
        value = getattr(result, name, None)
        if isinstance(value, str):
            size += sys.getsizeof(value)
        elif value is not None:  # decoded JSON: a list of empty lists is 16 bytes a character of it
            size += JSON_BYTES * json_size(value)
    return size


class Kept:
    """What one execution keeps of its results together, per character of `limit`: base64 pictures
    up to BINARY_FACTOR, text and JSON up to HELD_FACTOR bytes. One bound for the local sandbox,
    which keeps results as they arrive, and for E2B's, whose SDK hands them over at once."""

    def __init__(self, limit: int):
        self.limit, self.binary, self.held = limit, 0, 0

    def admit(self, result: Result) -> str | None:
        """Count `result` in and return None, or return the note saying why it is dropped."""
        binary, held = binary_size(result), held_size(result)
        if self.binary + binary > BINARY_FACTOR * self.limit:
            return (f"[an image output was dropped: {binary:,} characters of base64, past the execution's "
                    f"limit of {BINARY_FACTOR * self.limit:,}]\n")
        if self.held + held > HELD_FACTOR * self.limit:
            return (f"[a display output was dropped: its text takes {held:,} bytes, past the execution's "
                    f"limit of {HELD_FACTOR * self.limit:,} for all of them]\n")
        self.binary, self.held = self.binary + binary, self.held + held
        return None


def binary_size(result: Result) -> int:
    """Characters of the result's base64 fields (png, jpeg, pdf)."""
    return sum(len(v) for v in (getattr(result, name, None) for name in BASE64_FIELDS) if isinstance(v, str))

#: Run in every fresh kernel: ipykernel's packer raises on a lone surrogate (print('\ud800')) and
#: the whole stream flush is lost; this one sends such messages as ASCII JSON instead, escaped,
#: and `clean_text` below replaces the surrogates when they arrive.
KERNEL_SETUP = r'''
def _nbreason_safe_packer():
    import json
    try:
        from jupyter_client.session import json_default
        session = get_ipython().kernel.session
    except Exception:
        return
    pack = session.pack
    def safe_pack(obj):
        try:
            return pack(obj)
        except ValueError:
            return json.dumps(obj, default=json_default, ensure_ascii=True, allow_nan=False).encode("ascii")
    session.pack = safe_pack
_nbreason_safe_packer()
del _nbreason_safe_packer
'''


def as_text(value: Any, default: str = "") -> str:
    """A str for a field that must be text: None gives `default`, anything else its repr."""
    if value is None:
        return default
    return clean_text(value if isinstance(value, str) else repr(value))


def clean_json(value: Any, depth: int = 0) -> Any:
    """A JSON value with clean strings (keys too), nesting cut at MAX_DEPTH."""
    if isinstance(value, str):
        return clean_text(value)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if depth >= MAX_DEPTH:
        return "[nested too deep]"
    if isinstance(value, dict):
        return {clean_text(str(k)): clean_json(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean_json(v, depth + 1) for v in value]
    return clean_text(repr(value))


def json_size(value: Any) -> int:
    """Characters of a cleaned JSON value once written out (linear in its size)."""
    return len(json.dumps(value, ensure_ascii=False))


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    name = type(value).__name__
    return f"{'an' if name[0] in 'aeiou' else 'a'} {name}"


def _valid_base64(value: str, magic: bytes) -> bool:
    try:
        raw = base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        return False
    return raw.startswith(magic)


def clean_result(result: Result, limit: int = MAX_TEXT_CHARS) -> tuple[Result | None, list[str]]:
    """`result` with only well-typed fields, each text field within `limit` characters; None if
    nothing usable is left. Notes say what was dropped or cut."""
    notes: list[str] = []
    fields: dict[str, Any] = {}
    for name in TEXT_FIELDS:
        value = getattr(result, name, None)
        if value is None:
            continue
        if not isinstance(value, str):
            notes.append(f"[a {name} output was dropped: {_kind(value)}, not text]\n")
        elif len(value) <= limit:
            fields[name] = clean_text(value)
        elif name in CUT_FIELDS:
            fields[name] = clean_text(cut_middle(value, limit)[0])
            notes.append(f"[a {name} output of {len(value):,} characters was cut to {limit:,}]\n")
        else:
            notes.append(f"[a {name} output was dropped: {len(value):,} characters, over the limit of {limit:,}]\n")
    for name, magic in BASE64_FIELDS.items():
        value = getattr(result, name, None)
        if value is None:
            continue
        if isinstance(value, str) and _valid_base64(value, magic):
            fields[name] = value
        else:
            notes.append(f"[a {name} output was dropped: not a base64-encoded {name}]\n")
    for name in ("json", "data"):
        if getattr(result, name, None) is not None:
            value = clean_json(getattr(result, name))
            size = json_size(value)
            if size > limit:  # JSON is data: cut short it would mean something else
                notes.append(f"[a {name} output was dropped: {size:,} characters of JSON, over the limit of "
                             f"{limit:,}]\n")
            else:
                fields[name] = value
    extra = getattr(result, "extra", None)
    if extra is not None:
        if isinstance(extra, dict):
            kept, used = {}, 0  # all other MIME types together: at most `limit` characters
            for mime, value in extra.items():
                mime = clean_text(str(mime))
                if mime.startswith("text/") and not isinstance(value, str):
                    notes.append(f"[a {mime} output was dropped: {_kind(value)}, not text]\n")
                    continue
                value = clean_json(value)
                size = len(mime) + (len(value) if isinstance(value, str) else json_size(value))
                if used + size > limit:
                    left = f" ({used:,} already kept for other MIME types)" if used else ""
                    notes.append(f"[a {mime} output was dropped: {size:,} characters, over the limit of "
                                 f"{limit:,}{left}]\n")
                else:
                    kept[mime] = value
                    used += size
            if kept:
                fields["extra"] = kept
        else:
            notes.append(f"[extra output data was dropped: {_kind(extra)}, not a MIME bundle]\n")
    if notes and not fields:
        return None, notes
    cleaned = Result(**fields, is_main_result=bool(result.is_main_result))
    if getattr(result, "chart", None) is not None:  # e2b's own parsed chart object
        cleaned.chart = result.chart
    return cleaned, notes


def result_from_message(data: Any, *, is_main_result: bool,
                        limit: int = MAX_TEXT_CHARS) -> tuple[Result | None, list[str]]:
    """A Result from the `data` of a display_data or execute_result message, checked."""
    if not isinstance(data, dict):
        return None, [f"[a display output was dropped: its data is {_kind(data)}, not a MIME bundle]\n"]
    return clean_result(result_from_bundle(data, is_main_result=is_main_result), limit)


def stream_text(content: Any) -> tuple[str, str | None, list[str]]:
    """(stream name, its text or None, notes) of a `stream` message's content."""
    name = "stderr" if content.get("name") == "stderr" else "stdout"
    text = content.get("text")
    if isinstance(text, str):
        return name, clean_text(text), []
    return name, None, [f"[{name} output was dropped: {_kind(text)}, not text]\n"]


def _capped(text: str, limit: int) -> str:
    return cut_middle(text, limit)[0]  # head and tail: the tail holds the error's last line


def error_from_content(content: dict, limit: int = MAX_TEXT_CHARS) -> ExecutionError:
    """An ExecutionError from an `error` message, every field a clean str of at most `limit`
    characters (head and tail kept)."""
    traceback = content.get("traceback")
    if isinstance(traceback, list):
        traceback = "\n".join(as_text(line) for line in traceback)
    return ExecutionError(_capped(as_text(content.get("ename"), "Error"), limit),
                          _capped(as_text(content.get("evalue")), limit), _capped(as_text(traceback), limit))


def clean_error(error: ExecutionError | None, limit: int = MAX_TEXT_CHARS) -> ExecutionError | None:
    if error is None:
        return None
    return ExecutionError(_capped(as_text(error.name, "Error"), limit), _capped(as_text(error.value), limit),
                          _capped(as_text(error.traceback), limit))


def clean_lines(lines: list[Any], name: str) -> tuple[list[str], list[str]]:
    """Stream chunks as clean str; anything else dropped with a note."""
    kept, notes = [], []
    for line in lines:
        if isinstance(line, str):
            kept.append(clean_text(line))
        else:
            notes.append(f"[{name} output was dropped: {_kind(line)}, not text]\n")
    return kept, notes


def clean_execution(execution: Execution) -> Execution:
    """A whole Execution checked and cleaned (for sandboxes whose SDK builds it, such as E2B)."""
    stdout, notes = clean_lines(list(execution.logs.stdout), "stdout")
    stderr, more = clean_lines(list(execution.logs.stderr), "stderr")
    notes += more
    results, budget = [], Kept(MAX_TEXT_CHARS)
    for result in execution.results:
        if not isinstance(result, Result):
            notes.append(f"[a result was dropped: {_kind(result)}]\n")
            continue
        kept, more = clean_result(result)
        notes += more
        if kept is None:
            continue
        dropped = budget.admit(kept)
        if dropped:
            notes.append(dropped)
        else:
            results.append(kept)
    count = execution.execution_count
    return Execution(results=results, logs=Logs(stdout=stdout, stderr=stderr + notes),
                     error=clean_error(execution.error),
                     execution_count=count if isinstance(count, int) and not isinstance(count, bool) else None)

