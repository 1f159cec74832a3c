"""Events carry typed records end to end, and the trace writes them in the form it always had."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from e2b_code_interpreter.models import Execution, ExecutionError, Logs, Result

from nbreason.events import (
    AttemptAnswer, BudgetUpdate, Check, Code, Decision, Error, FinalAnswer, Limits, ModelCall, Observation, Plan,
    RunStarted, Signal, Spent, TallyEntry, ToolCall, Usage, Vote,
)
from nbreason.event_json import event_from_json
from nbreason.execution import ErrorRecord, ExecutionRecord, ResultRecord
from nbreason.trace import TraceWriter, load_trace, read_trace

ROOT = Path(__file__).resolve().parents[1]
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"


def attempt_events(attempt: int, answer: str, *, fails_first: bool = False) -> list:
    """One attempt of two steps: every record type an event can carry."""
    failing = ExecutionRecord(stderr=("warning\n",), execution_count=1,
                              error=ErrorRecord("ZeroDivisionError", "division by zero", "Traceback\n  1/0"))
    clean = ExecutionRecord(
        results=(ResultRecord(text="<Figure>", png=PNG), ResultRecord(text=answer, html=f"<b>{answer}</b>",
                                                                      json={"value": [1, 2]}, is_main_result=True)),
        stdout=(f"{answer}\n",), execution_count=2)
    events = [RunStarted(run_id="r", attempt=attempt, question="q", config={"model": "m"}, elapsed=0.1)]
    for step, execution in ((1, failing if fails_first else clean), (2, clean)):
        events += [
            ModelCall(run_id="r", attempt=attempt, step=step, model="m", response_text="reply",
                      tool_calls=[ToolCall(f"call-{attempt}-{step}", "run_python", '{"code": "print(1)"}')],
                      usage=Usage(100, 20, calls=1, cost=None), duration=0.25, elapsed=step + 0.1),
            Plan(run_id="r", attempt=attempt, step=step, text="plan", elapsed=step + 0.2),
            Code(run_id="r", attempt=attempt, step=step, code=f"print({answer})", elapsed=step + 0.3),
            Observation(run_id="r", attempt=attempt, step=step, execution=execution, summary=answer,
                        ok=execution.ok, duration=0.5, elapsed=step + 0.4),
            Check(run_id="r", attempt=attempt, step=step, reward=0.75, answer=answer,
                  signals=[Signal("code_ran", 1.0, "ran"), Signal("user_check", 0.5, "half", weight=2.0)]),
            Decision(run_id="r", attempt=attempt, step=step, action="continue", reason="read the output"),
            BudgetUpdate(run_id="r", attempt=attempt, step=step, spent=Spent(step, 120 * step, 1.5 * step, None),
                         limits=Limits(steps=4, tokens=1000, seconds=None, cost=0.5), usage=Usage(100, 20, calls=1)),
        ]
    events.append(FinalAnswer(run_id="r", attempt=attempt, step=2, answer=answer, stop_reason="answered",
                              reward=0.75, verified=True, usage=Usage(200, 40, calls=2), steps=2,
                              code=[f"print({answer})"]))
    return events


def voted_run() -> list:
    vote = Vote(run_id="r", strategy="vote",
                answers=[AttemptAnswer(1, "12", 0.75, True, 240, "answered"),
                         AttemptAnswer(2, None, 0.0, None, 0, "error")],
                tally=[TallyEntry("12", 1.0)], winner="12", winner_attempt=1, why="majority: 1 of 1")
    return [RunStarted(run_id="r", question="q", config={"model": "m", "attempts": 2}),
            *attempt_events(1, "12"), *attempt_events(2, "13", fails_first=True),
            Error(run_id="r", attempt=2, message="attempt 2 failed", source="sandbox"), vote,
            FinalAnswer(run_id="r", answer="12", stop_reason="answered (vote of 2)", reward=0.75, verified=True,
                        usage=Usage(400, 80, calls=4), steps=4, code=["print(12)"])]


def test_a_run_with_attempts_and_a_vote_reads_back_equal_to_what_was_written(tmp_path):
    events = voted_run()
    writer = TraceWriter(tmp_path / "run.jsonl")
    for event in events:
        writer(event)
    writer.close()
    contents = load_trace(tmp_path / "run.jsonl")
    assert contents.note() == ""
    assert contents.events == events  # typed records compare by value, all the way down
    vote = contents.events[-2]
    assert vote.answers[1] == AttemptAnswer(2, None, 0.0, None, 0, "error") and vote.tally == [TallyEntry("12", 1.0)]
    observation = next(e for e in contents.events if isinstance(e, Observation) and e.attempt == 2)
    assert observation.execution.error == ErrorRecord("ZeroDivisionError", "division by zero", "Traceback\n  1/0")


def test_the_trace_keeps_the_json_form_earlier_versions_wrote():
    # What the previous version wrote for the same events (dicts where there are now records).
    observation, model_call, budget = attempt_events(1, "12")[4], attempt_events(1, "12")[1], attempt_events(1, "12")[7]
    assert observation.to_json()["execution"] == {
        "results": [{"text": "<Figure>", "png": PNG, "is_main_result": False},
                    {"text": "12", "html": "<b>12</b>", "json": {"value": [1, 2]}, "is_main_result": True}],
        "stdout": ["12\n"], "stderr": [], "error": None, "execution_count": 2}
    assert model_call.to_json()["tool_calls"] == [{"id": "call-1-1", "name": "run_python",
                                                   "arguments": '{"code": "print(1)"}'}]
    assert budget.to_json()["spent"] == {"steps": 1, "tokens": 120, "seconds": 1.5, "cost": None}
    assert budget.to_json()["limits"] == {"steps": 4, "tokens": 1000, "seconds": None, "cost": 0.5}
    vote = voted_run()[-2].to_json()
    assert vote["tally"] == {"12": 1.0}
    assert vote["answers"][0] == {"attempt": 1, "answer": "12", "reward": 0.75, "verified": True, "tokens": 240,
                                  "stop_reason": "answered"}


def test_committed_traces_read_into_records_and_write_back_byte_for_byte_the_same():
    for name in ("lesson.jsonl", "failed_attempt.jsonl"):
        lines = [json.loads(line) for line in (ROOT / "examples" / name).read_text().splitlines()[1:]]
        events = read_trace(ROOT / "examples" / name)
        written = [e.to_json() for e in events]
        # every field the trace held comes back the same; fields added since are at their defaults
        assert [{k: w[k] for k in line} for w, line in zip(written, lines)] == lines
        for event, w, line in zip(events, written, lines):
            defaults = {f.name: f.default if f.default is not dataclasses.MISSING else f.default_factory()
                        for f in dataclasses.fields(event)}
            added = {k: w[k] for k in set(w) - set(line) if k in defaults}
            assert added == {k: _plain(defaults[k]) for k in added}, (name, type(event).__name__)
        executions = [e.execution for e in events if isinstance(e, Observation)]
        assert executions and all(isinstance(x, ExecutionRecord) for x in executions)
        assert all(isinstance(e.spent, Spent) and isinstance(e.limits, Limits) for e in events
                   if isinstance(e, BudgetUpdate))


def test_older_shapes_of_an_execution_still_read():
    # e2b's own Execution.to_json nests stdout/stderr under logs; Jupyter keeps a traceback as lines.
    event = event_from_json({"kind": "observation", "step": 1, "execution": {
        "results": [{"text": "4", "is_main_result": True, "chart": {"ignored": True}}],
        "logs": {"stdout": ["two\n", "lines\n"], "stderr": []},
        "error": {"name": "ValueError", "value": "bad", "traceback": ["line 1", "line 2"]}}})
    assert event.execution == ExecutionRecord(results=(ResultRecord(text="4", is_main_result=True),),
                                              stdout=("two\n", "lines\n"),
                                              error=ErrorRecord("ValueError", "bad", "line 1\nline 2"))
    assert event_from_json({"kind": "observation", "execution": {}}).execution == ExecutionRecord()
    assert event_from_json({"kind": "budget", "spent": {"steps": 1}}).limits is None
    assert event_from_json({"kind": "budget", "spent": {}, "limits": {}}).limits is None  # the old empty default


def test_a_line_whose_records_have_the_wrong_types_is_skipped_not_shown(tmp_path):
    good = Observation(step=1, execution=ExecutionRecord(stdout=("ok\n",))).to_json()
    bad_lines = [
        {"kind": "observation", "execution": {"stdout": "not a list"}},
        {"kind": "observation", "execution": {"results": [{"html": ["<b>"]}]}},
        {"kind": "observation", "execution": {"error": {"name": 3}}},
        {"kind": "vote", "answers": [{"attempt": "<img src=x>", "answer": "1"}]},
        {"kind": "vote", "answers": [{"answer": "1"}]},  # no attempt
        {"kind": "vote", "tally": [["12", 1]]},
        {"kind": "vote", "tally": {"12": "many"}},
        {"kind": "budget", "spent": {"steps": "all"}},
        {"kind": "budget", "limits": {"tokens": "many"}},
        {"kind": "budget", "limits": [8]},
        {"kind": "model_call", "tool_calls": [{"id": "c", "name": "run_python"}]},  # no arguments
    ]
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in [good, *bad_lines, good]) + "\n")
    contents = load_trace(path)
    assert len(contents.events) == 2 and contents.skipped == list(range(2, 2 + len(bad_lines)))


def test_an_e2b_execution_becomes_a_record_with_what_matters_read_once():
    execution = Execution(
        results=[Result(png=PNG, text="<Figure>"), Result(text="42", is_main_result=True)],
        logs=Logs(stdout=["6 * 7 =\n"], stderr=["careful\n"]), execution_count=3)
    record = ExecutionRecord.of(execution)
    assert record.ok and record.stdout_text == "6 * 7 =\n" and record.stderr_text == "careful\n"
    assert record.main_text == "42" and record.printed.splitlines() == ["6 * 7 =", "", "42"]
    assert record.results[0].png == PNG and record.execution_count == 3
    failed = ExecutionRecord.of(Execution(error=ExecutionError("KeyError", "'x'", "Traceback ...")))
    assert not failed.ok and failed.error.headline == "KeyError: 'x'" and failed.printed == ""
    assert ExecutionRecord(stdout=["a"]) == ExecutionRecord(stdout=("a",))  # lists are kept as tuples


def _plain(value):
    """A field default as to_json writes it (tuples become lists)."""
    return json.loads(json.dumps(value, default=list)) if value is not None else None
