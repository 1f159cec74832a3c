"""Several attempts and a vote: each attempt a whole loop in its own sandbox, shown side by side."""

from __future__ import annotations

import re

from nbreason.config import RunConfig
from nbreason.events import AttemptAnswer, FinalAnswer, ModelDelta, Observation, RunStarted, TallyEntry, Vote
from nbreason.export import report_html
from nbreason.runner import reason
from nbreason.trace import read_trace
from nbreason.views.widgets import RunView
from tests.support.kernels import sandbox_kernel_pids
from tests.support.scripted_server import Reply, ScriptedServer


def answering(values: list[str]):
    """A scripted model whose attempt k (by its seed) computes values[k]."""

    def reply(body: dict) -> Reply:
        k = body.get("seed", 0) - 1
        if body["messages"][-1]["content"].startswith("Output:"):
            return Reply(f"FINAL ANSWER: {values[k]}")
        return Reply(f"```python\nprint({values[k]})\n```")

    return reply


def config(server, **kw) -> RunConfig:
    return RunConfig(**(dict(model="scripted", base_url=server.base_url, api_key="k", protocol="text",
                             exec_timeout=20, seed=0) | kw))


async def test_majority_vote_picks_the_common_answer_and_says_why(tmp_path):
    values = ["12", "12", "13"]
    with ScriptedServer([answering(values)] * 6) as server:
        result = await reason("q", config=config(server, attempts=3, strategy="vote", trace=str(tmp_path / "t.jsonl")))
        temperatures = {r["temperature"] for r in server.requests}
        seeds = sorted({r["seed"] for r in server.requests})
    assert result.answer == "12" and result.stop_reason == "answered (vote of 3)"
    assert [a.answer for a in result.attempts] == ["12", "12", "13"]
    assert "2 of 3 answers agree on '12'" in result.vote_why
    assert temperatures == {0.7} and seeds == [1, 2, 3]  # attempts are sampled, each with its own seed
    events = read_trace(tmp_path / "t.jsonl")
    assert events == [e for e in result.events if not isinstance(e, ModelDelta)]  # typed records, read back equal
    vote = next(e for e in events if isinstance(e, Vote))
    assert vote.answers[2] == AttemptAnswer(3, "13", vote.answers[2].reward, vote.answers[2].verified,
                                            vote.answers[2].tokens, "answered")
    assert vote.tally == [TallyEntry("12", 2.0), TallyEntry("13", 1.0)]
    assert sorted(e.execution.stdout_text for e in events if isinstance(e, Observation)) == ["12\n", "12\n", "13\n"]
    assert {e.attempt for e in events} == {0, 1, 2, 3}
    assert isinstance(events[-1], FinalAnswer) and events[-1].attempt == 0
    assert sum(isinstance(e, RunStarted) for e in events) == 4
    assert result.usage.calls == 6 and not sandbox_kernel_pids()


async def test_adaptive_stops_drawing_once_the_leader_cannot_be_caught():
    values = ["5"] * 8
    with ScriptedServer([answering(values)] * 16) as server:
        result = await reason("q", config=config(server, attempts=8, strategy="adaptive", parallel=2))
    vote = next(e for e in result.events if isinstance(e, Vote))
    assert result.answer == "5"
    assert len(vote.answers) < 8 and vote.stopped_early
    assert re.search(r"settled|cannot be caught", vote.stopped_early)


async def test_reward_weighted_vote_prefers_verified_answers():
    # attempts 1 and 2 answer 9 without running code (weak), attempt 3 computes 10
    def reply(body):
        k = body.get("seed", 0)
        last = body["messages"][-1]["content"]
        if k in (1, 2):
            return Reply("FINAL ANSWER: 9")
        if last.startswith("Output:"):
            return Reply("FINAL ANSWER: 10")
        return Reply("```python\nprint(10)\n```")

    with ScriptedServer([reply] * 12) as server:
        result = await reason("q", config=config(server, attempts=3, strategy="wvote"))
    assert result.answer == "10"
    assert "reward-weighted" in result.vote_why


async def test_widgets_show_attempts_side_by_side_and_the_vote():
    view = RunView()
    with ScriptedServer([answering(["7", "7"])] * 4) as server:
        result = await reason("q", config=config(server, attempts=2, strategy="vote"), subscribers=[view.on_event])
    assert result.answer == "7"
    assert len(view.attempts.children) == 2
    assert list(view.attempts.titles) == ["attempt 1: 7", "attempt 2: 7"]
    assert "vote over 2 attempts" in view.vote.value and view.vote.layout.display is None
    assert "7" in view.answer.value
    page = report_html(result.events)
    assert page.count('class="nbreason-attempt"') == 2 and "winner:" in page


async def test_adaptive_attempts_check_themselves_and_stop_at_the_first_verified_one():
    from nbreason.policy.methods import PROSE

    def reply(body):  # every attempt's program prints 30; the prose check agrees
        if body["messages"][0]["content"] == PROSE.instructions:
            return Reply("15 groups of 3 pens cost 15 × 2 dollars.\nANSWER: 30")
        return Reply("```python\nprint(45 // 3 * 2)\n```")

    with ScriptedServer([reply] * 16) as server:
        result = await reason("A shop sells pens at 3 for $2. How much do 45 pens cost?",
                              config=config(server, attempts=8, strategy="adaptive", parallel=1, self_check="methods",
                                            answer_from_output=True))
    vote = next(e for e in result.events if isinstance(e, Vote))
    assert len(vote.answers) == 1 and "attempt 1 verified 30" in vote.stopped_early
    assert result.answer == "30" and result.verified and "confidence-weighted" in result.vote_why
    assert len(server.requests) == 2  # the program and its prose check, nothing more
