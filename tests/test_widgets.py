"""The live view and the static HTML, driven by synthetic event streams (no kernel needed)."""

from __future__ import annotations

import asyncio
import base64
import time

from nbreason.events import (
    BudgetUpdate, Check, Code, Decision, Error, FinalAnswer, Limits, ModelCall, ModelDelta, Observation,
    Plan, RunStarted, Signal, Spent, Stopped, Usage,
)
from nbreason.execution import ErrorRecord, ExecutionRecord, ResultRecord
from nbreason.views import html as static
from nbreason.views.widgets import RunView

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\nnot really an image").decode()
CONFIG = {"model": "scripted", "base_url": None, "sandbox": "local", "max_steps": 4,
          "max_total_tokens": 1000, "max_seconds": 60.0, "max_cost": None}


def step_events(step: int, *, code="print(1)", execution=None, reward=0.5, action="continue"):
    return [
        ModelDelta(step=step, text="Let me "), ModelDelta(step=step, text="think."),
        ModelCall(step=step, model="scripted", usage=Usage(100, 20, calls=1), duration=0.4, elapsed=step),
        Plan(step=step, text="Compute it with **numpy**.", elapsed=step + 0.1),
        Code(step=step, code=code, elapsed=step + 0.2),
        Observation(step=step, execution=execution or ExecutionRecord(stdout=("1\n",)), summary="1",
                    ok=(execution or ExecutionRecord()).ok, elapsed=step + 0.5),
        Check(step=step, reward=reward, signals=[Signal("code_ran", 1.0, "the last code ran without error")],
              elapsed=step + 0.6),
        Decision(step=step, action=action, reason="the model reads the output next", elapsed=step + 0.7),
        BudgetUpdate(step=step, spent=Spent(steps=step, tokens=120 * step, seconds=2.0 * step, cost=0.0),
                     limits=Limits(steps=4, tokens=1000, seconds=60.0, cost=None)),
    ]


def a_run(final_reason="answered"):
    rich = ExecutionRecord(
        results=(ResultRecord(png=PNG, text="<Figure>"),
                 ResultRecord(html="<table><tr><td>West</td></tr></table>", text="  region\n0 West")),
        stdout=("totals\n",), stderr=("a warning\n",))
    failing = ExecutionRecord(error=ErrorRecord("ZeroDivisionError", "division by zero",
                                                "Traceback...\nZeroDivisionError: division by zero"))
    return [
        RunStarted(question="Which region sells most?", config=CONFIG),
        *step_events(1, code="1/0", execution=failing, reward=0.0, action="revise"),
        *step_events(2, code="totals.plot.bar()", execution=rich, reward=1.0, action="final"),
        FinalAnswer(step=2, answer="West", stop_reason=final_reason, reward=1.0, verified=True,
                    usage=Usage(200, 40, calls=2), steps=2, code=["totals = 1", "totals.plot.bar()"]),
    ]


def feed(view, events):
    for event in events:
        view.on_event(event)
    return view


def click(button):
    # What the front end sends when the button is clicked.
    button._handle_msg({"content": {"data": {"method": "custom", "content": {"event": "click"}}}, "buffers": []})


def test_root_widget_has_a_stable_css_class():
    view = RunView()
    assert "nbreason-run" in view.root.get_state()["_dom_classes"]


def test_header_shows_question_model_and_sandbox():
    view = feed(RunView(), a_run()[:1])
    assert "Which region sells most?" in view.header.value
    assert "scripted" in view.header.value and "local" in view.header.value


def test_gauges_show_spent_and_limit_and_unlimited():
    view = feed(RunView(), a_run())
    assert view.gauges["steps"].text.value == "2 / 4"
    assert view.gauges["steps"].bar.value == 2 and view.gauges["steps"].bar.max == 4
    assert view.gauges["tokens"].text.value == "240 / 1,000"
    assert view.gauges["seconds"].text.value == "4.0 s / 60.0 s"
    assert view.gauges["cost"].text.value == "$0.0000 / ∞"


def test_one_card_per_step_and_only_the_newest_is_open():
    view = feed(RunView(), a_run())
    assert len(view.steps.children) == 2
    assert view.steps.selected_index == 1
    assert view.steps.titles[0].startswith("Step 1 · revise · reward 0.00 · error · 120 tokens")
    assert view.steps.titles[1].startswith("Step 2 · final · reward 1.00")


def test_step_card_shows_plan_as_markdown_and_highlighted_code():
    view = feed(RunView(), a_run())
    card = view.cards[2]
    assert "<strong>numpy</strong>" in card.plan.value
    assert "totals" in card.code.value and "style=" in card.code.value  # pygments, inline styles
    assert "reward 1.00" in card.check.value and "code_ran" in card.check.value
    assert "120 tokens" in card.footer.value and "final" in card.footer.value


def test_outputs_keep_text_images_tables_and_errors():
    view = feed(RunView(), a_run())
    outputs = view.cards[2].outputs.outputs
    assert {"output_type": "stream", "name": "stdout", "text": "totals\n"} in outputs
    assert {"output_type": "stream", "name": "stderr", "text": "a warning\n"} in outputs
    images = [o for o in outputs if o["output_type"] == "display_data" and "image/png" in o["data"]]
    tables = [o for o in outputs if o["output_type"] == "display_data" and "text/html" in o["data"]]
    assert images[0]["data"]["image/png"] == PNG and "West" in tables[0]["data"]["text/html"]
    error = view.cards[1].outputs.outputs[-1]
    assert error["output_type"] == "error" and error["ename"] == "ZeroDivisionError"
    assert error["traceback"][-1] == "ZeroDivisionError: division by zero"


def test_final_answer_panel_says_why_it_stopped_and_buttons_settle():
    view = feed(RunView(), a_run())
    assert view.answer.layout.display is None
    assert "West" in view.answer.value and "answered" in view.answer.value and "verified" in view.answer.value
    assert view.stop_button.disabled and view.stop_button.description == "Done"
    assert not view.export_button.disabled


def test_answer_panel_is_hidden_until_the_end():
    view = feed(RunView(), a_run()[:5])
    assert view.answer.layout.display == "none" and not view.stop_button.disabled


def test_stop_click_sets_the_stop_event_and_disables_the_button():
    stop = asyncio.Event()
    view = feed(RunView(stop), a_run()[:4])
    click(view.stop_button)
    assert stop.is_set()
    assert view.stop_button.disabled and view.stop_button.description == "Stopping…"
    feed(view, [Stopped(step=1), FinalAnswer(step=1, stop_reason="stopped by user", steps=1)])
    assert "stopped by user" in view.answer.value and view.stop_button.description == "Stopped"
    assert len(view.steps.children) == 1 and view.export_button.disabled  # no clean code: nothing to export


def test_export_click_emits_a_script_that_inserts_the_code():
    view = feed(RunView(), a_run())
    click(view.export_button)
    (output,) = view.export_output.outputs
    script = output["data"]["application/javascript"]
    assert '"totals.plot.bar()"' in script and "notebook:insert-cell-below" in script
    assert "%reason_export" in output["data"]["text/plain"]


def test_export_click_goes_to_a_given_handler():
    got = []
    view = feed(RunView(on_export=got.append), a_run())
    click(view.export_button)
    assert got == [["totals = 1", "totals.plot.bar()"]]


def test_run_level_errors_are_shown():
    view = feed(RunView(), [RunStarted(question="q", config=CONFIG),
                            Error(message="cannot reach the model", source="model", fatal=True),
                            FinalAnswer(stop_reason="error")])
    assert "cannot reach the model" in view.errors.value and "error" in view.answer.value


def test_streamed_text_shows_until_the_reply_is_complete():
    view = feed(RunView(), a_run()[:3])  # deltas only
    view._flush()  # what the throttle timer does on the kernel's loop
    card = view.cards[1]
    assert card.stream.layout.display is None and "Let me think." in card.stream.value
    feed(view, a_run()[3:4])  # the finished model call: plan and code take over
    assert card.stream.layout.display == "none" and card.stream.value == ""


async def test_streaming_updates_are_throttled_to_ten_a_second():
    view = feed(RunView(), a_run()[:1])
    view.on_event(ModelDelta(step=1, text="x"))
    card = view.cards[1]
    changes = []
    card.stream.observe(lambda change: changes.append(change["new"]), "value")
    started = time.monotonic()
    for _ in range(50):  # 50 pieces over about half a second
        view.on_event(ModelDelta(step=1, text="x"))
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.15)
    seconds = time.monotonic() - started  # a loaded machine stretches the half second: more updates are due
    assert 2 <= len(changes) <= seconds * 10 + 1
    assert "x" * 51 in changes[-1]  # nothing lost: the last update has every piece


def test_static_html_has_steps_images_tables_and_answer():
    page = static.run_html(a_run())
    assert page.count('class="nbreason-step"') == 2
    assert f"data:image/png;base64,{PNG}" in page and "<td>West</td>" in page
    assert "ZeroDivisionError: division by zero" in page
    assert "Answer" in page and "answered" in page and "steps 2 / 4" in page


def test_static_html_escapes_model_text():
    events = [RunStarted(question="<script>alert(1)</script>", config=CONFIG),
              Plan(step=1, text="<img src=x onerror=alert(1)>"), FinalAnswer(answer="<b>x</b>", stop_reason="answered")]
    page = static.run_html(events)
    assert "<script>" not in page and "<img src=x" not in page and "<b>x</b>" not in page


def test_text_rendering_for_terminals():
    text = static.run_text(a_run())
    assert "? Which region sells most?" in text and "[step 1] revise" in text
    assert "ZeroDivisionError: division by zero" in text and "Answer: West" in text
