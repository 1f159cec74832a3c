"""The educators' examples replay their committed traces top to bottom (nbclient), with no model."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from nbreason.compare import compare, run_end
from nbreason.events import Check, Decision, FinalAnswer
from nbreason.trace import read_trace

ROOT = Path(__file__).resolve().parents[1]
REPLAYS = {"replay_lesson": ("lesson.jsonl",), "failed_attempt": ("failed_attempt.jsonl",),
           "compare_checks": ("compare_checked.jsonl", "compare_unchecked.jsonl")}


def execute(name: str, tmp_path: Path, monkeypatch) -> nbformat.NotebookNode:
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    for key in [k for k in os.environ if k.startswith("NBREASON_")]:
        monkeypatch.delenv(key)
    work = tmp_path / "examples"
    work.mkdir()
    for file in (f"{name}.ipynb", *REPLAYS[name]):
        (work / file).write_bytes((ROOT / "examples" / file).read_bytes())
    nb = nbformat.read(work / f"{name}.ipynb", as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3", store_widget_state=True,
                   resources={"metadata": {"path": str(work)}}).execute()
    return nb


def test_committed_traces_are_real_complete_runs():
    for trace in (t for traces in REPLAYS.values() for t in traces):
        events = read_trace(ROOT / "examples" / trace)
        assert isinstance(events[-1], FinalAnswer) and events[-1].answer
        assert events[0].config["model"].startswith("qwen2.5-coder")  # a run of the embedded model
    for name in ("replay_lesson", "failed_attempt"):
        events = read_trace(ROOT / "examples" / REPLAYS[name][0])
        assert len({e.step for e in events if e.step}) >= 2  # several steps


def test_the_compared_traces_are_one_question_with_and_without_the_self_check_one_right_one_wrong():
    checked, unchecked = (read_trace(ROOT / "examples" / t) for t in REPLAYS["compare_checks"])
    result = compare(checked, unchecked)
    assert result.questions[0] == result.questions[1] and "45 pens" in result.questions[0]
    assert [(n, b) for n, _, b in result.settings if n == "self_check"] == [("self_check", "off")]
    assert result.first is not None
    right = [float(run_end(events).answer) == 30 for events in (checked, unchecked)]  # 15 packs of 3 at $2
    assert sorted(right) == [False, True]


def test_failed_attempt_trace_shows_a_weak_answer_caught_and_sent_back():
    events = read_trace(ROOT / "examples" / "failed_attempt.jsonl")
    caught = [e for e in events if isinstance(e, Check) and e.answer and e.reward < 0.7]
    revised = [e for e in events if isinstance(e, Decision) and e.action in ("revise", "backtrack")]
    assert caught and revised
    assert caught[0].step < revised[-1].step + 1
    # the run does not pretend: what the check rejected stays marked unverified
    assert events[-1].verified is False and "unverified" in events[-1].stop_reason


@pytest.mark.parametrize("name", sorted(REPLAYS))
def test_replay_example_runs_and_shows_the_whole_run(name, tmp_path, monkeypatch):
    nb = execute(name, tmp_path, monkeypatch)
    assert not [o for c in nb.cells for o in c.get("outputs", []) if o["output_type"] == "error"]
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    classes = [c for m in state.values() for c in m["state"].get("_dom_classes", ())]
    assert "nbreason-replay" in classes and "nbreason-replay-controls" in classes
    if name == "replay_lesson":
        assert (tmp_path / "examples" / "lesson-solution.ipynb").exists()
    if name == "compare_checks":
        assert "nbreason-compare" in classes
        page = (tmp_path / "examples" / "compare.html").read_text()
        assert "compare_checked.jsonl" in page and "nbreason-diverged" in page
