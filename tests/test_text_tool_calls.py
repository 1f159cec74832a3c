"""Tool calls a server leaves in the reply text (small models skip the <tool_call> tags)."""

from __future__ import annotations

import json

import pytest

from nbreason.config import RunConfig
from nbreason.models.openai_chat import OpenAIChatModel
from nbreason.models.text_tool_calls import calls_in_text
from nbreason.prompts import TOOLS
from nbreason.runner import reason
from tests.support.scripted_server import Reply, ScriptedServer

NAMES = ["run_python", "final_answer"]
RUN = '{"name": "run_python", "arguments": {"code": "print(2**10)"}}'


def test_a_bare_json_call_is_a_call():
    [call] = calls_in_text(RUN, NAMES)
    assert call.name == "run_python" and json.loads(call.arguments) == {"code": "print(2**10)"}
    assert call.id.startswith("call_")


@pytest.mark.parametrize("text", [f"```json\n{RUN}\n```", f"<tool_call>\n{RUN}\n</tool_call>", f"  {RUN}\n",
                                  '{"name": "run_python", "arguments": "{\\"code\\": \\"print(2**10)\\"}"}'])
def test_fenced_tagged_and_string_encoded_calls_are_calls(text):
    [call] = calls_in_text(text, NAMES)
    assert json.loads(call.arguments) == {"code": "print(2**10)"}


def test_a_fence_or_tag_inside_the_code_stays_in_the_code():
    code = 'print("```json") ; print("<tool_call>")'
    text = "```json\n" + json.dumps({"name": "run_python", "arguments": {"code": code}}) + "\n```"
    [call] = calls_in_text(text, NAMES)
    assert json.loads(call.arguments) == {"code": code}


def test_tagged_calls_one_after_another_are_calls():
    final = '{"name": "final_answer", "arguments": {"answer": "1024"}}'
    text = f"<tool_call>\n{RUN}\n</tool_call>\n<tool_call>\n{final}\n</tool_call>"
    assert [c.name for c in calls_in_text(text, NAMES)] == ["run_python", "final_answer"]


def test_several_calls_in_one_reply_are_kept_in_order():
    text = f'{RUN}\n{{"name": "final_answer", "arguments": {{"answer": "1024"}}}}'
    assert [c.name for c in calls_in_text(text, NAMES)] == ["run_python", "final_answer"]


def test_calls_before_one_cut_off_by_the_token_limit_are_kept():
    final = '{"name": "final_answer", "arguments": {"answer": "1024"}}'
    text = f'{RUN}\n{final}\n{RUN}\n{{"name": "final_ans'
    assert [c.name for c in calls_in_text(text, NAMES)] == ["run_python", "final_answer", "run_python"]


@pytest.mark.parametrize("text", [
    f"Let me compute it: {RUN}",  # prose around it: a text reply
    f"{RUN} and then I will answer",
    '{"name": "delete_files", "arguments": {}}',  # not an offered tool
    '{"name": "run_python", "arguments": {"code": "1"}, "extra": 1}',
    '{"name": "run_python", "arguments": ["1"]}',
    '{"name": "run_python", "arguments": {"code": "1"}}, {"answer": "55"}}',  # a call, then junk
    '{"name": "run_python", "arguments": {"code": ',  # cut off
    "```python\nprint(1)\n```",
    "",
])
def test_anything_more_or_less_than_calls_stays_text(text):
    assert calls_in_text(text, NAMES) == []


async def test_the_client_turns_a_call_written_as_text_into_a_tool_call():
    with ScriptedServer([Reply(RUN), Reply(RUN)]) as server:
        model = OpenAIChatModel("scripted", base_url=server.base_url)
        offered = await model.complete([{"role": "user", "content": "2**10?"}], tools=TOOLS)
        plain = await model.complete([{"role": "user", "content": "2**10?"}])
    assert offered.text == "" and [c.name for c in offered.tool_calls] == ["run_python"]
    assert plain.text == RUN and plain.tool_calls == []  # no tools offered: text is text


async def test_the_tools_protocol_runs_calls_written_as_text_and_answers_them_as_tool_messages():
    script = [Reply(RUN), Reply('```json\n{"name": "final_answer", "arguments": {"answer": "1024"}}\n```')]
    with ScriptedServer(script) as server:
        config = RunConfig(model="scripted", base_url=server.base_url, api_key="sk-test", protocol="tools",
                           exec_timeout=20)
        result = await reason("2**10?", config=config)
    assert result.answer == "1024" and result.stop_reason == "answered"
    second = server.requests[1]["messages"]
    assert second[-2]["role"] == "assistant" and second[-2]["tool_calls"][0]["function"]["name"] == "run_python"
    assert second[-1]["role"] == "tool" and "1024" in second[-1]["content"]
    assert second[-1]["tool_call_id"] == second[-2]["tool_calls"][0]["id"]


def test_a_reply_nested_deep_enough_to_break_the_json_parser_stays_text():
    from nbreason.models.text_tool_calls import calls_in_text

    assert calls_in_text('{"name": "run_python", "arguments": ' + "[" * 100_000, ["run_python"]) == []
