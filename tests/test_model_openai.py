"""OpenAIChatModel against the scripted server, over real HTTP with the real openai client."""

import json

import pytest

from nbreason.config import RunConfig
from nbreason.events import Usage
from nbreason.models import pricing
from nbreason.models.base import ContextTooLong, Model, ModelError
from nbreason.models.openai_chat import OpenAIChatModel, ToolsNotSupported
from nbreason.models.retry import RetryPolicy
from tests.support.scripted_server import (
    Fault, Malformed, Reply, ScriptedServer, context_too_long, model_not_found, tool_call,
    tools_rejected, unauthorized,
)

MESSAGES = [{"role": "system", "content": "You solve problems."}, {"role": "user", "content": "What is 6 times 7?"}]
RUN_TOOL = {"type": "function", "function": {
    "name": "run_python", "description": "Run Python code.",
    "parameters": {"type": "object", "properties": {"code": {"type": "string"}}, "required": ["code"]}}}


@pytest.fixture
def server():
    with ScriptedServer() as server:
        yield server


@pytest.fixture
async def model(server):
    model = OpenAIChatModel("gpt-4o-mini", base_url=server.base_url, timeout=5, retry=RetryPolicy(scale=0))
    yield model
    await model.close()


def test_it_is_a_model():
    assert isinstance(OpenAIChatModel("m", base_url="http://127.0.0.1:1/v1"), Model)


async def test_streamed_text_arrives_piece_by_piece(server, model):
    server.add(Reply("The answer is 42."))
    pieces = []
    completion = await model.complete(MESSAGES, on_delta=pieces.append)
    assert completion.text == "The answer is 42."
    assert pieces == ["The ", "answer ", "is ", "42."]
    assert completion.finish_reason == "stop"
    assert completion.model == "gpt-4o-mini"
    assert server.requests[0]["stream"] is True
    assert server.requests[0]["stream_options"] == {"include_usage": True}
    assert server.requests[0]["messages"] == MESSAGES


async def test_non_streaming_mode_gives_the_same_completion(server):
    server.add(Reply("The answer is 42.", reasoning="6*7"))
    model = OpenAIChatModel("gpt-4o-mini", base_url=server.base_url, stream=False)
    pieces = []
    completion = await model.complete(MESSAGES, on_delta=pieces.append)
    await model.close()
    assert (completion.text, completion.reasoning) == ("The answer is 42.", "6*7")
    assert pieces == ["The answer is 42."]
    assert "stream" not in server.requests[0]
    assert completion.usage.completion_tokens == 5


async def test_tool_call_is_parsed_and_tools_become_known_supported(server, model):
    server.add(tool_call("run_python", {"code": "print(6 * 7)"}, text="Let me compute."))
    assert model.supports_tools is None
    completion = await model.complete(MESSAGES, tools=[RUN_TOOL])
    assert completion.text == "Let me compute."
    assert completion.finish_reason == "tool_calls"
    [call] = completion.tool_calls
    assert (call.id, call.name) == ("call_0", "run_python")
    assert json.loads(call.arguments) == {"code": "print(6 * 7)"}
    assert server.requests[0]["tools"] == [RUN_TOOL]
    assert model.supports_tools is True


async def test_a_server_refusing_tools_is_remembered(server, model):
    server.add(tools_rejected())
    with pytest.raises(ToolsNotSupported, match="does not accept tools"):
        await model.complete(MESSAGES, tools=[RUN_TOOL])
    assert model.supports_tools is False
    assert len(server.requests) == 1


async def test_usage_and_reasoning_tokens_are_reported_and_priced(server, model):
    server.add(Reply("42", reasoning="six sevens are forty two", usage={"prompt_tokens": 1000, "completion_tokens": 500},
                     reasoning_tokens=300))
    completion = await model.complete(MESSAGES)
    assert completion.reasoning == "six sevens are forty two"
    usage = completion.usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.reasoning_tokens, usage.calls) == (1000, 500, 300, 1)
    # gpt-4o-mini: 0.15 in, 0.60 out per million; reasoning is inside completion_tokens
    assert usage.cost == pytest.approx((1000 * 0.15 + 500 * 0.60) / 1e6)


async def test_missing_usage_is_estimated_from_text_length(server, model):
    server.add(Reply("x" * 40, send_usage=False))
    usage = (await model.complete(MESSAGES)).usage
    assert usage.completion_tokens == 10
    assert usage.prompt_tokens == (len("You solve problems.") + 3) // 4 + (len("What is 6 times 7?") + 3) // 4
    assert usage.cost is not None and usage.cost > 0


async def test_options_reach_the_server_and_unknown_ones_are_refused(server, model):
    server.add(Reply("ok"))
    await model.complete(MESSAGES, temperature=0.7, seed=3, max_tokens=64, stop=["\n\n"])
    sent = server.requests[0]
    assert (sent["temperature"], sent["seed"], sent["max_tokens"], sent["stop"]) == (0.7, 3, 64, ["\n\n"])
    with pytest.raises(TypeError, match="temprature"):
        await model.complete(MESSAGES, temprature=0.7)


async def test_options_a_reasoning_model_refuses_are_adapted_and_remembered(server, model):
    server.add(
        Fault(400, {"error": {"message": "Unsupported parameter: 'max_tokens' is not supported with this model. "
                              "Use 'max_completion_tokens' instead.", "type": "invalid_request_error",
                              "param": "max_tokens", "code": "unsupported_parameter"}}),
        Fault(400, {"error": {"message": "Unsupported value: 'temperature' does not support 0.0 with this model. "
                              "Only the default (1) value is supported.", "type": "invalid_request_error",
                              "param": "temperature", "code": "unsupported_value"}}),
        Reply("first"), Reply("second"))
    assert (await model.complete(MESSAGES, temperature=0.0, max_tokens=64)).text == "first"
    assert (await model.complete(MESSAGES, temperature=0.0, max_tokens=64)).text == "second"
    assert [("max_tokens" in r, "temperature" in r) for r in server.requests] == [(True, True), (False, True),
                                                                                  (False, False), (False, False)]
    assert [r.get("max_completion_tokens") for r in server.requests] == [None, 64, 64, 64]


async def test_authentication_failure_is_clear_and_not_retried(server, model):
    server.add(unauthorized(), Reply("never reached"))
    retries = []
    with pytest.raises(ModelError, match=r"authentication failed for http://127\.0\.0\.1:\d+/v1 \(check the API key\)") as err:
        await model.complete(MESSAGES, on_retry=lambda *a: retries.append(a))
    assert err.value.status == 401 and not err.value.retryable
    assert retries == [] and server.remaining == 1


async def test_unknown_model_names_the_model_and_url(server, model):
    server.add(model_not_found("gpt-4o-mini"))
    with pytest.raises(ModelError, match=f"model 'gpt-4o-mini' not found at {server.base_url}"):
        await model.complete(MESSAGES)
    assert len(server.requests) == 1


async def test_wrong_base_url_path_says_so(server):
    model = OpenAIChatModel("m", base_url=f"http://127.0.0.1:{server.port}/nothing-here", retry=RetryPolicy(scale=0))
    with pytest.raises(ModelError, match="has no chat completions endpoint.*check base_url"):
        await model.complete(MESSAGES)
    await model.close()


async def test_context_too_long_has_its_own_error(server, model):
    server.add(context_too_long())
    with pytest.raises(ContextTooLong, match="too long for gpt-4o-mini"):
        await model.complete(MESSAGES)


async def test_other_bad_requests_are_not_retried(server, model):
    server.add(Fault(400, {"error": {"message": "messages[1].role is invalid"}}), Reply("never"))
    with pytest.raises(ModelError, match=r"request rejected .*\(400\): messages\[1\]\.role is invalid"):
        await model.complete(MESSAGES)
    assert server.remaining == 1


async def test_connection_refused_says_where_it_tried():
    with ScriptedServer() as gone:
        url = gone.base_url  # a port that nothing listens on once the server closes
    model = OpenAIChatModel("m", base_url=url, retry=RetryPolicy(max_retries=1, scale=0))
    with pytest.raises(ModelError, match=f"could not connect to {url}.*is the server running") as err:
        await model.complete(MESSAGES)
    assert "gave up after 2 attempts" in str(err.value)
    await model.close()


async def test_malformed_json_is_reported_not_retried(server, model):
    server.add(Malformed(), Reply("never"))
    with pytest.raises(ModelError, match="malformed response"):
        await model.complete(MESSAGES)
    assert server.remaining == 1


async def test_models_on_the_server_are_listed(server, model):
    assert await model.list_models() == ["scripted"]


def test_from_config_takes_endpoint_timeout_and_retries():
    config = RunConfig(model="gpt-4.1", base_url="http://127.0.0.1:9/v1", api_key="sk-x", request_timeout=7.0,
                       max_retries=2)
    model = OpenAIChatModel.from_config(config)
    assert (model.name, model.base_url, model.timeout, model.retry.max_retries) == ("gpt-4.1", config.base_url, 7.0, 2)
    served = OpenAIChatModel.from_config(config.replace(model="qwen-served"), prices={"qwen-served": (0, 0)})
    assert pricing.cost(served.name, Usage(prompt_tokens=10), served.prices) == 0.0


# -- pricing -----------------------------------------------------------------------
def test_known_models_are_priced_per_million_tokens_and_snapshots_match():
    usage = Usage(prompt_tokens=2_000_000, completion_tokens=1_000_000, reasoning_tokens=400_000)
    assert pricing.cost("gpt-4o", usage, pricing.DEFAULT_PRICES) == pytest.approx(2 * 2.50 + 10.00)
    assert pricing.cost("gpt-4o-mini-2024-07-18", usage, pricing.DEFAULT_PRICES) == pytest.approx(2 * 0.15 + 0.60)
    assert pricing.cost("openai/o4-mini", usage, pricing.DEFAULT_PRICES) == pytest.approx(2 * 1.10 + 4.40)


def test_reasoning_counted_apart_from_completion_is_billed_as_output():
    usage = Usage(prompt_tokens=0, completion_tokens=100_000, reasoning_tokens=900_000)
    assert pricing.cost("o3-mini", usage, pricing.DEFAULT_PRICES) == pytest.approx(4.40)


def test_local_models_are_free_and_unknown_models_unpriced():
    usage = Usage(prompt_tokens=1000, completion_tokens=1000)
    assert pricing.cost("local", usage, pricing.DEFAULT_PRICES) == 0.0
    assert pricing.cost("local-small", usage, pricing.DEFAULT_PRICES) == 0.0
    assert pricing.cost("some-new-model", usage, pricing.DEFAULT_PRICES) is None


def test_prices_can_be_overridden_by_dict_and_by_env_file(tmp_path):
    usage = Usage(prompt_tokens=1_000_000, completion_tokens=1_000_000)
    prices = pricing.load_prices({"my-model": [1.0, 2.0], "gpt-4o": {"input": 0.0, "output": 0.0}}, env={})
    assert pricing.cost("my-model", usage, prices) == pytest.approx(3.0)
    assert pricing.cost("gpt-4o", usage, prices) == 0.0
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"qwen-served": {"input": 0.5, "output": 0.5}}))
    prices = pricing.load_prices(env={"NBREASON_PRICES": str(path)})
    assert pricing.cost("qwen-served", usage, prices) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="my-model"):
        pricing.load_prices({"my-model": "cheap"}, env={})


async def test_a_model_uses_its_price_overrides(server):
    server.add(Reply("ok", usage={"prompt_tokens": 1_000_000, "completion_tokens": 0}))
    model = OpenAIChatModel("house-model", base_url=server.base_url, prices={"house-model": [4.0, 8.0]})
    assert (await model.complete(MESSAGES)).usage.cost == pytest.approx(4.0)
    await model.close()
