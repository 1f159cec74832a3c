"""The one fold of events into steps: keyed by (attempt, step), with each attempt's run-level parts."""

from __future__ import annotations

import pytest

from nbreason.events import (
    AttemptAnswer, BudgetUpdate, Check, Code, Decision, Error, FinalAnswer, Limits, ModelCall, ModelDelta,
    Observation, Plan, Retry, RunStarted, Signal, Spent, Stopped, Usage, Vote,
)
from nbreason.execution import ErrorRecord, ExecutionRecord
from nbreason.result import RunFold, RunResult, Step, fold
from nbreason.views.widgets import RunView


def ran(text: str) -> ExecutionRecord:
    return ExecutionRecord(stdout=(f"{text}\n",))


INTERLEAVED = [  # two attempts at once: their events arrive mixed, each numbers its steps from 1
    RunStarted(question="q"),
    Code(attempt=1, step=1, code="print(1)", elapsed=1.0),
    Code(attempt=2, step=1, code="print(2)", elapsed=1.1),
    Observation(attempt=1, step=1, execution=ran("1"), elapsed=1.5),
    Observation(attempt=2, step=1, execution=ExecutionRecord(error=ErrorRecord("NameError", "x")), ok=False,
                elapsed=1.7),
    FinalAnswer(attempt=1, step=1, answer="1", stop_reason="answered"),
    FinalAnswer(attempt=2, step=1, answer=None, stop_reason="budget:steps"),
    Vote(answers=[AttemptAnswer(1, "1"), AttemptAnswer(2, None)], winner="1", winner_attempt=1),
    FinalAnswer(answer="1", stop_reason="answered (vote of 2)"),
]

WITHOUT_CODE = [
    RunStarted(question="q"),
    ModelCall(step=1, usage=Usage(10, 5, calls=1), elapsed=0.5),
    Plan(step=1, text="It is a known constant.", elapsed=0.6),
    Check(step=1, reward=0.3, answer="3.14", signals=[Signal("grounded", 0.0, "no output")], elapsed=0.7),
    Decision(step=1, action="revise", reason="not grounded", elapsed=0.8),
    Error(step=2, message="the reply had neither a code block nor a final answer", source="model", elapsed=1.2),
    Decision(step=2, action="revise", reason="asked for code", elapsed=1.3),
]

RUN_LEVEL_ERRORS = [
    RunStarted(question="q"),
    Error(message="local sandbox: no process limit", source="sandbox"),
    Error(attempt=1, message="attempt 1 failed: kernel died", source="sandbox"),
    Error(step=1, message="tool calls are not supported here", source="model", elapsed=0.4),
    Error(message="cannot reach the model", source="model", fatal=True),
    FinalAnswer(stop_reason="error"),
]

STOPPED = [
    RunStarted(question="q"),
    Code(step=1, code="x = 1", elapsed=0.5),
    Observation(step=1, execution=ExecutionRecord(), elapsed=0.9),
    BudgetUpdate(step=1, spent=Spent(steps=1, tokens=50), limits=Limits(steps=4)),
    ModelDelta(step=2, text="Now loop"),
    Retry(step=2, number=1, wait=1.0, reason="429"),
    Code(step=2, code="while True: pass", elapsed=2.0),
    Stopped(step=2, elapsed=3.0),
    FinalAnswer(step=2, stop_reason="stopped by user", steps=2, code=["x = 1"]),
]


@pytest.mark.parametrize("events, steps, checks", [
    pytest.param(INTERLEAVED, {(1, 1): ("print(1)", "1\n", False), (2, 1): ("print(2)", "", True)},
                 lambda run: (run.attempts == [1, 2] and run.winner == 1
                              and run.part(1).final.answer == "1" and run.part(2).final.stop_reason == "budget:steps"
                              and run.final.stop_reason == "answered (vote of 2)"),
                 id="interleaved attempts"),
    pytest.param(WITHOUT_CODE, {(0, 1): (None, None, False), (0, 2): (None, None, False)},
                 lambda run: (run.steps[0, 1].plan.startswith("It is") and run.steps[0, 1].check.answer == "3.14"
                              and run.steps[0, 1].decision.action == "revise" and run.steps[0, 1].usage.calls == 1
                              and [e.source for e in run.steps[0, 2].errors] == ["model"]
                              and run.steps[0, 2].decision.reason == "asked for code" and not run.errors
                              and run.final is None),
                 id="steps without code"),
    pytest.param(RUN_LEVEL_ERRORS, {(0, 1): (None, None, False)},
                 lambda run: ([e.message for e in run.errors] == ["local sandbox: no process limit",
                                                                   "cannot reach the model"]
                              and [e.message for e in run.part(1).errors] == ["attempt 1 failed: kernel died"]
                              and [e.message for e in run.steps[0, 1].errors] == ["tool calls are not supported here"]
                              and run.final.stop_reason == "error"),
                 id="errors at run level"),
    pytest.param(STOPPED, {(0, 1): ("x = 1", "", False), (0, 2): ("while True: pass", None, False)},
                 lambda run: (run.stopped is not None and run.final.stop_reason == "stopped by user"
                              and run.budget.spent.steps == 1 and run.steps[0, 2].start == 2.0
                              and run.steps[0, 2].end == 2.0),
                 id="a stopped run"),
])
def test_events_fold_into_steps_keyed_by_attempt_and_step(events, steps, checks):
    run = fold(events)
    assert {key: (s.code, s.execution.stdout_text if s.execution else None, s.failed)
            for key, s in run.steps.items()} == steps
    assert all(s.key == key for key, s in run.steps.items())
    assert checks(run)


def test_the_fold_is_incremental_and_says_where_each_event_went():
    run = RunFold()
    placed = [run.add(event) for event in STOPPED]
    assert [step.key if step else None for step in placed] == [None, (0, 1), (0, 1), None, (0, 2), None, (0, 2),
                                                                None, None]
    assert placed[1] is placed[2] is run.steps[0, 1]  # one record per step, filled in as events arrive
    assert run.steps == fold(STOPPED).steps


def test_a_step_lasts_from_its_first_to_its_last_event():
    step = fold(WITHOUT_CODE).steps[0, 1]
    assert (step.start, step.end) == (0.5, 0.8) and step.seconds == pytest.approx(0.3)


def test_a_result_holds_the_winning_attempts_steps_and_the_vote_rows():
    result = RunResult.from_events(INTERLEAVED)
    assert [(s.attempt, s.step, s.code) for s in result.steps] == [(1, 1, "print(1)")]
    assert [a.attempt for a in result.attempts] == [1, 2] and result.answer == "1"
    single = RunResult.from_events(STOPPED)
    assert [s.step for s in single.steps] == [1, 2] and all(isinstance(s, Step) for s in single.steps)
    assert single.to_json()["steps"][1]["code"] == "while True: pass"


def test_the_live_view_folds_with_the_same_fold_as_the_static_views():
    view = RunView()
    for event in INTERLEAVED:
        view.on_event(event)
    assert view.fold.steps == fold(INTERLEAVED).steps
    # each attempt's tab shows that attempt's own code, though the events came mixed
    shown = {n: view.attempt_views[n].cards[1].code.value for n in (1, 2)}
    assert ">1</span>)" in shown[1] and ">2</span>)" in shown[2]
    assert view.attempt_views[1].cards[1].step is view.fold.steps[1, 1]
    assert view.attempt_views[2].cards[1].step is view.fold.steps[2, 1]
    assert view.attempt_views[2].steps.titles[0].startswith("Step 1 · error")
