"""Fault matrix, model side: every failure ends with a clear message, a complete trace and no leftovers.

Each case runs a whole question through `reason()` with the real openai client against the
scripted server and a real sandbox kernel, writing a trace.
"""

from __future__ import annotations

import socket

import pytest

from nbreason.config import RunConfig
from nbreason.events import Error, FinalAnswer, Retry
from nbreason.runner import reason
from nbreason.trace import read_trace
from tests.support.kernels import sandbox_kernel_pids
from tests.support.scripted_server import (Empty, Malformed, Reply, ScriptedServer, Truncated, model_not_found,
                                           rate_limited, server_error, tool_call, unauthorized)

CODE = Reply("```python\nprint(7)\n```")
FINAL = Reply("FINAL ANSWER: 7")


def config(base_url: str, tmp_path, **kw) -> RunConfig:
    base = dict(model="scripted", base_url=base_url, api_key="sk-test", protocol="text", exec_timeout=20,
                trace=str(tmp_path / "run.jsonl"), max_retries=3, request_timeout=5)
    return RunConfig(**(base | kw))


async def run_case(script, tmp_path, **kw):
    with ScriptedServer(script) as server:
        result = await reason("What is 7?", config=config(server.base_url, tmp_path, **kw))
    trace = read_trace(tmp_path / "run.jsonl")
    assert isinstance(trace[-1], FinalAnswer), "the trace must end with the final event"
    assert [e.kind for e in trace] == [e.kind for e in result.events if e.kind != "model_delta"]
    assert not sandbox_kernel_pids()
    return result


def errors(result) -> list[str]:
    return [e.message for e in result.events if isinstance(e, Error)]


def retries(result) -> list[Retry]:
    return [e for e in result.events if isinstance(e, Retry)]


@pytest.mark.parametrize("fault", [rate_limited(1), rate_limited(), server_error(500), server_error(502),
                                   server_error(503), Truncated()],
                         ids=["429+retry-after", "429", "500", "502", "503", "truncated-stream"])
async def test_transient_failures_are_retried_visibly_and_the_run_answers(fault, tmp_path):
    result = await run_case([fault, CODE, FINAL], tmp_path)
    assert result.answer == "7" and result.stop_reason == "answered"
    assert len(retries(result)) == 1


async def test_retry_after_is_honoured(tmp_path):
    result = await run_case([rate_limited(1), CODE, FINAL], tmp_path)
    assert retries(result)[0].wait == pytest.approx(1.0)


async def test_persistent_500_gives_up_with_a_clear_message(tmp_path):
    result = await run_case([server_error(500)] * 4, tmp_path)
    assert result.stop_reason == "error"
    assert len(retries(result)) == 3
    assert any("gave up after 4 attempts" in m for m in errors(result))


async def test_401_is_not_retried_and_says_check_the_key(tmp_path):
    result = await run_case([unauthorized()], tmp_path)
    assert result.stop_reason == "error" and not retries(result)
    assert any("authentication failed" in m and "API key" in m for m in errors(result))
    assert "sk-test" not in (tmp_path / "run.jsonl").read_text()


async def test_wrong_model_name_is_named(tmp_path):
    result = await run_case([model_not_found("scripted")], tmp_path)
    assert result.stop_reason == "error"
    assert any("'scripted' not found" in m for m in errors(result))


async def test_connection_refused_is_clear(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))  # held, never listening: no other process can take the port meanwhile
        port = s.getsockname()[1]
        result = await reason("q", config=config(f"http://127.0.0.1:{port}/v1", tmp_path, max_retries=1))
    assert result.stop_reason == "error"
    assert any("could not connect" in m for m in errors(result))


async def test_read_timeout_is_retried_then_reported(tmp_path):
    slow = Reply("late", delay=3)
    result = await run_case([slow, slow], tmp_path, request_timeout=0.5, max_retries=1)
    assert result.stop_reason == "error" and len(retries(result)) == 1
    assert any("within 0.5 s (read timeout)" in m for m in errors(result))


async def test_malformed_json_is_reported_not_retried(tmp_path):
    result = await run_case([Malformed()], tmp_path)
    assert result.stop_reason == "error" and not retries(result)
    assert any("sent a malformed response" in m for m in errors(result))


async def test_empty_http_body_is_reported(tmp_path):
    result = await run_case([Empty()] * 4, tmp_path)
    assert result.stop_reason == "error"
    assert any("empty" in m.lower() for m in errors(result))


async def test_empty_reply_text_asks_again_then_stalls(tmp_path):
    result = await run_case([Reply("")] * 3, tmp_path)
    assert result.stop_reason.startswith("stalled: 3 replies in a row without code")


async def test_a_refusal_ends_the_run_and_says_so(tmp_path):
    result = await run_case([Reply(refusal="I can't help with that.")], tmp_path)
    assert result.stop_reason == "refused"
    assert any("the model refused: I can't help with that." in m for m in errors(result))


async def test_tool_call_with_invalid_arguments_is_told_to_the_model(tmp_path):
    script = [tool_call("run_python", "{not json"), tool_call("run_python", {"code": "print(7)"}),
              tool_call("final_answer", {"answer": "7"})]
    with ScriptedServer(script) as server:
        result = await reason("q", config=config(server.base_url, tmp_path, protocol="tools"))
        second = server.requests[1]["messages"]
    assert result.answer == "7"
    assert any("invalid arguments" in m for m in errors(result))
    assert second[-1]["role"] == "tool"


async def test_code_in_the_wrong_language_is_not_run(tmp_path):
    result = await run_case([Reply("```bash\nls /\n```"), CODE, FINAL], tmp_path)
    assert result.answer == "7"
    assert any("only Python runs here" in m for m in errors(result))
    assert result.steps[0].code is None


async def test_several_code_blocks_run_as_one(tmp_path):
    result = await run_case([Reply("```python\nx = 3\n```\n```python\nprint(x + 4)\n```"), FINAL], tmp_path)
    assert result.answer == "7" and result.steps[0].execution.stdout_text.strip() == "7"


async def test_answer_without_the_marker_is_nudged(tmp_path):
    result = await run_case([CODE, Reply("The answer is 7."), FINAL], tmp_path)
    assert result.answer == "7"
    assert any("neither a code block nor a final answer" in m for m in errors(result))


async def test_final_answer_that_does_not_parse_as_a_number_is_revised(tmp_path):
    script = [CODE, Reply("FINAL ANSWER: seven-ish"), Reply("FINAL ANSWER: 7")]
    result = await run_case(script, tmp_path, answer_type="number")
    assert result.answer == "7" and result.stop_reason == "answered"
