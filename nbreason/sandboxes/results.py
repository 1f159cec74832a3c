"""Execution results: from Jupyter MIME bundles, to the text a model sees, to JSON and back.

Everything here works on e2b-code-interpreter's types, so it serves every sandbox.
"""

from __future__ import annotations

import base64
import binascii
import html
import io
import json
import re
import struct

from e2b_code_interpreter.models import Execution, ExecutionError, Logs, Result

#: MIME type -> Result field. Anything else is kept in `Result.extra`.
MIME_FIELDS = {
    "text/plain": "text",
    "text/html": "html",
    "text/markdown": "markdown",
    "image/svg+xml": "svg",
    "image/png": "png",
    "image/jpeg": "jpeg",
    "application/pdf": "pdf",
    "text/latex": "latex",
    "application/json": "json",
    "application/javascript": "javascript",
}
IMAGE_FIELDS = ("png", "jpeg", "svg")
#: Widget views only render in the kernel that owns their model; their text/plain stands in.
DROPPED_MIME = {"application/vnd.jupyter.widget-view+json", "application/vnd.jupyter.widget-state+json"}
RESULT_FIELDS = tuple(MIME_FIELDS.values()) + ("data", "extra")

ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")


def strip_ansi(text: str) -> str:
    return ANSI.sub("", text)


def result_from_bundle(data: dict, *, is_main_result: bool = False) -> Result:
    """A Result from a Jupyter display/execute_result `data` dict."""
    fields: dict = {}
    extra: dict = {}
    for mime, value in data.items():
        if mime in DROPPED_MIME:
            continue
        name = MIME_FIELDS.get(mime)
        if name:
            fields[name] = value
        else:
            extra[mime] = value
    return Result(**fields, is_main_result=is_main_result, extra=extra or None)


def has_image(result: Result) -> bool:
    return any(getattr(result, name, None) for name in IMAGE_FIELDS)


# --- the text a model sees -------------------------------------------------------------------

# The sandbox writes the SVG: only a bounded head is searched, so the cost never depends on its size
# (a regex over the whole text backtracked quadratically on '<svg ' * n).
SVG_PROLOG_CHARS = 65_536  # XML declaration, doctype and comments before the root element
SVG_TAG_CHARS = 4_096
_SVG_WIDTH = re.compile(r'\swidth="([\d.]+)')
_SVG_HEIGHT = re.compile(r'\sheight="([\d.]+)')


def _svg_root_tag(payload: str) -> str:
    start = payload.find("<svg", 0, SVG_PROLOG_CHARS)
    if start < 0:
        return ""
    end = payload.find(">", start, start + SVG_TAG_CHARS)
    return payload[start:end if end >= 0 else start + SVG_TAG_CHARS]


def image_size(kind: str, payload: str) -> tuple[int, int] | None:
    """(width, height) of a base64 PNG/JPEG or an SVG string, if it can be read cheaply."""
    try:
        if kind == "svg":
            tag = _svg_root_tag(payload)
            w = _SVG_WIDTH.search(tag)
            h = _SVG_HEIGHT.search(tag)
            return (round(float(w.group(1))), round(float(h.group(1)))) if w and h else None
        if kind == "png":
            head = base64.b64decode(payload[:44])  # signature + IHDR fit in 33 bytes
            if head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR":
                return struct.unpack(">II", head[16:24])
            return None
        from PIL import Image  # JPEG sizes need a real parser

        with Image.open(io.BytesIO(base64.b64decode(payload))) as image:
            return image.size
    except (ImportError, ValueError, OSError, binascii.Error, struct.error):
        return None


def describe_image(result: Result) -> str:
    for name in IMAGE_FIELDS:
        payload = getattr(result, name, None)
        if payload:
            mime = "image/svg+xml" if name == "svg" else f"image/{name}"
            size = image_size(name, payload)
            return f"[{mime} {size[0]}x{size[1]}]" if size else f"[{mime}]"
    return ""


class _HTMLText:
    """HTML to plain text; table rows become `a | b | c` lines."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.row: list[str] | None = None
        self.cell: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag):
        if tag == "tr":
            self._flush_text()
            self.row = []
        elif tag in ("td", "th"):
            self.cell = []
        elif tag in ("br", "p", "div", "li") and self.row is None:
            self._flush_text()

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.row is not None:
            self.row.append(" ".join("".join(self.cell).split()))
            self.cell = []
        elif tag == "tr" and self.row is not None:
            self.lines.append(" | ".join(self.row))
            self.row = None

    def handle_data(self, data):
        if self.row is not None:
            self.cell.append(data)
        else:
            self.text.append(data)

    def _flush_text(self):
        text = " ".join("".join(self.text).split())
        if text:
            self.lines.append(text)
        self.text = []

    def result(self) -> str:
        self._flush_text()
        return "\n".join(self.lines)


# A tokenizer that runs in one pass (the stdlib html.parser rescans to the end for every
# unclosed '<', quadratic on '<a ' * n). A tag must close before the next '<', else its '<' is
# text (so is a quoted '<'); possessive repeats never backtrack.
_TAG = re.compile(r"""<(/?)([A-Za-z][A-Za-z0-9:-]*+)(?:[^<>"']++|"[^"<]*+"|'[^'<]*+')*+>""")
_DECLARATION = re.compile(r"<[!?][^<>]*+>")  # doctype, processing instruction
_RAW_END = {"script": re.compile(r"</script\s*>", re.IGNORECASE), "style": re.compile(r"</style\s*>", re.IGNORECASE)}


def html_to_text(markup: str) -> str:
    out = _HTMLText()
    pos, size = 0, len(markup)
    while pos < size:
        lt = markup.find("<", pos)
        if lt < 0:
            out.handle_data(html.unescape(markup[pos:]))
            break
        if lt > pos:
            out.handle_data(html.unescape(markup[pos:lt]))
        if markup.startswith("<!--", lt):
            end = markup.find("-->", lt + 4)
            if end < 0:
                break  # an open comment hides the rest
            pos = end + 3
            continue
        tag = _TAG.match(markup, lt)
        if tag is None:
            declaration = _DECLARATION.match(markup, lt)
            if declaration is None:
                out.handle_data("<")
                pos = lt + 1
            else:
                pos = declaration.end()
            continue
        pos = tag.end()
        name = tag.group(2).lower()
        if tag.group(1):
            out.handle_endtag(name)
        elif name in _RAW_END:  # script and style text is not shown
            end = _RAW_END[name].search(markup, pos)
            if end is None:
                break
            pos = end.end()
        else:
            out.handle_starttag(name)
    return out.result()


def result_text(result: Result) -> str:
    """One result as text: its plain text, else a description of what it is."""
    image = describe_image(result)
    text = result.text or ""
    if image:
        # "<Figure size 640x480 with 1 Axes>" adds nothing to the image line.
        return image if not text or (text.startswith("<") and text.endswith(">")) else f"{image} {text}"
    if text:
        return text
    if result.html:
        return html_to_text(result.html)
    for name in ("markdown", "latex"):
        if getattr(result, name, None):
            return getattr(result, name)
    if result.json is not None:
        return json.dumps(result.json)[:10_000]
    return "[" + ", ".join(result.formats()) + "]" if result.formats() else ""


def traceback_tail(error: ExecutionError, lines: int = 8) -> str:
    """The last lines of a traceback (where it failed), ending with `Name: value`."""
    kept = [ln.rstrip() for ln in strip_ansi(error.traceback or "").splitlines()
            if ln.strip() and not set(ln.strip()) <= {"-"}]
    headline = f"{error.name}: {error.value}" if error.value else error.name
    if kept and kept[-1].strip() == headline.strip():
        kept.pop()
    return "\n".join(kept[-lines:] + [headline])


def cut_middle(text: str, max_chars: int) -> tuple[str, int]:
    """Keep the head and tail of `text` within about `max_chars`; return it and how much was cut."""
    if max_chars <= 0 or len(text) <= max_chars:
        return text, 0
    head = max_chars * 3 // 5
    tail = max_chars - head
    cut = len(text) - head - tail
    return f"{text[:head]}\n… {cut} characters cut …\n{text[len(text) - tail:]}", cut


def summarize(execution: Execution, max_chars: int = 2000) -> tuple[str, int]:
    """The text a model sees for one execution, and how many characters were left out."""
    parts: list[str] = []
    stdout = "".join(execution.logs.stdout)
    stderr = "".join(execution.logs.stderr)
    if stdout.strip():
        parts.append(stdout.rstrip("\n"))
    if stderr.strip():
        parts.append("[stderr]\n" + stderr.rstrip("\n"))
    for result in execution.results:
        text = result_text(result)
        if text:
            parts.append(text)
    if execution.error:
        parts.append(traceback_tail(execution.error))
    text = "\n".join(parts) if parts else "(no output)"
    return cut_middle(text, max_chars)


# --- JSON ------------------------------------------------------------------------------------

def result_to_json(result: Result) -> dict:
    data = {name: getattr(result, name, None) for name in RESULT_FIELDS}
    data = {k: v for k, v in data.items() if v is not None}
    data["is_main_result"] = result.is_main_result
    return data


def execution_to_json(execution: Execution) -> dict:
    """A plain dict (for events and traces): results with their MIME data, logs, error."""
    error = execution.error
    return {
        "results": [result_to_json(r) for r in execution.results],
        "stdout": list(execution.logs.stdout),
        "stderr": list(execution.logs.stderr),
        "error": {"name": error.name, "value": error.value, "traceback": error.traceback} if error else None,
        "execution_count": execution.execution_count,
    }


def execution_from_json(data: dict) -> Execution:
    error = data.get("error")
    return Execution(
        results=[Result(**r) for r in data.get("results", [])],
        logs=Logs(stdout=list(data.get("stdout", [])), stderr=list(data.get("stderr", []))),
        error=ExecutionError(**error) if error else None,
        execution_count=data.get("execution_count"),
    )


def last_line(text: str | None) -> str | None:
    """The last non-blank line of printed output: where a program that "prints only the final
    answer" puts it."""
    lines = [line.strip() for line in (text or "").strip().splitlines() if line.strip()]
    return lines[-1] if lines else None
