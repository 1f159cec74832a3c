"""The replay's controls and options, and two runs compared: in the notebook, in a terminal, as one page."""

from __future__ import annotations

import html as markup
import io
import os
import re

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from rich.console import Console

from nbreason import magic
from nbreason.cli import main
from nbreason.trace import read_trace
from nbreason.views.compare import CompareView, print_comparison
from nbreason.views.controls import ReplayControls, speed_text
from nbreason.views.replay import ReplayView
from tests.support.runs import run, step, write

CHECKED = run(step(1, code="print(2 / 3 * 45)", output="30.0\n", answer="30", action="verify"),
              step(2, code="print(45 / 3 * 2)", output="30.0\n", answer="30"), answer="30")
UNCHECKED = run(step(1, code="print(2 / 3 / 3 * 45)", output="10.0\n", answer="10"), answer="10", self_check="off")


@pytest.fixture
def shell(monkeypatch, tmp_path):
    monkeypatch.setenv("NBREASON_CONFIG", str(tmp_path / "none.toml"))
    for key in [k for k in os.environ if k.startswith("NBREASON_") and k != "NBREASON_CONFIG"]:
        monkeypatch.delenv(key)
    ip = InteractiveShell.instance()
    magic.load_ipython_extension(ip)
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda *objects, **kw: shown.extend(objects))
    ip.shown = shown
    yield ip
    magic.unload_ipython_extension(ip)


@pytest.fixture
def traces(tmp_path):
    return write(CHECKED, tmp_path / "checked.jsonl"), write(UNCHECKED, tmp_path / "unchecked.jsonl")


def text(page) -> str:
    """What a reader sees of some markup: the text, tags gone, entities read."""
    return markup.unescape(re.sub(r"<[^>]+>", "", str(page)))


def moved_by_the_browser(controls: ReplayControls, **state) -> None:
    """What the front end sends when a button, a key or Play's timer moves the bar."""
    controls._handle_msg({"content": {"data": {"method": "update", "state": state, "buffer_paths": []}}, "buffers": []})


# --- the magic's options ---------------------------------------------------------------------

def test_the_speed_option_is_the_number_the_speed_control_shows(shell, traces):
    shell.run_line_magic("reason_replay", f"{traces[0]} --speed 2")
    (view,) = shell.shown
    assert isinstance(view, ReplayView) and view.controls.speed == 2.0 and view.speed == 2.0
    assert speed_text(view.controls.speed) == "2/s"  # what the bar prints beside "speed"
    shell.run_line_magic("reason_replay", f"{traces[0]} --speed 0.5")
    assert shell.shown[-1].controls.speed == 0.5 and speed_text(0.5) == "0.5/s"


def test_replay_help_lists_its_options(shell, capsys):
    shell.run_cell("%reason_replay?")
    out = capsys.readouterr().out
    for option in ("TRACE", "--speed", "--presenter", "--export", "events per second"):
        assert option in out, option


@pytest.mark.parametrize("line, message", [
    ("", "the following arguments are required: TRACE"),
    ("{a} --speed fast", "--speed: expected a number > 0, got 'fast'"),
    ("{a} --speed 0", "--speed: expected a number > 0, got 0"),
    ("{a} --speed nan", "--speed: expected a number > 0"),
    ("{a} --sped 2", "unrecognized arguments: --sped"),
    ("{a} {b} {a}", "takes one trace, or two to compare"),
    ("{a} missing.jsonl", "missing.jsonl: no such file"),
    ("{a} --export out.pdf", "--export: out.pdf: export to .ipynb or .html"),
    ("{a} {b} --export out.ipynb", "two runs compared export to .html"),
])
def test_bad_replay_input_is_a_one_line_usage_error(shell, traces, line, message):
    with pytest.raises(UsageError, match=message.replace(".", r"\.").replace("(", r"\(")):
        shell.run_line_magic("reason_replay", line.format(a=traces[0], b=traces[1]))
    assert not shell.shown


def test_presenter_marks_the_replay_for_large_text(shell, traces):
    shell.run_line_magic("reason_replay", f"{traces[0]} --presenter")
    shell.run_line_magic("reason_replay", f"{traces[0]}")
    presenter, plain = shell.shown
    assert "nbreason-presenter" in presenter.root._dom_classes
    assert "nbreason-presenter" not in plain.root._dom_classes


def test_export_keeps_working_for_one_trace_and_writes_a_comparison_for_two(shell, traces, tmp_path, capsys):
    shell.run_line_magic("reason_replay", f"{traces[0]} --export {tmp_path / 'one.ipynb'}")
    shell.run_line_magic("reason_replay", f"{traces[0]} {traces[1]} --export {tmp_path / 'two.html'}")
    assert (tmp_path / "one.ipynb").exists() and "nbreason-compare" in (tmp_path / "two.html").read_text()
    assert capsys.readouterr().out.count("written:") == 2 and not shell.shown


# --- the control bar -------------------------------------------------------------------------

def test_the_bar_drives_the_replay_through_its_traits():
    replay = ReplayView(CHECKED)
    moved_by_the_browser(replay.controls, position=3)
    assert replay.position == 3 and "3/" in replay.label.value
    moved_by_the_browser(replay.controls, position=1)  # back: rebuilt from the start
    assert replay.position == 1 and not replay.view.cards
    replay.next()
    assert replay.controls.position == 2  # and the other way round: the bar follows the replay


def test_the_bar_refuses_positions_outside_the_run_and_speeds_that_are_not_positive():
    controls = ReplayControls(total=5)
    controls.position = 9
    assert controls.position == 5
    controls.position = -3
    assert controls.position == 0
    with pytest.raises(Exception, match="positive"):
        controls.speed = 0.0


def test_the_bar_ships_its_keys_and_never_sets_markup():
    source = ReplayControls._esm
    for key in ("ArrowRight", "ArrowLeft", '" "', "Home", "End"):
        assert key in source, key
    assert "innerHTML" not in source and "insertAdjacentHTML" not in source  # labels are textContent only


# --- two runs in the notebook ----------------------------------------------------------------

def test_two_traces_show_side_by_side_stepping_together(shell, traces):
    shell.run_line_magic("reason_replay", f"{traces[0]} {traces[1]} --speed 4")
    (view,) = shell.shown
    assert isinstance(view, CompareView) and view.speed == 4.0
    assert view.labels == ("checked.jsonl", "unchecked.jsonl")
    assert "nbreason-replay" in view.root._dom_classes  # the same controls, keys and styles as one replay
    left, right = view.views
    view.show(3)  # start, model call, code: both sides have each of them
    assert list(left.cards) == [1] and list(right.cards) == [1]
    assert "print(2 / 3 * 45)" in text(left.cards[1].code.value)
    assert "print(2 / 3 / 3 * 45)" in text(right.cards[1].code.value)


def test_the_first_divergence_is_marked_once_reached_and_unmarked_going_back():
    view = CompareView(CHECKED, UNCHECKED)
    first = view.comparison.first
    assert (first.kind, first.step) == ("code", 1)
    assert view.controls.mark == first.row + 1  # the "Differs" button and the D key jump here
    view.show(first.row)
    assert "nbreason-diverged" not in view.banner.value and "same so far" in view.banner.value
    view.show(first.row + 1)
    assert "different code" in view.banner.value
    assert all("nbreason-diverged" in v.cards[1].box._dom_classes for v in view.views)
    view.show(first.row)
    assert all("nbreason-diverged" not in v.cards[1].box._dom_classes for v in view.views)


def test_each_runs_answer_reward_and_cost_show_at_the_end():
    view = CompareView(CHECKED, UNCHECKED, labels=("checked.jsonl", "unchecked.jsonl"))
    assert view.ends.layout.display == "none"
    view.show_all()
    assert view.ends.layout.display is None
    ends = view.ends.value
    for text in ("checked.jsonl", "unchecked.jsonl", "<b>30</b>", "<b>10</b>", "$0.0000", "reward"):
        assert text in ends, text
    assert view.views[0].final.answer == "30" and view.views[1].final.answer == "10"


def test_a_step_only_one_run_has_leaves_the_other_side_as_it_was():
    view = CompareView(CHECKED, UNCHECKED)
    step_two = [i for i, row in enumerate(view.rows) if row.step == 2 and row.right is None]
    view.show(step_two[-1] + 1)
    assert list(view.views[0].cards) == [1, 2] and list(view.views[1].cards) == [1]
    assert "only A" in view.label.value


# --- the terminal and the page ---------------------------------------------------------------

def test_the_terminal_comparison_prints_both_runs_and_marks_the_divergence():
    buffer = io.StringIO()
    print_comparison(CHECKED, UNCHECKED, labels=("checked.jsonl", "unchecked.jsonl"),
                     console=Console(file=buffer, width=140))
    out = buffer.getvalue()
    lines = out.splitlines()
    rule = next(i for i, line in enumerate(lines) if "first divergence" in line)
    assert "different code" in lines[rule]
    code_row = lines[rule + 1]
    assert code_row.startswith("≠") and "[step 1] code" in code_row and code_row.count("[step 1] code") == 2
    assert "print(2 / 3 * 45)" in out and "print(2 / 3 / 3 * 45)" in out
    assert "self_check: auto (A) vs off (B)" in out
    ends = lines[next(i for i, line in enumerate(lines) if "how each run ended" in line):]
    answer = next(line for line in ends if "answer" in line)
    assert "30" in answer and "10" in answer


def test_nbreason_replay_with_two_traces_compares_them(traces, capsys):
    assert main(["replay", *traces]) == 0
    out = capsys.readouterr().out
    assert "checked.jsonl" in out and "unchecked.jsonl" in out and "first divergence" in out


def test_nbreason_export_with_two_traces_writes_one_page(traces, tmp_path, capsys):
    page = tmp_path / "compare.html"
    assert main(["export", *traces, "-o", str(page)]) == 0
    html = page.read_text()
    assert html.startswith("<!doctype html>") and "Content-Security-Policy" in html and "<script" not in html
    assert html.count('class="nbreason-diverged"') == 1  # step 1, where the code differs
    assert "print(2 / 3 * 45)" in text(html) and "print(2 / 3 / 3 * 45)" in text(html)
    assert "checked.jsonl" in html and "unchecked.jsonl" in html
    assert main(["export", *traces, "-o", str(tmp_path / "compare.ipynb")]) == 2  # bad input: nothing written
    assert "two runs are compared on one .html page" in capsys.readouterr().err


def test_read_back_traces_compare_like_the_runs_that_wrote_them(traces):
    a, b = (read_trace(t) for t in traces)
    assert CompareView(a, b).comparison.first == CompareView(CHECKED, UNCHECKED).comparison.first
