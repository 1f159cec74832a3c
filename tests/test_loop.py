"""The reasoning loop end to end: the real openai client against the scripted server, a real kernel."""

from __future__ import annotations

import json

import asyncio
import os

import pytest

from nbreason.config import RunConfig
from nbreason.events import (BudgetUpdate, Check, Code, Decision, Error, FinalAnswer, ModelCall, ModelDelta,
                             Observation, Plan, RunStarted, Stopped)
from nbreason.policy import confidence
from nbreason.runner import reason
from nbreason.trace import read_trace
from tests.support.kernels import sandbox_kernel_pids
from tests.support.scripted_server import Reply, ScriptedServer, context_too_long, tool_call


def config(server: ScriptedServer, **kw) -> RunConfig:
    base = dict(model="scripted", base_url=server.base_url, api_key="sk-test", protocol="text", exec_timeout=20)
    return RunConfig(**(base | kw))


def kinds(events):
    return [type(e) for e in events if not isinstance(e, ModelDelta)]


async def test_multi_step_run_recovers_from_a_code_error(tmp_path):
    script = [
        Reply("Sum the range.\n```python\nx = sum(range(10)\nprint(x)\n```"),
        Reply("Fix the bracket.\n```python\nx = sum(range(10))\nprint(x)\n```"),
        Reply("FINAL ANSWER: 45"),
    ]
    with ScriptedServer(script) as server:
        result = await reason("Sum of 0..9?", config=config(server, trace=str(tmp_path / "t.jsonl")))
    assert result.answer == "45" and result.stop_reason == "answered"
    # accepted on its reward, but no independent check ran: a confidence, not "verified"
    assert result.confidence is not None and not result.verified
    assert [s.execution.error is None for s in result.steps[:2]] == [False, True]
    assert "SyntaxError" in result.steps[0].summary
    # the model saw the error before it fixed the code
    second_request = server.requests[1]["messages"]
    assert "SyntaxError" in second_request[-1]["content"]
    sequence = kinds(result.events)
    assert sequence[0] is RunStarted and sequence[-1] is FinalAnswer
    assert sequence[1:7] == [ModelCall, Plan, Code, Observation, Check, Decision]
    assert result.usage.total_tokens > 0 and result.usage.calls == 3
    assert result.solution_code().strip() == "x = sum(range(10))\nprint(x)"


async def test_streamed_text_arrives_as_deltas_before_the_call_ends():
    seen = []
    with ScriptedServer([Reply("```python\nprint(6*7)\n```", chunk_delay=0.01), Reply("FINAL ANSWER: 42")]) as server:
        result = await reason("6*7?", config=config(server), subscribers=[seen.append])
    deltas = [e for e in seen if isinstance(e, ModelDelta)]
    assert len(deltas) > 3
    first_call = next(i for i, e in enumerate(seen) if isinstance(e, ModelCall))
    assert seen.index(deltas[0]) < first_call
    assert result.answer == "42"


@pytest.mark.parametrize("limit,options,replies", [
    ("budget:steps", {"max_steps": 2}, None),
    ("budget:tokens", {"max_total_tokens": 150}, None),
    ("budget:seconds", {"max_seconds": 2.0}, 1.2),  # the first reply lands well inside, the second cannot
])
async def test_each_budget_limit_ends_the_run_with_the_best_answer(limit, options, replies):
    code = Reply("```python\nprint(7)\n```", delay=replies or 0.0, usage={"prompt_tokens": 60, "completion_tokens": 20})
    with ScriptedServer([code] * 6) as server:
        result = await reason("Pick 7", config=config(server, **options))
    assert result.stop_reason == limit
    assert result.answer == "7"  # the last printed line is the best answer so far
    final_check = [e for e in result.events if isinstance(e, Check)][-1]
    assert final_check.answer == "7"  # the verifier still ran on it
    assert any(isinstance(e, BudgetUpdate) for e in result.events)


async def test_cost_limit_uses_the_price_table():
    reply = Reply("```python\nprint(1)\n```", usage={"prompt_tokens": 400_000, "completion_tokens": 100_000})
    with ScriptedServer([reply] * 4, models=("gpt-4o",)) as server:
        result = await reason("q", config=config(server, model="gpt-4o", max_cost=1.0, max_total_tokens=None))
    assert result.stop_reason == "budget:cost"
    assert result.usage.cost is not None and result.usage.cost >= 1.0


async def test_repeating_failing_code_is_detected_as_a_stall():
    bad = Reply("```python\n1/0\n```")  # each repeat is redrawn twice, and comes back the same
    with ScriptedServer([bad] * 6) as server:
        result = await reason("q", config=config(server, backtrack=False))
    assert result.stop_reason.startswith("stalled")
    assert len(result.steps) == 2


async def test_a_stall_backtracks_once_to_the_last_good_state_then_stops():
    bad = Reply("```python\n1/0\n```")  # each repeat is redrawn twice, and comes back the same
    with ScriptedServer([bad] * 8) as server:
        result = await reason("q", config=config(server))
        calls = len(server.requests)
    assert [e.action for e in result.events if isinstance(e, Decision)].count("backtrack") == 1
    assert result.stop_reason.startswith("stalled") and len(result.steps) == 4
    assert calls == 8  # steps 1 and 3 once, steps 2 and 4 drawn three times each


async def test_backtracking_rebuilds_the_good_state_and_hides_the_failed_steps():
    script = [Reply("Load the data.\n```python\ndata = [4, 8, 15]\nprint(len(data))\n```"),
              Reply("```python\nprint(data.mean())\n```"),
              Reply("```python\nprint(data.mean())\n```"),  # the same failing code: redrawn,
              Reply("```python\nprint(data.mean())\n```"),  # redrawn again, told what must change,
              Reply("```python\nprint(data.mean())\n```"),  # and the same again: stall -> backtrack
              Reply("Another way.\n```python\nprint(sum(data) / len(data))\n```"),
              Reply("FINAL ANSWER: 9")]
    with ScriptedServer(script) as server:
        result = await reason("mean?", config=config(server))
        after_backtrack = server.requests[5]["messages"]
    assert result.answer == "9" and result.stop_reason == "answered"
    assert "back at the state after step 1" in after_backtrack[-1]["content"]
    assert not any("mean()" in str(m.get("content")) for m in after_backtrack)  # failed steps dropped
    assert result.steps[3].execution.stdout_text.strip() == "9.0"  # `data` was rebuilt


async def test_a_reply_that_repeats_a_failed_program_is_redrawn_sampled_and_not_run_again():
    failing = Reply("```python\nprint(undefined_name)\n```")
    script = [failing, failing, Reply("```python\nprint(7)\n```"), Reply("FINAL ANSWER: 7")]
    with ScriptedServer(script) as server:
        result = await reason("7?", config=config(server, self_check="off", seed=5))
        redraw = server.requests[2]
    assert result.answer == "7" and result.stop_reason == "answered"
    assert redraw["temperature"] >= 0.7 and redraw["seed"] == 5 + 2000 + 2
    assert server.requests[1]["temperature"] == 0.0
    runs = [e.code for e in result.events if isinstance(e, Code)]
    assert runs == ["print(undefined_name)", "print(7)"]  # the repeat was never run
    assert any(isinstance(e, Error) and "repeats a program that already failed" in e.message
               for e in result.events)
    assert sum(isinstance(e, ModelCall) for e in result.events) == 4  # the first draw stays visible


async def test_a_redraw_that_repeats_the_failed_program_again_is_drawn_once_more_told_what_must_change():
    failing = Reply("```python\nprint(undefined_name)\n```")
    script = [failing, failing, failing, Reply("```python\nprint(7)\n```"), Reply("FINAL ANSWER: 7")]
    with ScriptedServer(script) as server:
        result = await reason("7?", config=config(server, self_check="off", seed=5))
        first, second = server.requests[2], server.requests[3]
    assert result.answer == "7"
    assert second["temperature"] > first["temperature"] >= 0.7 and second["seed"] != first["seed"]
    told = second["messages"][-1]
    assert told["role"] == "user" and "That program already failed: NameError" in told["content"]
    assert "already failed" not in json.dumps(first["messages"])  # the first redraw is sampling alone
    runs = [e.code for e in result.events if isinstance(e, Code)]
    assert runs == ["print(undefined_name)", "print(7)"]
    # what it was told is not kept: the next step's conversation goes on from the program that ran
    assert "That program already failed" not in json.dumps(server.requests[4]["messages"])


async def test_an_answer_not_backed_by_output_is_sent_back_for_revision():
    script = [Reply("FINAL ANSWER: 12"), Reply("```python\nprint(3*4)\n```"), Reply("FINAL ANSWER: 12")]
    with ScriptedServer(script) as server:
        result = await reason("3*4?", config=config(server))
    decisions = [e.action for e in result.events if isinstance(e, Decision)]
    assert decisions == ["revise", "continue", "final"]
    assert "not yet supported" in server.requests[1]["messages"][-1]["content"]
    assert result.stop_reason == "answered"


async def test_native_tool_calls_drive_the_same_loop():
    script = [tool_call("run_python", {"code": "print(2**10)"}, text="Compute it."),
              tool_call("final_answer", {"answer": "1024"})]
    with ScriptedServer(script) as server:
        result = await reason("2**10?", config=config(server, protocol="tools"))
    assert result.answer == "1024" and result.stop_reason == "answered"
    second = server.requests[1]["messages"]
    assert second[-1]["role"] == "tool" and "1024" in second[-1]["content"]
    assert server.requests[0]["tools"][0]["function"]["name"] == "run_python"


async def test_context_too_long_shortens_history_and_retries():
    script = [Reply("```python\nprint('x' * 5000)\n```"), Reply("```python\nprint(1)\n```"),
              Reply("```python\nprint(2)\n```"), context_too_long(), Reply("FINAL ANSWER: 2")]
    with ScriptedServer(script) as server:
        result = await reason("q", config=config(server, observation_chars=3000))
    assert result.answer == "2"
    assert any(isinstance(e, Error) and "shortened" in e.message for e in result.events)
    retried = server.requests[-1]["messages"]
    assert any("shortened" in str(m.get("content")) for m in retried)


async def test_stop_during_the_model_stream_keeps_what_happened():
    stop = asyncio.Event()
    seen = []

    def on_event(event):
        seen.append(event)
        if isinstance(event, ModelDelta) and event.step == 2:
            stop.set()

    script = [Reply("```python\nprint(1)\n```"), Reply("thinking " * 200, chunk_delay=0.02)]
    with ScriptedServer(script) as server:
        result = await asyncio.wait_for(reason("q", config=config(server), subscribers=[on_event], stop=stop), 20)
    assert result.stop_reason == "stopped by user"
    assert any(isinstance(e, Stopped) for e in result.events)
    assert result.steps[0].execution is not None  # step 1 kept
    assert result.answer == "1"


async def test_stop_during_code_execution_interrupts_the_sandbox():
    stop = asyncio.Event()

    def on_event(event):
        if isinstance(event, Code):
            asyncio.get_running_loop().call_later(0.5, stop.set)

    with ScriptedServer([Reply("```python\nimport time\ntime.sleep(60)\n```")]) as server:
        started = asyncio.get_running_loop().time()
        result = await reason("q", config=config(server), subscribers=[on_event], stop=stop)
    assert result.stop_reason == "stopped by user"
    assert asyncio.get_running_loop().time() - started < 20
    assert not sandbox_kernel_pids()


async def test_model_code_cannot_see_api_keys(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-parent")
    monkeypatch.setenv("NBREASON_API_KEY", "sk-secret-nb")
    code = ("import os\nprint(sorted(k for k in os.environ if 'KEY' in k))\n"
            "print(b'sk-secret' in open('/proc/self/environ','rb').read())")
    with ScriptedServer([Reply(f"```python\n{code}\n```"), Reply("FINAL ANSWER: none")]) as server:
        result = await reason("q", config=config(server))
    out = result.steps[0].execution.stdout_text
    assert out.strip().splitlines() == ["[]", "False"]


async def test_matplotlib_figure_reaches_the_observation():
    code = "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.show()"
    with ScriptedServer([Reply(f"```python\n{code}\n```"), Reply("FINAL ANSWER: plotted")]) as server:
        result = await reason("plot", config=config(server))
    execution = result.steps[0].execution
    assert any(r.png for r in execution.results)
    assert "image/png" in result.steps[0].summary


async def test_trace_reads_back_as_the_same_events(tmp_path):
    path = tmp_path / "run.jsonl"
    with ScriptedServer([Reply("```python\nprint(5)\n```"), Reply("FINAL ANSWER: 5")]) as server:
        result = await reason("q", config=config(server, trace=str(path)))
    live = [e.to_json() for e in result.events if not isinstance(e, ModelDelta)]
    assert [e.to_json() for e in read_trace(path)] == live
    # a trace cut mid-line (a killed process) loads up to its last complete event
    text = path.read_text()
    path.write_text(text[: len(text) - 40])
    assert [e.to_json() for e in read_trace(path)] == live[:-1]


async def test_unwritable_trace_is_reported_and_the_run_still_answers(tmp_path):
    locked = tmp_path / "ro"
    locked.mkdir()
    locked.chmod(0o500)
    if os.access(locked, os.W_OK):  # root ignores permissions: use a path under a file instead
        (tmp_path / "file").write_text("x")
        target = tmp_path / "file" / "run.jsonl"
    else:
        target = locked / "run.jsonl"
    with ScriptedServer([Reply("```python\nprint(5)\n```"), Reply("FINAL ANSWER: 5")]) as server:
        result = await reason("q", config=config(server, trace=str(target)))
    assert result.answer == "5" and result.trace_path is None
    assert any(isinstance(e, Error) and e.source == "trace" for e in result.events)


async def test_a_failing_subscriber_is_detached_and_reported():
    def broken(event):
        if isinstance(event, Plan):
            raise RuntimeError("renderer bug")

    with ScriptedServer([Reply("Plan it.\n```python\nprint(5)\n```"), Reply("FINAL ANSWER: 5")]) as server:
        result = await reason("q", config=config(server), subscribers=[broken])
    assert result.answer == "5"
    assert any(isinstance(e, Error) and "renderer bug" in e.message for e in result.events)


async def test_variables_reach_the_sandbox_and_the_model_sees_their_description():
    data = {"a": [1, 2, 3]}
    with ScriptedServer([Reply("```python\nprint(sum(data['a']))\n```"), Reply("FINAL ANSWER: 6")]) as server:
        result = await reason("sum it", config=config(server), variables={"data": data})
    assert result.answer == "6"
    assert "data: dict" in server.requests[0]["messages"][1]["content"]


async def test_no_sandbox_kernel_is_left_after_runs():
    assert not sandbox_kernel_pids()


async def test_self_check_that_fails_sends_the_answer_back():
    script = [Reply("```python\nprint(2 + 2)\n```"), Reply("FINAL ANSWER: 4"),
              Reply("```python\nprint(4 == 5)\n```"),  # the independent check disagrees
              Reply("```python\nprint(5)\n```"), Reply("FINAL ANSWER: 5"),
              Reply("```python\nprint(5 == 5)\n```")]
    with ScriptedServer(script) as server:
        result = await reason("q", config=config(server, self_check="verify"))
    decisions = [e.action for e in result.events if isinstance(e, Decision)]
    assert decisions == ["continue", "verify", "revise", "continue", "verify", "final"]
    assert result.answer == "5" and result.stop_reason == "answered"
    signals = {s.name: s.value for s in [e for e in result.events if isinstance(e, Check)][-1].signals}
    assert signals["self_check"] == 1.0


async def test_recompute_check_accepts_an_answer_an_independent_solution_agrees_with():
    script = [Reply("```python\nprint(6 * 7)\n```"), Reply("FINAL ANSWER: 42"),
              Reply("Another way.\n```python\nprint(sum([40, 2]))\n```")]
    with ScriptedServer(script) as server:
        result = await reason("6*7?", config=config(server, self_check="recompute", seed=5))
    assert [e.action for e in result.events if isinstance(e, Decision)] == ["continue", "verify", "final"]
    assert result.answer == "42" and result.stop_reason == "answered"
    assert result.verified is False  # a sample of the same route is no second method: accepted, not verified
    fresh = server.requests[2]
    # independent: the question alone, sampled, with its own seed; no sight of the first answer
    assert [m["role"] for m in fresh["messages"]] == ["system", "user"]
    assert "42" not in str(fresh["messages"]) and fresh["temperature"] == 0.7 and fresh["seed"] == 1005
    signals = {s.name: s for s in [e for e in result.events if isinstance(e, Check)][-1].signals}
    assert signals["agreement"].value == 1.0 and "2 of 2" in signals["agreement"].reason
    # the model's own history never got the independent solution
    assert all("sum([40, 2])" not in str(m) for m in server.requests[1]["messages"])


async def test_recompute_check_replaces_an_answer_two_independent_solutions_contradict():
    script = [Reply("```python\nprint(5)\n```"), Reply("FINAL ANSWER: 5"),
              Reply("```python\nprint(6)\n```"),  # disagrees: not settled
              Reply("```python\nraise ValueError('x')\n```"),  # fails: repaired once
              Reply("```python\nraise ValueError('y')\n```"),  # the repair fails too: no answer, no vote
              Reply("```python\nprint('6.0')\n```")]  # agrees with the other solution: replaced
    with ScriptedServer(script) as server:
        result = await reason("q", config=config(server, self_check="recompute"))
    assert [e.action for e in result.events if isinstance(e, Decision)] == \
        ["continue", "verify", "verify", "verify", "verify", "final"]
    assert result.answer == "6" and result.stop_reason == "answered" and result.steps[-1].step == 6
    # samples of one route agreeing weigh less than two routes agreeing
    assert [(s.method, s.answer, s.repaired) for s in result.final.solutions] == \
        [("program", "5", False), ("program", "6", False), ("program", None, True), ("program", "6.0", False)]
    two_routes = confidence.Features(families=2, share=1.0, suspicion=1.0, reward=1.0, unchecked=0.0, settled=1.0)
    assert result.confidence < confidence.confidence(two_routes)
    assert seeds(server) == [1000, 1001, 1002]  # each solution its own seed
    # the repair goes on in the failed solution's own conversation, with its seed and its error
    repair = server.requests[4]
    assert [m["role"] for m in repair["messages"]] == ["system", "user", "assistant", "user"]
    assert "ValueError: x" in repair["messages"][-1]["content"] and repair["seed"] == 1001
    final_decision = [e for e in result.events if isinstance(e, Decision)][-1]
    assert "2 of 4 solutions give 6, replacing the first answer 5" in final_decision.reason


def seeds(server):
    return [r["seed"] for r in server.requests if len(r["messages"]) == 2 and r.get("temperature") == 0.7]


async def test_recompute_check_without_agreement_keeps_the_first_answer_unverified():
    script = [Reply("```python\nprint(5)\n```"), Reply("FINAL ANSWER: 5"),
              Reply("```python\nprint(6)\n```"), Reply("```python\nprint(7)\n```")]
    with ScriptedServer(script) as server:
        result = await reason("q", config=config(server, self_check="recompute", recompute_max=2))
    assert result.answer == "5" and result.stop_reason == "answered (unverified)" and not result.verified
    assert result.reward < 0.7 and len(server.requests) == 4


async def test_recompute_check_stops_at_the_step_budget_with_the_first_answer():
    script = [Reply("```python\nprint(5)\n```"), Reply("FINAL ANSWER: 5"), Reply("```python\nprint(6)\n```")]
    with ScriptedServer(script) as server:
        result = await reason("q", config=config(server, self_check="recompute", max_steps=3))
    assert result.answer == "5" and not result.verified and len(server.requests) == 3


async def test_a_lone_printed_value_is_proposed_as_the_answer_when_enabled():
    with ScriptedServer([Reply("```python\nprint(6 * 7)\n```")]) as server:
        result = await reason("6*7?", config=config(server, answer_from_output=True))
    assert result.answer == "42" and result.stop_reason == "answered" and result.usage.calls == 1
    with ScriptedServer([Reply("```python\nprint('a')\nprint('b')\n```"), Reply("FINAL ANSWER: b")]) as server:
        result = await reason("q", config=config(server, answer_from_output=True))
    assert result.usage.calls == 2  # two printed lines: the model still has to say which is the answer
