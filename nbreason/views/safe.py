"""Hostile text made safe to show, in a page or in a terminal.

Whatever the sandbox displays, whatever the model writes and whatever a trace file holds may
have been written by an attacker (a trace can be hand-crafted), so every renderer passes it
through here at render time, whatever cleaning happened before:

- HTML goes through nh3 (the Rust sanitiser ammonia) with a short allow-list: tables, text
  formatting, links to http(s)/mailto, images only as inline raster data URLs. No scripts,
  styles, event handlers, forms, frames, SVG or MathML survive, and no remote image can
  report back that (or where) a page was opened.
- SVG is never inlined: a checked SVG becomes `<img src="data:image/svg+xml;base64,...">`,
  where browsers run no script and load nothing.
- Base64 image payloads are decoded, checked against their format's signature and
  re-encoded, so the value put into an attribute is pure base64.
- Terminal text keeps newlines and tabs; every other control character (escape sequences,
  OSC titles and hyperlinks, carriage returns, BEL, C1 controls, bidirectional overrides,
  zero-width and tag characters) is shown as a visible escape such as `\\x1b`.
- Code shown for review (the code panels of the widgets, the report and the replay) spells out
  its hidden characters, so it reads as it runs.
- Text placed in Markdown (exported notebooks) is escaped, or put in a code span or fence that
  none of its backticks can close: nbconvert renders raw HTML in Markdown.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import xml.parsers.expat

import nh3

# --- HTML --------------------------------------------------------------------------------

TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "code", "col", "colgroup", "dd", "del", "details",
    "div", "dl", "dt", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li",
    "mark", "ol", "p", "pre", "q", "s", "samp", "small", "span", "strong", "sub", "summary", "sup",
    "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul", "var",
}
ATTRIBUTES = {
    "a": {"href"}, "img": {"src", "alt", "width", "height"},
    "td": {"colspan", "rowspan", "align"}, "th": {"colspan", "rowspan", "align", "scope"},
    "col": {"span"}, "colgroup": {"span"}, "ol": {"start"},
}
# Removed with everything inside them (the rest of a disallowed tag's content stays as text).
DROPPED_WITH_CONTENT = {
    "script", "style", "template", "iframe", "frame", "frameset", "object", "embed", "applet", "svg", "math",
    "noscript", "noembed", "noframes", "xmp", "plaintext", "textarea", "select", "title", "head",
}
IMAGE_DATA_URL = re.compile(r"data:image/(png|jpeg|gif|webp|svg\+xml);base64,([A-Za-z0-9+/]*={0,2})", re.I)


def _is_base64(text: str) -> bool:
    if len(text) % 4:
        return False
    try:
        base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _attribute(tag: str, name: str, value: str) -> str | None:
    if tag == "img" and name == "src":
        # Inline images only: a remote image would tell its server when and where the page was read.
        match = IMAGE_DATA_URL.fullmatch(value.strip())
        return value.strip() if match and _is_base64(match.group(2)) else None
    if tag == "a" and name == "href" and not re.match(r"\s*(https?|mailto):", value, re.I):
        return None  # data: and anything else without a safe scheme
    return value


def clean_html(markup) -> str:
    """HTML from an untrusted source, reduced to harmless markup (text survives, script does not)."""
    if not isinstance(markup, str):
        markup = "" if markup is None else str(markup)
    return nh3.clean(
        markup, tags=TAGS, clean_content_tags=DROPPED_WITH_CONTENT, attributes=ATTRIBUTES,
        attribute_filter=_attribute, url_schemes={"http", "https", "mailto", "data"}, url_relative="deny",
        link_rel="noopener noreferrer", set_tag_attribute_values={"a": {"target": "_blank"}},
        strip_comments=True,
    )


MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~&$:])")


def markdown_text(value) -> str:
    """Untrusted text placed in Markdown, so that it renders as the same text: every character
    Markdown (or HTML inside it) would read as syntax is backslash-escaped; lines are joined."""
    text = value if isinstance(value, str) else str(value)
    return MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(text.splitlines()))


def code_span(value) -> str:
    """Untrusted text as one Markdown code span: literal (no HTML, no links), whatever backticks it
    holds, because the fence is longer than its longest run of them."""
    text = " ".join((value if isinstance(value, str) else str(value)).splitlines())
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text[:1] in ("`", " ") or text[-1:] in ("`", " ") else ""  # one space each side is stripped
    return f"{fence}{pad}{text}{pad}{fence}"


def fenced(value, language: str = "") -> str:
    """Untrusted text as a fenced Markdown code block that no line of it (whatever ends it) can close."""
    text = value if isinstance(value, str) else str(value)
    # Longer than any run of backticks anywhere: Markdown also ends a line at a lone carriage return
    # (`x\r```` closes a fence that Python's `^` would not see at a line start).
    fence = "`" * max(3, max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    return f"{fence}{language}\n{text}\n{fence}"


# --- images ------------------------------------------------------------------------------

SIGNATURES = {"image/png": (b"\x89PNG\r\n\x1a\n",), "image/jpeg": (b"\xff\xd8\xff",)}
MAX_SVG_CHARS = 5_000_000
SVG_NAMESPACE = "http://www.w3.org/2000/svg"


def image_base64(mime: str, payload) -> str | None:
    """A PNG/JPEG payload as canonical base64, or None if it is not one (whatever it claims)."""
    if not isinstance(payload, str):
        return None
    try:
        raw = base64.b64decode("".join(payload.split()), validate=True)
    except (binascii.Error, ValueError):
        return None
    if not raw.startswith(SIGNATURES[mime]):
        return None
    return base64.b64encode(raw).decode("ascii")


class _NotSVG(Exception):
    pass


def _refuse(*_args) -> None:
    raise _NotSVG("entity declarations are not allowed")  # entity expansion bombs


def svg_data_url(svg) -> str | None:
    """A well-formed SVG document as a data URL for `<img src>`, or None.

    As an image, an SVG runs no script and loads nothing, whatever it contains; the check
    keeps malformed or non-SVG payloads (and XML entity bombs) out."""
    if not isinstance(svg, str) or len(svg) > MAX_SVG_CHARS:
        return None
    data = svg.encode("utf-8")
    parser = xml.parsers.expat.ParserCreate(encoding="utf-8", namespace_separator=" ")
    parser.EntityDeclHandler = _refuse
    parser.UnparsedEntityDeclHandler = _refuse
    root: list[str] = []
    parser.StartElementHandler = lambda name, _attrs: root or root.append(name)
    try:
        parser.Parse(data, True)
    except (xml.parsers.expat.ExpatError, _NotSVG, ValueError):
        return None
    if not root or root[0] not in ("svg", f"{SVG_NAMESPACE} svg"):
        return None
    return "data:image/svg+xml;base64," + base64.b64encode(data).decode("ascii")


# --- Jupyter output bundles ----------------------------------------------------------------

# LaTeX commands that make links, set attributes, load extensions or act on the page in a math
# renderer (JupyterLab's MathJax filters some, other front ends may not; no plotting library needs
# them): \mmlToken takes any attribute (an href among them), \mathtip/\texttip/\toggle are MathJax's actions.
ACTIVE_LATEX = re.compile(r"\\(href|url|html\w*|class|cssId|style|data|require|unicode|mmlToken|mathtip|texttip|"
                          r"toggle)\b", re.I)


KNOWN_MIME = {"text/html", "text/markdown", "image/svg+xml", "image/png", "image/jpeg", "text/latex",
              "application/json", "text/plain"}


def _text(value) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str) if value is not None else ""


def safe_bundle(data: dict) -> dict:
    """A display bundle (MIME type -> value) with only inert content.

    Kept: sanitised `text/html`, checked PNG/JPEG, JSON, harmless LaTeX, plain text.
    Converted: `text/markdown` (to sanitised HTML, raw HTML in it escaped), `image/svg+xml`
    (to an `<img>` of the checked SVG). Everything else, `application/javascript` above all,
    is dropped, with a note in the plain text. Front ends show the richest type they know, so
    a rich type that cannot be kept must not leave a raw one behind."""
    from .html import markdown_html

    out: dict = {}
    notes = []
    html = data.get("text/html")
    if html is not None:
        out["text/html"] = clean_html(_text(html))
    markdown = data.get("text/markdown")
    if markdown is not None and "text/html" not in out:
        out["text/html"] = markdown_html(_text(markdown))
    svg = data.get("image/svg+xml")
    if svg is not None and "text/html" not in out:
        url = svg_data_url(svg)
        if url:
            out["text/html"] = f'<img src="{url}" alt="SVG image"/>'
        else:
            notes.append("[image/svg+xml not shown: not a well-formed SVG document]")
    for mime in ("image/png", "image/jpeg"):
        if data.get(mime) is not None:
            payload = image_base64(mime, data[mime])
            if payload:
                out[mime] = payload
            else:
                notes.append(f"[{mime} not shown: not a valid {mime.split('/')[1].upper()} image]")
    latex = data.get("text/latex")
    if isinstance(latex, str) and not ACTIVE_LATEX.search(latex):
        out["text/latex"] = latex
    if isinstance(data.get("application/json"), (dict, list)):
        out["application/json"] = data["application/json"]
    notes += [f"[{mime} not shown]" for mime in data if mime not in KNOWN_MIME]
    lines = ([] if data.get("text/plain") is None else [_text(data["text/plain"])]) + notes
    if lines:
        out["text/plain"] = "\n".join(lines)
    return out


# --- terminals ---------------------------------------------------------------------------

# Characters that make text read differently from what it is ("Trojan Source"): every format
# character (Unicode category Cf: bidirectional marks, embeddings, overrides and isolates,
# zero-width characters, tags), line and paragraph separators, variation selectors, and the
# fillers that render blank (U+3164 HANGUL FILLER is even a valid Python name). Unicode 15.
INVISIBLE = ("\u00ad\u034f\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891\u08e2\u115f-\u1160\u180b-\u180f"
             "\u200b-\u200f\u2028-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff9-\ufffb"
             "\U000110bd\U000110cd\U00013430-\U00013438\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
             "\U000e0000-\U000e007f\U000e0100-\U000e01ef")
HIDDEN = re.compile(f"[{INVISIBLE}]")
# C0 controls but tab and newline, DEL, C1 controls, and the invisible characters above.
TERMINAL_CONTROL = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{INVISIBLE}]")


def visible(match: re.Match) -> str:
    """A hidden or control character as its escape: `\\u202e`, `\\x1b`."""
    char = match.group()
    code = ord(char)
    if char in "\r\t\n":
        return repr(char)[1:-1]
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def shown_code(code: str) -> str:
    """Code as a reviewer must see it: hidden characters spelled out (the code that runs keeps them)."""
    return HIDDEN.sub(visible, code)


def terminal_text(value) -> str:
    """Text for a terminal: control characters as visible escapes (`\\x1b`, `\\r`, `\\x9b`)."""
    text = value if isinstance(value, str) else str(value)
    text = text.replace("\r\n", "\n")
    return TERMINAL_CONTROL.sub(visible, text)
