"""Round trips: live run → trace → replay renders the same; trace → notebook → re-runs to the same answer."""

from __future__ import annotations

import base64

import nbformat
import pytest
from nbclient import NotebookClient

from nbreason.config import RunConfig
from nbreason.events import FinalAnswer
from nbreason.export import notebook_from_events, report_html, write_export
from nbreason.runner import reason
from nbreason.trace import read_trace
from nbreason.views.replay import ReplayView, snapshot
from nbreason.views.widgets import RunView
from tests.support.scripted_server import Reply, ScriptedServer

PLOT = "import matplotlib.pyplot as plt\nvalues = [3, 1, 4, 1, 5]\nplt.bar(range(5), values)\nplt.show()\nprint(max(values))"
SCRIPT = [
    Reply("Start with the data.\n```python\nvalues = [3, 1, 4, 1, 5\n```"),
    Reply("Close the bracket and plot.\n```python\n" + PLOT + "\n```"),
    Reply("FINAL ANSWER: 5"),
]


@pytest.fixture
async def live_run(tmp_path):
    trace = tmp_path / "run.jsonl"
    view = RunView()
    with ScriptedServer(list(SCRIPT)) as server:
        config = RunConfig(model="scripted", base_url=server.base_url, api_key="k", protocol="text",
                           trace=str(trace))
        result = await reason("Largest value?", config=config, subscribers=[view.on_event])
    assert result.answer == "5"
    return result, view, trace


async def test_replay_renders_what_the_live_run_showed(live_run):
    result, live, trace = live_run
    replay = ReplayView(read_trace(trace)).show_all()
    assert replay.view.stop_button.layout.display == "none"  # a replay has nothing to stop
    live.stop_button.layout.display = "none"
    assert snapshot(replay.view.root) == snapshot(live.root)


async def test_replay_steps_forward_and_back(live_run):
    _, _, trace = live_run
    replay = ReplayView(read_trace(trace))
    replay.next()
    replay.next()
    assert replay.position == 2 and "2/" in replay.label.value
    halfway = len(replay.events) // 2
    replay.show(halfway)
    at_half = snapshot(replay.view.root)
    replay.show_all()
    replay.previous()
    replay.show(halfway)
    assert snapshot(replay.view.root) == at_half  # going back rebuilds the same picture
    replay.controls.position = 0  # as the browser sets it: the slider, Home, a click on Start
    assert replay.position == 0 and not replay.view.cards


async def test_exported_notebook_reruns_to_the_same_answer_without_nbreason(live_run, tmp_path):
    result, _, trace = live_run
    nb = notebook_from_events(read_trace(trace))
    kinds = [c.cell_type for c in nb.cells]
    assert kinds.count("code") == 1  # only the code that ran cleanly; the failed try is shown as markdown
    assert any("SyntaxError" in c.source for c in nb.cells if c.cell_type == "markdown")
    NotebookClient(nb, timeout=60, kernel_name="python3").execute()
    code_cell = next(c for c in nb.cells if c.cell_type == "code")
    printed = "".join(o.get("text", "") for o in code_cell.outputs if o.output_type == "stream")
    assert printed.strip().splitlines()[-1] == result.answer
    assert any(o.output_type == "display_data" and "image/png" in o.data for o in code_cell.outputs)


async def test_html_report_is_one_file_with_inline_images(live_run, tmp_path):
    _, _, trace = live_run
    page = report_html(read_trace(trace))
    assert page.startswith("<!doctype html>") and "data:image/png;base64," in page
    start = page.index("data:image/png;base64,") + len("data:image/png;base64,")
    assert base64.b64decode(page[start:start + 40] + "==", validate=False)[:4] == b"\x89PNG"
    assert "Largest value?" in page and "SyntaxError" in page
    path = write_export(read_trace(trace), tmp_path / "run.html")
    assert open(path).read() == page


async def test_export_refuses_unknown_formats(live_run, tmp_path):
    _, _, trace = live_run
    with pytest.raises(ValueError, match="export to .ipynb or .html"):
        write_export(read_trace(trace), tmp_path / "run.pdf")


async def test_replay_of_a_trace_cut_mid_write(live_run, tmp_path):
    _, _, trace = live_run
    text = trace.read_text()
    cut = tmp_path / "cut.jsonl"
    cut.write_text(text[: int(len(text) * 0.7)])
    events = read_trace(cut)
    assert events and not isinstance(events[-1], FinalAnswer)
    replay = ReplayView(events).show_all()
    assert replay.view.cards  # what was written before the cut still shows
    nbformat.validate(notebook_from_events(events))


def test_exported_attempts_keep_their_own_code_though_their_events_interleave():
    from nbreason.events import AttemptAnswer, Code, Observation, Plan, RunStarted, TallyEntry, Vote
    from nbreason.execution import ExecutionRecord

    def printed(text):
        return ExecutionRecord(stdout=(f"{text}\n",))

    events = [
        RunStarted(question="Which number?", config={"model": "m", "sandbox": "local", "attempts": 2}),
        Plan(attempt=1, step=1, text="Print eleven."), Plan(attempt=2, step=1, text="Print twenty-two."),
        Code(attempt=1, step=1, code="print(11)"), Code(attempt=2, step=1, code="print(22)"),
        Observation(attempt=1, step=1, execution=printed(11)), Observation(attempt=2, step=1, execution=printed(22)),
        FinalAnswer(attempt=1, step=1, answer="11", stop_reason="answered", reward=0.5, code=["print(11)"]),
        FinalAnswer(attempt=2, step=1, answer="22", stop_reason="answered", reward=0.9, code=["print(22)"]),
        Vote(strategy="wvote", answers=[AttemptAnswer(1, "11", 0.5), AttemptAnswer(2, "22", 0.9)],
             tally=[TallyEntry("11", 0.5), TallyEntry("22", 0.9)], winner="22", winner_attempt=2, why="more reward"),
        FinalAnswer(answer="22", stop_reason="answered (wvote of 2)", reward=0.9, steps=2, code=["print(22)"]),
    ]
    nb = notebook_from_events(events)
    nbformat.validate(nb)
    starts = [i for i, c in enumerate(nb.cells) if c.source.startswith("## Attempt")]
    assert len(starts) == 2
    first, second = nb.cells[starts[0]:starts[1]], nb.cells[starts[1]:]
    assert "## Attempt 1: answered `11`" in first[0].source and "## Attempt 2: answered `22`" in second[0].source
    first_text, second_text = "\n".join(c.source for c in first), "\n".join(c.source for c in second)
    assert "print(11)" in first_text and "print(22)" not in first_text and "eleven" in first_text
    assert "print(11)" not in second_text and "twenty\\-two" in second_text  # (model text is escaped)
    # only the winner's code runs: the attempts had separate sandboxes
    assert [c.source for c in nb.cells if c.cell_type == "code"] == ["print(22)"]
    assert not any(c.cell_type == "code" for c in first)
    assert "**Vote** (wvote over 2 attempts)" in second_text and nb.cells[-1].source.startswith("**Answer:** 22")
