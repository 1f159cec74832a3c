"""A replay and a two-run comparison in real JupyterLab and headless Chromium at 1024 px: the
controls fit on one line with no label cut, the keyboard steps, plays and jumps, the speed shown is
the speed asked for, presenter text is larger, and the first divergence is marked on both sides.
Screenshots go to tests/artifacts/."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest

from tests.support.lab import Lab

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = next((p for p in ("/usr/lib/chromium/chromium", "/usr/bin/chromium") if Path(p).exists()), None)
TRACES = ("compare_checked.jsonl", "compare_unchecked.jsonl")

KERNEL_IDLE = """() => {
  const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const kernel = panel && panel.sessionContext && panel.sessionContext.session && panel.sessionContext.session.kernel;
  return !!kernel && kernel.status === 'idle';
}"""
# Every control button, its label, and whether anything in it is cut or pushed onto another line.
BAR_LAYOUT = """(bar) => {
  const buttons = Array.from(bar.querySelectorAll('button')).filter(b => b.offsetParent !== null);
  return {
    buttons: buttons.map(b => {
      const label = b.querySelector('.nbreason-label');
      return {name: b.className, text: b.innerText.trim(), tip: b.title,
              top: Math.round(b.getBoundingClientRect().top),
              cut: b.scrollWidth > b.clientWidth || (!!label && label.scrollWidth > label.clientWidth),
              labelWidth: label ? label.getBoundingClientRect().width : null,
              right: b.getBoundingClientRect().right};
    }),
    barRight: bar.getBoundingClientRect().right,
    barScroll: bar.scrollWidth > bar.clientWidth,
  };
}"""


def notebook(tmp_path: Path) -> str:
    for trace in TRACES:
        shutil.copy(ROOT / "examples" / trace, tmp_path / trace)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in (
        "%load_ext nbreason",
        f"%reason_replay {TRACES[0]} --speed 2",
        f"%reason_replay {TRACES[0]} {TRACES[1]}",
        f"%reason_replay {TRACES[0]} --presenter",
    )]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "replay.ipynb")
    return "replay.ipynb"


@pytest.fixture
def page(tmp_path):
    playwright = pytest.importorskip("playwright.sync_api")
    if CHROMIUM is None:
        pytest.skip("Debian chromium is not installed")
    name = notebook(tmp_path)
    env = {"NBREASON_CONFIG": str(tmp_path / "none.toml"), "PYTHONPATH": str(ROOT)}
    with Lab(tmp_path, env=env) as lab, playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        page = browser.new_page(viewport={"width": 1024, "height": 900})
        try:
            page.goto(lab.url(f"lab/tree/{name}"))
            page.wait_for_function(KERNEL_IDLE, timeout=90_000)
            page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
            page.wait_for_function("() => document.querySelectorAll('.nbreason-controls-bar button').length >= 18",
                                   timeout=90_000)
            page.wait_for_function(KERNEL_IDLE, timeout=60_000)
            yield page
        finally:
            browser.close()


def position(replay) -> str:
    return replay.locator(".nbreason-replay-position").inner_text()


def wait_position(page, index: int, expected: str) -> None:
    page.wait_for_function(
        "([index, expected]) => { const r = document.querySelectorAll('.nbreason-replay')[index];"
        " const p = r && r.querySelector('.nbreason-replay-position');"
        " return !!p && p.innerText.startsWith(expected); }", arg=[index, expected], timeout=15_000)


def focus(page, replay) -> None:
    """As a presenter does: click the replay (here, its position text), then use the keyboard."""
    replay.locator(".nbreason-replay-position").click()
    assert page.evaluate("() => !!document.activeElement.closest('.nbreason-replay')")


def screenshot(page, replay, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    replay.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / name))


def test_controls_fit_and_the_keyboard_drives_a_replay_and_a_comparison(page):
    replays = page.locator(".nbreason-replay")
    assert replays.count() == 3
    single, compared, presenter = replays.nth(0), replays.nth(1), replays.nth(2)

    # --- at 1024 px, the file browser open: one line of icons with tooltips, nothing cut --------
    def bars(words: bool) -> None:
        for index in range(3):
            layout = replays.nth(index).locator(".nbreason-controls-bar").evaluate(BAR_LAYOUT)
            buttons = layout["buttons"]
            assert len(buttons) >= 5 and all(b["tip"] for b in buttons), layout
            assert not [b for b in buttons if b["cut"]], layout
            assert len({b["top"] for b in buttons}) == 1, layout  # one line
            assert not layout["barScroll"] and max(b["right"] for b in buttons) <= layout["barRight"] + 1, layout
            if words and index < 2:  # the presenter's larger controls keep to icons at this width
                assert [b["text"] for b in buttons if b["labelWidth"]][:3] == ["Back", "Play", "Next"], layout

    bars(words=False)
    screenshot(page, single, "browser-replay-1024-panel-open.png")
    # --- the side panel closed, as for a class: short words beside the icons, still nothing cut ---
    page.evaluate("() => window.jupyterapp.commands.execute('application:toggle-left-area')")
    page.wait_for_function("() => document.querySelector('.nbreason-controls-bar .nbreason-label')"
                           ".getBoundingClientRect().width > 0", timeout=10_000)
    bars(words=True)

    # --- the speed shown is the speed asked for ---------------------------------------------
    shown = single.locator(".nbreason-speed select").evaluate("s => s.options[s.selectedIndex].text")
    assert shown == "2/s"

    # --- the keyboard: ← → step, Home / End, space plays and pauses ---------------------------
    total = int(position(single).split("/")[1].split(" ")[0])
    focus(page, single)
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    wait_position(page, 0, "3/")
    page.keyboard.press("ArrowLeft")
    wait_position(page, 0, "2/")
    page.keyboard.press("End")
    wait_position(page, 0, f"{total}/")
    single.locator(".nbreason-final").wait_for(state="visible", timeout=10_000)
    page.keyboard.press("Home")
    wait_position(page, 0, "0/")
    page.keyboard.press(" ")
    wait_position(page, 0, "2/")  # playing on its own, at 2 events a second
    page.keyboard.press(" ")
    # The label is drawn by the kernel: a step played just before the pause may still be on its way.
    page.wait_for_function(
        "() => { const r = document.querySelectorAll('.nbreason-replay')[0];"
        " return r.querySelector('.nbreason-replay-position').innerText"
        ".startsWith(r.querySelector('input.nbreason-position').value + '/'); }", timeout=15_000)
    paused = position(single)
    page.wait_for_timeout(1500)
    assert position(single) == paused and single.locator("button.nbreason-play").inner_text().strip() == "Play"
    screenshot(page, single, "browser-replay-keyboard.png")

    # --- two runs: D jumps to the first divergence, marked on both sides ------------------------
    focus(page, compared)
    page.keyboard.press("d")
    compared.locator(".nbreason-compare-banner .nbreason-diverged-text").wait_for(state="visible", timeout=15_000)
    page.wait_for_function("() => document.querySelectorAll('.nbreason-compare .nbreason-diverged').length == 2",
                           timeout=15_000)
    banner = compared.locator(".nbreason-compare-banner").inner_text()
    assert "First difference" in banner and "step" in banner
    assert "self_check" in banner  # what was set differently
    assert compared.locator("button.nbreason-jump.nbreason-reached").count() == 1
    screenshot(page, compared, "browser-compare-divergence.png")
    mark = int(position(compared).split("/")[0])
    for _ in range(3):  # on through the first step: its output, check and decision
        page.keyboard.press("ArrowRight")
    wait_position(page, 1, f"{mark + 3}/")
    assert page.evaluate("() => document.querySelectorAll('.nbreason-compare .nbreason-diverged').length") == 2
    page.set_viewport_size({"width": 1024, "height": 1600})  # tall enough for the whole comparison
    compared.screenshot(path=str(ARTIFACTS / "browser-compare-step.png"))  # the picture in docs/educators.md
    page.set_viewport_size({"width": 1024, "height": 900})
    page.keyboard.press("End")
    ends = compared.locator(".nbreason-compare-ends")
    ends.wait_for(state="visible", timeout=15_000)
    for trace in TRACES:
        assert trace in ends.inner_text()
    assert compared.locator(".nbreason-final").count() == 2
    screenshot(page, compared, "browser-compare-end.png")

    # --- presenter: larger step text ---------------------------------------------------------
    focus(page, presenter)
    page.keyboard.press("End")
    presenter.locator(".nbreason-final").wait_for(state="visible", timeout=15_000)
    size = "(el) => parseFloat(getComputedStyle(el).fontSize)"
    big = presenter.locator(".jupyter-widget-Collapse-header").first.evaluate(size)
    normal = single.locator(".jupyter-widget-Collapse-header").first.evaluate(size)
    assert big >= 1.3 * normal, (big, normal)
    screenshot(page, presenter, "browser-replay-presenter.png")
