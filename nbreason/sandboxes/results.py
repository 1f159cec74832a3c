"""Execution results: from Jupyter MIME bundles, to the text a model sees, to JSON and back.

Everything here works on e2b-code-interpreter's types, so it serves every sandbox.
"""

from __future__ import annotations

import base64
import binascii
import html.parser
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

def image_size(kind: str, payload: str) -> tuple[int, int] | None:
    """(width, height) of a base64 PNG/JPEG or an SVG string, if it can be read cheaply."""
    try:
        if kind == "svg":
            w = re.search(r'<svg[^>]*\swidth="([\d.]+)', payload)
            h = re.search(r'<svg[^>]*\sheight="([\d.]+)', payload)
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


class _HTMLText(html.parser.HTMLParser):
    """HTML to plain text; table rows become `a | b | c` lines."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []
        self.row: list[str] | None = None
        self.cell: list[str] = []
        self.text: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("style", "script"):
            self.skip += 1
        elif tag == "tr":
            self._flush_text()
            self.row = []
        elif tag in ("td", "th"):
            self.cell = []
        elif tag in ("br", "p", "div", "li") and self.row is None:
            self._flush_text()

    def handle_endtag(self, tag):
        if tag in ("style", "script"):
            self.skip = max(0, self.skip - 1)
        elif tag in ("td", "th") and self.row is not None:
            self.row.append(" ".join("".join(self.cell).split()))
            self.cell = []
        elif tag == "tr" and self.row is not None:
            self.lines.append(" | ".join(self.row))
            self.row = None

    def handle_data(self, data):
        if self.skip:
            return
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


def html_to_text(markup: str) -> str:
    parser = _HTMLText()
    parser.feed(markup)
    parser.close()
    return parser.result()


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
