"""The quick-start notebook in real JupyterLab and headless Chromium: watch a run, press Stop
mid-run, export the code. Screenshots go to tests/artifacts/."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support.lab import Lab
from tests.support.scripted_server import Reply, ScriptedServer

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = next((p for p in ("/usr/lib/chromium/chromium", "/usr/bin/chromium") if Path(p).exists()), None)

KERNEL_IDLE = """() => {
  const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const kernel = panel && panel.sessionContext && panel.sessionContext.session && panel.sessionContext.session.kernel;
  return !!kernel && kernel.status === 'idle';
}"""
CELL_COUNT = "() => window.jupyterapp.shell.currentWidget.content.model.cells.length"
STEP_HEADERS = ".nbreason-steps .jupyter-widget-Collapse-header"


def slow_step(body: dict) -> Reply:
    """A model that never answers: each step streams slowly and runs for a second."""
    n = sum(m["role"] == "assistant" for m in body["messages"]) + 1
    return Reply(f"Look closer, part {n}.\n```python\nimport time\ntime.sleep(1.0)\nprint('part {n}')\n```",
                 chunk_delay=0.03)


def sales_step(body: dict) -> Reply:
    if not any(m["role"] == "assistant" for m in body["messages"]):
        return Reply("Sum per region, then plot.\n```python\ntotals = sales.groupby('region')['amount'].sum()\n"
                     "print(totals)\ntotals.plot.bar(title='Total sales per region')\n```")
    return Reply("West sold the most.\nFINAL ANSWER: West")


def scroll_to(page, selector: str) -> None:
    """Scroll inside the page: a held element handle can be detached when a step card re-renders."""
    page.evaluate("(selector) => { const el = document.querySelector(selector); if (el) el.scrollIntoView(); }",
                  selector)


def open_in_lab(tmp_path, notebook: str, script):
    playwright = pytest.importorskip("playwright.sync_api")
    if CHROMIUM is None:
        pytest.skip("Debian chromium is not installed")
    if not (tmp_path / notebook).exists():  # a test may write its own notebook
        shutil.copy(ROOT / "examples" / notebook, tmp_path / notebook)
    with ScriptedServer([script] * 40) as server:
        env = {"NBREASON_BASE_URL": server.base_url, "NBREASON_MODEL": "scripted",
               "NBREASON_CONFIG": str(tmp_path / "none.toml"), "PYTHONPATH": str(ROOT)}
        with Lab(tmp_path, env=env) as lab, playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                        args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
            page = browser.new_page(viewport={"width": 1280, "height": 1100})
            try:
                page.goto(lab.url(f"lab/tree/{notebook}"))
                page.wait_for_function(KERNEL_IDLE, timeout=90_000)
                yield page
            finally:
                browser.close()


def city_step(body: dict) -> Reply:
    """The first run finds the warmest city; its follow-up (told the earlier run) the coldest."""
    question = body["messages"][1]["content"]
    answered = any(m["role"] == "assistant" for m in body["messages"])
    if "The question now:" not in question:
        return Reply("FINAL ANSWER: Cairo") if answered else Reply(
            "Tabulate the temperatures.\n```python\ntemps = {'Oslo': 6, 'Lisbon': 18, 'Cairo': 23}\n"
            "print(max(temps, key=temps.get))\n```")
    return Reply("FINAL ANSWER: Oslo") if answered else Reply(
        "Reuse them.\n```python\ncoldest = min(temps, key=temps.get)\nprint(coldest)\n```")


FOLLOW_UP_CELLS = ["%load_ext nbreason", "%%reason --self-check off -o first\nWhich city is warmest?",
                   "%%reason --continue --return coldest --self-check off -o second\nAnd the coldest?",
                   "print('came back:', coldest)"]


@pytest.fixture
def follow_up_page(tmp_path):
    import nbformat
    import nbformat.v4 as v4

    nb = v4.new_notebook(cells=[v4.new_code_cell(c) for c in FOLLOW_UP_CELLS])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "follow_up.ipynb")
    yield from open_in_lab(tmp_path, "follow_up.ipynb", city_step)


@pytest.fixture
def quickstart_page(tmp_path):
    yield from open_in_lab(tmp_path, "quickstart.ipynb", slow_step)


@pytest.fixture
def data_page(tmp_path):
    yield from open_in_lab(tmp_path, "data_question.ipynb", sales_step)


def test_stop_mid_run_keeps_the_steps_and_frees_the_kernel(quickstart_page):
    page = quickstart_page
    ARTIFACTS.mkdir(exist_ok=True)
    # Not awaited: the command's promise resolves only when every cell has run.
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
    page.wait_for_function(f"() => document.querySelectorAll('{STEP_HEADERS}').length >= 2", timeout=90_000)
    scroll_to(page, ".nbreason-run")
    page.screenshot(path=str(ARTIFACTS / "browser-running.png"))

    page.click("button.nbreason-stop")
    final = page.locator(".nbreason-final")
    final.wait_for(state="visible", timeout=60_000)
    assert "stopped by user" in final.inner_text()
    assert page.locator("button.nbreason-stop").is_disabled()
    kept = page.locator(STEP_HEADERS).count()
    assert 2 <= kept < 8  # stopped early, nothing lost

    # The cells after the run execute: the kernel is free again.
    page.wait_for_function(
        "() => document.body.innerText.includes('max_steps          = 8')", timeout=60_000)
    page.wait_for_function(KERNEL_IDLE, timeout=30_000)
    scroll_to(page, ".nbreason-final")
    page.screenshot(path=str(ARTIFACTS / "browser-stopped.png"))

    # Export inserts one cell per block of code that ran cleanly, right below the run.
    before = page.evaluate(CELL_COUNT)
    page.click("button.nbreason-export")
    page.wait_for_function(f"() => ({CELL_COUNT})() > {before}", timeout=10_000)
    sources = page.evaluate("() => Array.from(window.jupyterapp.shell.currentWidget.content.model.cells)"
                            ".map(c => c.sharedModel.getSource())")
    run_index = next(i for i, s in enumerate(sources) if s.startswith("%%reason"))
    assert "print('part 1')" in sources[run_index + 1], sources


def test_finished_run_shows_its_chart_and_answer(data_page):
    page = data_page
    ARTIFACTS.mkdir(exist_ok=True)
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
    final = page.locator(".nbreason-final")
    final.wait_for(state="visible", timeout=90_000)
    assert "West" in final.inner_text() and "answered" in final.inner_text()
    page.locator(STEP_HEADERS).first.click()  # reopen the folded step that drew the chart
    # Checked in the page in one go: a held element handle can be replaced when the card re-renders.
    page.wait_for_function("() => Array.from(document.querySelectorAll('.nbreason-outputs img'))"
                           ".some(img => img.getBoundingClientRect().width > 100)", timeout=10_000)
    scroll_to(page, ".nbreason-outputs img")
    page.screenshot(path=str(ARTIFACTS / "browser-answered.png"))


def test_a_follow_up_run_links_to_the_run_it_continues(follow_up_page):
    page = follow_up_page
    ARTIFACTS.mkdir(exist_ok=True)
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
    page.wait_for_function("() => document.body.innerText.includes('came back: Oslo')", timeout=120_000)
    link = page.locator(".nbreason-continues a")
    assert link.count() == 1  # only the follow-up continues another run
    assert " ".join(link.inner_text().split()) == "Which city is warmest? → Cairo"
    target = link.get_attribute("href")
    assert target.startswith("#nbreason-run-")
    # The link leads to the earlier run's header, on the same page.
    assert page.evaluate("(id) => { const el = document.getElementById(id); return !!el && "
                         "el.innerText.includes('Which city is warmest?'); }", target[1:])
    finals = page.locator(".nbreason-final")
    assert finals.count() == 2 and "Oslo" in finals.nth(1).inner_text()
    page.evaluate("() => document.querySelectorAll('.nbreason-header')[1].scrollIntoView()")
    page.screenshot(path=str(ARTIFACTS / "browser-follow-up.png"))
    link.click()  # the browser scrolls back to the run it continues
    page.wait_for_function("(id) => { const r = document.getElementById(id).getBoundingClientRect(); "
                           "return r.top >= 0 && r.bottom <= window.innerHeight; }", arg=target[1:], timeout=10_000)
