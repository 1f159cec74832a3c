"""The context-window rule: recent steps verbatim, older ones digested, nothing lost from the trace."""

from nbreason.history import History, cut


def test_cut_keeps_head_and_tail_and_says_how_much_was_cut():
    text = "A" * 5000 + "Z" * 5000
    short, dropped = cut(text, 1000)
    assert short.startswith("A") and short.endswith("Z")
    assert f"{dropped} characters cut" in short
    assert len(short) < 1100 and dropped == len(text) - len(short.replace(f"\n… {dropped} characters cut …\n", ""))


def test_old_observations_are_digested_first_and_recent_steps_stay_verbatim():
    h = History(context_chars=4000)
    h.add({"role": "system", "content": "sys"})
    h.add({"role": "user", "content": "question"})
    for step in range(1, 6):
        h.add({"role": "assistant", "content": f"code {step} " + "c" * 300}, step)
        h.add({"role": "user", "content": f"output {step} " + "o" * 1000}, step)
    messages = h.fit()
    assert h.size() <= 4000
    assert messages[0]["content"] == "sys" and messages[1]["content"] == "question"
    assert messages[-1]["content"].startswith("output 5 ") and messages[-3]["content"].startswith("output 4 ")
    assert "shortened" in messages[3]["content"]  # step 1 output
    assert messages[2]["content"].startswith("code 1 ")  # replies go only after all old outputs


def test_a_short_history_is_left_alone():
    h = History(context_chars=10_000)
    h.add({"role": "user", "content": "q"})
    h.add({"role": "assistant", "content": "a"}, 1)
    assert h.fit() == [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]
    assert h.digested == 0
