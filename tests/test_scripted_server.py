"""The scripted server speaks enough of the OpenAI chat API for the real client to parse it."""

import json
import urllib.error
import urllib.request

import openai
import pytest

from tests.support.scripted_server import (
    Fault, Reply, ScriptedServer, Truncated, rate_limited, tool_call,
)

MESSAGES = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "say hello to me"}]


def client(server: ScriptedServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0, timeout=5)


def test_non_streaming_reply_parses_as_a_chat_completion():
    with ScriptedServer([Reply("hello you", reasoning_tokens=3)]) as server:
        response = client(server).chat.completions.create(model="scripted", messages=MESSAGES)
    assert response.choices[0].message.content == "hello you"
    assert response.choices[0].finish_reason == "stop"
    assert response.usage.prompt_tokens == 6  # words in the messages
    assert response.usage.completion_tokens == 2
    assert response.usage.completion_tokens_details.reasoning_tokens == 3


def test_stream_pieces_join_to_the_text_and_end_with_a_usage_chunk():
    with ScriptedServer([Reply("one two three", reasoning="hmm ok")]) as server:
        chunks = list(client(server).chat.completions.create(
            model="scripted", messages=MESSAGES, stream=True, stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    reasoning = "".join(c.choices[0].delta.model_extra.get("reasoning_content") or "" for c in chunks if c.choices)
    assert text == "one two three"
    assert reasoning == "hmm ok"
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) == 3
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 5
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"


def test_stream_without_include_usage_sends_no_usage():
    with ScriptedServer([Reply("plain")]) as server:
        chunks = list(client(server).chat.completions.create(model="scripted", messages=MESSAGES, stream=True))
    assert all(c.usage is None for c in chunks)


def test_tool_call_streams_as_deltas_and_whole():
    args = {"code": "print(6 * 7)"}
    with ScriptedServer([tool_call("run_python", args), tool_call("run_python", args)]) as server:
        chunks = list(client(server).chat.completions.create(model="scripted", messages=MESSAGES, stream=True))
        whole = client(server).chat.completions.create(model="scripted", messages=MESSAGES)
    parts = [tc for c in chunks if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    assert parts[0].function.name == "run_python" and parts[0].id == "call_0"
    assert json.loads("".join(p.function.arguments or "" for p in parts)) == args
    assert len(parts) > 2  # the arguments really arrive in pieces
    call = whole.choices[0].message.tool_calls[0]
    assert (call.function.name, json.loads(call.function.arguments)) == ("run_python", args)
    assert whole.choices[0].finish_reason == "tool_calls"


def test_faults_arrive_as_the_clients_typed_errors_with_headers():
    with ScriptedServer([rate_limited(retry_after=7), Fault(503, "busy")]) as server:
        with pytest.raises(openai.RateLimitError) as limited:
            client(server).chat.completions.create(model="scripted", messages=MESSAGES)
        with pytest.raises(openai.InternalServerError) as busy:
            client(server).chat.completions.create(model="scripted", messages=MESSAGES)
    assert limited.value.response.headers["retry-after"] == "7"
    assert busy.value.status_code == 503


def test_an_exhausted_script_answers_500_saying_so():
    with ScriptedServer([]) as server:
        with pytest.raises(openai.InternalServerError, match="script exhausted"):
            client(server).chat.completions.create(model="scripted", messages=MESSAGES)


def test_callable_items_see_the_request_and_requests_are_recorded():
    with ScriptedServer([lambda body: f"you said: {body['messages'][-1]['content']}"]) as server:
        server.add("second")
        first = client(server).chat.completions.create(model="scripted", messages=MESSAGES, temperature=0.3)
        second = client(server).chat.completions.create(model="scripted", messages=MESSAGES)
        assert server.remaining == 0
    assert first.choices[0].message.content == "you said: say hello to me"
    assert second.choices[0].message.content == "second"
    assert server.requests[0]["temperature"] == 0.3
    assert server.headers[0]["authorization"] == "Bearer test"


def test_truncated_stream_breaks_the_connection():
    with ScriptedServer([Truncated("a b c d e f", chunks=3)]) as server:
        with pytest.raises(openai.APIConnectionError):
            list(client(server).chat.completions.create(model="scripted", messages=MESSAGES, stream=True))


def test_models_lists_the_configured_names():
    with ScriptedServer(models=("a", "b")) as server:
        assert [m.id for m in client(server).models.list()] == ["a", "b"]
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(server.base_url + "/nothing", timeout=5)
    assert missing.value.code == 404
