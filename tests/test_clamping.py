"""What a program did to its own result, as a table: policy/clamping.py. Then one run, end to end,
whose clamped 0 is sent back told why."""

import pytest

from nbreason.config import RunConfig
from nbreason.policy.clamping import clamping
from nbreason.policy.plausibility import suspicion, vetoed
from nbreason.runner import reason
from tests.support.scripted_server import Reply, ScriptedServer

ROWS = [
    # (why, answer, program, flagged)
    ("the tune half's drawdown, clamped after its veto", "0",
     "d = df['nonfarm'].rolling(12).min() - df['nonfarm'].max()\nd = max(0, d.max())\nprint(d)", True),
    ("the bound second, as a float", "0.0", "print(max(left - used, 0.0))", True),
    ("numpy's element-wise maximum", "0", "import numpy as np\nprint(np.maximum(a - b, 0).sum())", True),
    ("pandas' clip with a lower bound", "0", "print((df.x - df.y).clip(lower=0).sum())", True),
    ("a series clipped from 0 up", "0", "print(s.clip(0, 100).min())", True),
    ("numpy's clip takes the array first", "0", "import numpy as np\nprint(np.clip(x, 0, None))", True),
    ("minus zero is zero", "0", "print(max(-0, n))", True),
    ("an answer written as money", "$0", "print(max(0, paid - owed))", True),
    ("the clamp did not bind", "14", "print(max(0, 20 - 6))", False),
    ("no clamp, a computed zero", "0", "print(10 - 5 * 2)", False),
    ("np.max over axis 0 is no clamp", "0", "import numpy as np\nprint(np.max(a, 0))", False),
    ("a series' max is no clamp", "0", "print(s.max(0))", False),
    ("max of two quantities", "0", "print(max(a, b))", False),
    ("numpy's clip from 5 up", "0", "import numpy as np\nprint(np.clip(x, 5, None))", False),
    ("True is not a zero bound", "0", "print(max(False, n))", False),
    ("no answer to judge", None, "print(max(0, n))", False),
    ("a program that does not parse says nothing", "0", "print(max(0, n)", False),
    ("a name is no number", "Renewables", "print(max(0, n))", False),
]


@pytest.mark.parametrize("why, answer, program, flagged", ROWS, ids=[r[0] for r in ROWS])
def test_an_answer_of_zero_clamped_by_its_program_is_vetoed(why, answer, program, flagged):
    signals = clamping(answer, [program])
    assert bool(signals) is flagged
    if flagged:
        assert vetoed(signals).startswith(f"{answer} is where the program clamped its result (")
        assert "find why it is negative" in vetoed(signals)
        assert suspicion(signals) == 0.0


def test_a_clamp_in_an_earlier_block_counts():
    assert clamping("0", ["fall = max(0, peak - low)", "print(fall)"])


@pytest.mark.parametrize("question, flagged", [
    ("She is paid overtime for hours beyond 40 a week. She worked 38 hours. How many overtime hours is she paid?",
     False),
    ("Tax is 10% of income in excess of $10,000. He earned $9,000. How much tax does he pay?", False),
    ("A fee is charged on every kilogram over 20 kg. The bag weighs 18 kg. How many kilograms are charged?", False),
    ("What was the largest fall of `nonfarm` from its highest value so far?", True),
    ("He had 20 apples and gave away 5 over the week. How many are left?", True),
    ("Tom picks 10 apples over 3 days and gives away 14. How many are left?", True),
])
def test_a_question_that_counts_only_what_lies_beyond_a_threshold_makes_its_clamp_the_formula(question, flagged):
    assert bool(clamping("0", ["hours = 38\nprint(max(0, hours - 40))"], question)) == flagged


def test_code_nested_too_deep_to_parse_says_nothing():
    assert clamping("0", ["x = " + "(" * 5000 + "1" + ")" * 5000 + "\nprint(max(0, x))"]) == []


async def test_a_run_whose_program_clamps_its_result_to_zero_is_told_why_and_its_revision_answers():
    question = "A tank held 120 litres and now holds 85. How much water was used?"
    clamped = "```python\nused = 85 - 120\nprint(max(0, used))\n```"
    fixed = "```python\nprint(120 - 85)\n```"

    def reply(body: dict) -> Reply:
        told = any("clamped its result (max(0, …))" in str(m.get("content")) for m in body["messages"])
        last = body["messages"][-1]["content"]
        if told and last.startswith("Output:"):
            return Reply("FINAL ANSWER: 35")
        if not told and last.startswith("Output:"):
            return Reply("FINAL ANSWER: 0")
        return Reply(fixed if told else clamped)

    with ScriptedServer([reply] * 8) as server:
        config = RunConfig(model="scripted", base_url=server.base_url, api_key="k", protocol="text", exec_timeout=20,
                           self_check="none")
        result = await reason(question, config=config)
        sent = [m["content"] for body in server.requests for m in body["messages"] if m["role"] == "user"]
    assert result.answer == "35"
    assert any("0 is where the program clamped its result (max(0, …))" in text for text in sent)


async def test_a_check_whose_program_clamps_to_zero_is_ruled_out_and_repaired_told_why():
    from nbreason.policy.methods import METHODS, PROGRAM, PROSE, QUANTITIES

    question = "A shop sells pens at 3 for $2. How much do 45 pens cost?"
    clamped = "```python\ngroups = 45 // 3\nprint(max(0, 2 * groups - 45))\n```"  # 30 - 45, clamped: 0
    right = "```python\ngroups = 45 // 3  # '45 pens', '3 for $2'\nprint(2 * groups)\n```"

    def reply(body: dict) -> Reply:
        messages = body["messages"]
        method = next((m for m in METHODS.values() if m is not PROGRAM and m.instructions == messages[0]["content"]),
                      None)
        if method is PROSE:
            return Reply("45 pens at $2 each.\nANSWER: 90")
        if method is QUANTITIES:
            return Reply(right if "clamped its result" in messages[-1]["content"] else clamped)
        return Reply("```python\nprint(45 / 3 * 2)\n```")

    with ScriptedServer([reply] * 8) as server:
        config = RunConfig(model="scripted", base_url=server.base_url, api_key="k", protocol="text", exec_timeout=20,
                           self_check="methods", answer_from_output=True)
        result = await reason(question, config=config)
    # the quantities route's 0 never stands: it is repaired, and its repair agrees with the program
    assert [(s.method, s.answer, s.repaired) for s in result.solutions][:3] == [
        ("program", "30.0", False), ("prose", "90", False), ("quantities table", "30", True)]
    assert result.answer == "30.0" and "0" not in [s.answer for s in result.solutions]
    repair = next(b["messages"] for b in server.requests if "clamped its result" in b["messages"][-1]["content"])
    assert repair[-1]["content"].startswith("Your program printed '0', which cannot be right: 0 is where the program "
                                            "clamped its result (max(0, …))")
