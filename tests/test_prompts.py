"""What the model is told, where the wording or the order of turns matters."""

from __future__ import annotations

from nbreason import prompts


def test_a_message_after_a_user_turn_joins_it_so_user_turns_never_follow_each_other():
    messages = [{"role": "system", "content": "s"}, {"role": "user", "content": "Output: 1"}]
    joined = prompts.followed_by(messages, [prompts.changed("NameError: x")])
    assert [m["role"] for m in joined] == ["system", "user"]
    assert joined[1]["content"].startswith("Output: 1\n\nThat program already failed: NameError: x.")
    assert messages[1]["content"] == "Output: 1"  # the history's own messages are left alone


def test_a_message_after_another_turn_is_its_own():
    tool = [{"role": "assistant", "content": None, "tool_calls": []}, {"role": "tool", "content": "1"}]
    assert [m["role"] for m in prompts.followed_by(tool, [prompts.changed(None)])] == ["assistant", "tool", "user"]
    assert prompts.changed(None)["content"].startswith("That program already failed. Do not write it again")
