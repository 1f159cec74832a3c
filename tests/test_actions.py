"""Reading model replies: fenced code, the final-answer marker, tool calls, and bad output."""

import json

import pytest

from nbreason.actions import choose_protocol, from_completion, from_text
from nbreason.models.base import Completion, ToolCall


def test_plan_and_code_are_split():
    a = from_text("Add them up.\n```python\nprint(1 + 2)\n```\n")
    assert (a.plan, a.code, a.answer) == ("Add them up.", "print(1 + 2)", None)


def test_final_answer_marker_is_read_and_cleaned():
    assert from_text("FINAL ANSWER: $1,200.").answer == "$1,200"
    assert from_text("final answer: \\boxed{42}").answer == "42"
    assert from_text("Done.\n**FINAL ANSWER: 7**").answer == "7"


def test_several_python_blocks_run_as_one_program():
    a = from_text("```python\nx = 2\n```\nthen\n```py\nprint(x * 3)\n```")
    assert a.code == "x = 2\n\nprint(x * 3)" and "joined" in a.notes[0]


def test_code_in_another_language_is_not_run_and_is_reported():
    a = from_text("```bash\nrm -rf /\n```")
    assert a.code is None and "only Python runs" in a.notes[0]


def test_no_code_and_no_answer_gives_an_empty_action():
    a = from_text("I think the answer is probably about seven.")
    assert a.code is None and a.answer is None and a.plan


def test_unclosed_fence_still_yields_the_code():
    assert from_text("```python\nprint(5)\n").code == "print(5)"


def test_tool_call_with_invalid_arguments_is_reported_not_raised():
    c = Completion(tool_calls=[ToolCall("c1", "run_python", "{not json")])
    a = from_completion(c)
    assert a.code is None and "invalid arguments" in a.notes[0] and a.call_id == "c1"


def test_tool_calls_for_code_and_answer():
    c = Completion(text="Plan.", tool_calls=[ToolCall("c1", "run_python", '{"code": "print(3)"}'),
                                             ToolCall("c2", "final_answer", '{"answer": "3"}')])
    a = from_completion(c)
    assert (a.plan, a.code, a.answer, a.call_id) == ("Plan.", "print(3)", "3", "c1")


def test_a_block_that_only_shows_the_expected_output_is_not_run():
    a = from_text("```python\nx = 48 + 24\nprint(x)\n```\n```python\n72.0\n```")
    assert a.code == "x = 48 + 24\nprint(x)" and "only showed expected output" in a.notes[0]


def test_a_final_answer_is_unwrapped_wherever_the_box_is():
    assert from_text("FINAL ANSWER: The answer is $\\boxed{\\frac{1}{2}}$.").answer == "\\frac{1}{2}"
    call = ToolCall("c1", "final_answer", json.dumps({"answer": "**\\boxed{7}**"}))
    assert from_completion(Completion(tool_calls=[call])).answer == "7"


@pytest.mark.parametrize("configured,supports,preferred,chosen", [
    ("auto", None, "tools", "tools"),   # an API model: tools, falling back if refused
    ("auto", None, "text", "text"),     # the embedded models' profile, as measured
    ("auto", False, "tools", "text"),   # a server known to refuse tools
    ("auto", True, "text", "text"),     # the profile's measured preference holds even where tools work
    ("tools", None, "text", "tools"),   # asked for explicitly
    ("text", True, "tools", "text"),
])
def test_auto_protocol_follows_the_model_profile_and_what_the_server_accepts(configured, supports, preferred, chosen):
    assert choose_protocol(configured, supports, preferred) == chosen


def test_the_embedded_profile_prefers_the_text_protocol():
    from nbreason.models.base import EMBEDDED, ModelProfile

    assert EMBEDDED.protocol == "text" and ModelProfile().protocol == "tools"
