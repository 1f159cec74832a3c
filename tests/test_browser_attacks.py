"""Hostile output in the real JupyterLab: a `%%reason` run whose model-written code displays HTML
with `onerror`, an SVG with `onload`, a `<script>` and Markdown with raw HTML. Nothing may run:
not in the live widgets, not in the static copy `_repr_html_` gives, not in the copy saved with
the notebook, not in a replay. Screenshots go to tests/artifacts/."""

from __future__ import annotations

import json
import time
from pathlib import Path

import nbformat
import pytest

from tests.support.lab import Lab
from tests.support.scripted_server import Reply, ScriptedServer

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = next((p for p in ("/usr/lib/chromium/chromium", "/usr/bin/chromium") if Path(p).exists()), None)

KERNEL_IDLE = """() => {
  const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const kernel = panel && panel.sessionContext && panel.sessionContext.session && panel.sessionContext.session.kernel;
  return !!kernel && kernel.status === 'idle';
}"""
# Every payload sets its own window.__pwned_* flag: which one fired says which route failed.
FIRED = "() => Object.keys(window).filter(k => k.startsWith('__pwned'))"
JS_LINKS = "() => Array.from(document.querySelectorAll('a[href]')).map(a => a.href)" \
           ".filter(h => /^\\s*(javascript|data|vbscript):/i.test(h))"
# Unfold every step, live (widget headers) and static (<details>, which also fires any ontoggle).
OPEN_ALL_STEPS = """() => {
  document.querySelectorAll('.jupyter-widget-Collapse-header').forEach(h => {
    if (!h.parentElement.classList.contains('jupyter-widget-Collapse-open')) h.click(); });
  document.querySelectorAll('.jp-Notebook details').forEach(d => { d.open = true; });
}"""
SHOWN_IMAGES = """(selector) => Array.from(document.querySelectorAll(selector))
  .filter(img => img.complete && img.naturalWidth > 0).map(img => img.src.slice(0, 26))"""

SANDBOX_CODE = r'''
from IPython.display import HTML, SVG, Markdown, Javascript, display
import pandas as pd
display(HTML('<b>bold</b><img src=x onerror="window.__pwned_html_img=1;alert(1)">'
             '<script>window.__pwned_html_script=1</script>'
             '<svg onload="window.__pwned_inline_svg=1"></svg>'
             '<a href="javascript:window.__pwned_html_link=1">link</a>'))
display(SVG('<svg xmlns="http://www.w3.org/2000/svg" width="60" height="30" onload="window.__pwned_svg=1">'
            '<script>window.__pwned_svg_script=1</script><rect width="60" height="30" fill="teal"/></svg>'))
display(Markdown('*md* <img src=x onerror="window.__pwned_markdown=1">'))
display(Javascript('window.__pwned_javascript=1'))
display(pd.DataFrame({"region": ["West", "East"], "amount": [170, 60]}))
print("shown")
'''.strip()

PLAN = ("Show the results. <img src=x onerror=\"window.__pwned_plan=1\"> "
        "[docs](javascript:window.__pwned_plan_link=1) $\\href{javascript:window.__pwned_tex=1}{tex}$")


def hostile_model(body: dict) -> Reply:
    if not any(m["role"] == "assistant" for m in body["messages"]):
        return Reply(f"{PLAN}\n```python\n{SANDBOX_CODE}\n```")
    return Reply('FINAL ANSWER: shown <img src=x onerror="window.__pwned_answer=1">')


def notebook(path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        nbformat.v4.new_code_cell("%load_ext nbreason"),
        nbformat.v4.new_code_cell("%%reason -o run --max-steps 3 --trace attack.jsonl\n"
                                  "Show the sales results, <img src=x onerror=\"window.__pwned_question=1\">"),
        nbformat.v4.new_code_cell("run"),  # RunResult._repr_html_: the static copy
        nbformat.v4.new_code_cell("from nbreason.trace import read_trace\nfrom nbreason.views.replay import ReplayView\n"
                                  "ReplayView(read_trace('attack.jsonl')).show_all()"),
    ]
    nbformat.write(nb, path)


@pytest.fixture
def lab_page(tmp_path):
    playwright = pytest.importorskip("playwright.sync_api")
    if CHROMIUM is None:
        pytest.skip("Debian chromium is not installed")
    notebook(tmp_path / "attack.ipynb")
    with ScriptedServer([hostile_model] * 20) as server:
        env = {"NBREASON_BASE_URL": server.base_url, "NBREASON_MODEL": "scripted",
               "NBREASON_CONFIG": str(tmp_path / "none.toml"), "PYTHONPATH": str(ROOT)}
        with Lab(tmp_path, env=env) as lab, playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                        args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
            page = browser.new_page(viewport={"width": 1280, "height": 1400})
            page.dialogs = []
            page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
            try:
                page.goto(lab.url("lab/tree/attack.ipynb"))
                page.wait_for_function(KERNEL_IDLE, timeout=90_000)
                yield page, tmp_path
            finally:
                browser.close()


def settle(page, seconds: float = 2.0) -> None:
    """Give failing images, `onload` handlers and MathJax time to do whatever they would do."""
    page.evaluate(OPEN_ALL_STEPS)
    time.sleep(seconds)


def run_cell(page, index: int, shows: str) -> None:
    """Run one cell (not awaited: the promise ends with the cell) and wait until `shows` is in its output."""
    page.evaluate("""(index) => { const app = window.jupyterapp, notebook = app.shell.currentWidget.content;
      notebook.activeCellIndex = index; app.commands.execute('notebook:run-cell'); }""", index)
    page.locator(".jp-Notebook .jp-Cell").nth(index).locator(shows).first.wait_for(state="visible", timeout=120_000)
    page.wait_for_function(KERNEL_IDLE, timeout=60_000)
    settle(page)


def screenshot(page, index: int, name: str) -> None:
    page.evaluate("(i) => document.querySelectorAll('.jp-Notebook .jp-Cell')[i].scrollIntoView()", index)
    page.screenshot(path=str(ARTIFACTS / name))


def test_hostile_sandbox_output_runs_nowhere_in_jupyterlab(lab_page):
    page, folder = lab_page
    ARTIFACTS.mkdir(exist_ok=True)
    cells = page.locator(".jp-Notebook .jp-Cell")
    fired, links = {}, {}

    def check(route: str) -> None:
        fired[route] = page.evaluate(FIRED)
        links[route] = page.evaluate(JS_LINKS)
        page.evaluate(f"() => ({FIRED})().forEach(k => delete window[k])")  # each route counts its own

    run_cell(page, 0, ".jp-OutputArea-prompt, .jp-InputArea")
    run_cell(page, 1, ".nbreason-final")
    check("live widget")
    # Show the first step again (the one whose outputs carry the payloads) for the screenshot.
    page.evaluate("() => document.querySelectorAll('.jp-Notebook .jp-Cell')[1]"
                  ".querySelector('.jupyter-widget-Collapse-header').click()")
    screenshot(page, 1, "browser-attack-live.png")
    run_cell(page, 2, ".nbreason-run .nbreason-answer")
    check("static copy (_repr_html_)")
    screenshot(page, 2, "browser-attack-static.png")
    run_cell(page, 3, ".nbreason-replay .nbreason-final")
    check("replay")
    screenshot(page, 3, "browser-attack-replay.png")

    # The copy saved with the notebook (for viewers without widgets), rendered as JupyterLab
    # renders a trusted notebook's output.
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    saved = folder / "attack.ipynb"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and "nbreason-run" not in json.dumps(nbformat.read(saved, 4).cells[1].outputs):
        time.sleep(0.5)
    stored = [o["data"]["text/html"] for o in nbformat.read(saved, 4).cells[1].outputs if "text/html" in o.get("data", {})]
    assert stored and "nbreason-run" in stored[0]
    (folder / "stored.html").write_text(stored[0])
    page.evaluate("""async () => {
      const app = window.jupyterapp, notebook = app.shell.currentWidget.content;
      notebook.activeCellIndex = notebook.widgets.length - 1;
      await app.commands.execute('notebook:insert-cell-below');
      notebook.activeCell.model.sharedModel.setSource(
        "from IPython.display import display\\n"
        + "display({'text/html': open('stored.html').read()}, raw=True)");
    }""")
    run_cell(page, 4, ".nbreason-run .nbreason-answer")
    check("copy saved in the notebook")
    screenshot(page, 4, "browser-attack-saved.png")

    assert fired == {route: [] for route in fired} and page.dialogs == [], (fired, page.dialogs)
    assert links == {route: [] for route in links}, links

    # What a person should still see: the table and the SVG chart (as an image) in every view.
    for index in (1, 2, 3, 4):
        assert cells.nth(index).locator("table", has_text="West").count() >= 1, index
        shown = page.evaluate(SHOWN_IMAGES, f".jp-Notebook .jp-Cell:nth-child({index + 1}) img")
        assert any(src.startswith("data:image/svg+xml") for src in shown), (index, shown)
