"""Follow-up questions: a run that continues an earlier one in the same Python session, through the
Python API, a real kernel and the scripted server."""

from __future__ import annotations

import pytest

from nbreason.config import RunConfig
from nbreason.events import Error, Rebuilt, RunStarted
from nbreason.followup import FollowupError, continues_of, digest
from nbreason.runner import reason
from nbreason.trace import read_trace
from tests.support.kernels import sandbox_kernel_pids
from tests.support.scripted_server import Reply, ScriptedServer

FIRST = [Reply("Find the warmest.\n```python\ntemps = {'Oslo': 6, 'Lisbon': 18, 'Cairo': 23}\n"
               "warmest = max(temps, key=temps.get)\nprint(id(temps))\nprint(warmest)\n```"),
         Reply("FINAL ANSWER: Cairo")]
SECOND = [Reply("Reuse temps.\n```python\nprint(id(temps))\nprint(sorted(temps, key=temps.get)[0])\n```"),
          Reply("FINAL ANSWER: Oslo")]


def config(server: ScriptedServer, **kw) -> RunConfig:
    base = dict(model="scripted", base_url=server.base_url, api_key="sk-test", protocol="text", exec_timeout=20,
                self_check="off")
    return RunConfig(**(base | kw))


def printed(result, step: int = 0) -> list[str]:
    return result.steps[step].execution.stdout_text.split()


async def test_a_follow_up_runs_in_the_same_session_and_sees_the_same_objects():
    with ScriptedServer(FIRST + SECOND) as server:
        first = await reason("Which city is warmest?", config=config(server), keep_sandbox=True)
        assert first.sandbox is not None and first.answer == "Cairo"
        second = await reason("Now the coldest?", config=config(server), follows=first)
    assert second.answer == "Oslo"
    assert printed(second)[0] == printed(first)[0]  # the same dict object: the sandbox was reused
    assert first.sandbox is None  # handed over to the follow-up, which closed it at its end
    assert not any(isinstance(e, Rebuilt) for e in second.events)
    continues = second.continues
    assert (continues.question, continues.answer, continues.run_id) == (
        "Which city is warmest?", "Cairo", first.events[0].run_id)
    assert not sandbox_kernel_pids()


async def test_the_model_sees_a_short_digest_of_the_earlier_run_in_its_first_request():
    with ScriptedServer(FIRST + SECOND) as server:
        first = await reason("Which city is warmest?", config=config(server), keep_sandbox=True)
        await reason("Now the coldest?", config=config(server), follows=first)
        question = server.requests[2]["messages"][1]["content"]
    assert question.startswith("This question follows an earlier one")
    assert "Earlier question: Which city is warmest?" in question and "Its answer: Cairo" in question
    assert "temps = {'Oslo': 6" in question  # the code that ran cleanly
    assert question.endswith("The question now: Now the coldest?")
    assert len(server.requests[2]["messages"]) == 2  # the digest, not the earlier conversation


def test_the_digest_keeps_the_newest_code_within_its_limit():
    from nbreason.events import Continues

    blocks = [f"x{i} = {i}\n" + "# filler\n" * 40 for i in range(20)]
    text = digest(Continues(question="q", answer="a", code=blocks))
    assert len(text) < 2_000 and "x19 = 19" in text and "x0 = 0" not in text
    assert "earlier blocks not shown" in text


async def test_a_follow_up_whose_sandbox_was_closed_rebuilds_the_state_and_says_so():
    with ScriptedServer(FIRST + SECOND) as server:
        first = await reason("Which city is warmest?", config=config(server), keep_sandbox=True)
        await first.close()
        seen = []
        second = await reason("Now the coldest?", config=config(server), follows=first, subscribers=[seen.append])
    (rebuilt,) = [e for e in second.events if isinstance(e, Rebuilt)]
    assert rebuilt.why == "the earlier run's sandbox was closed" and (rebuilt.blocks, rebuilt.ran) == (1, 1)
    assert second.events.index(rebuilt) == 1 and rebuilt in seen  # right after the start, seen by every view
    assert second.answer == "Oslo" and printed(second)[1] == "Oslo"  # temps is back
    assert printed(second)[0] != printed(first)[0]  # a new object, rebuilt by re-running the code


async def test_a_kept_sandbox_whose_kernel_restarted_is_rebuilt():
    with ScriptedServer(FIRST + SECOND) as server:
        first = await reason("Which city is warmest?", config=config(server), keep_sandbox=True)
        kept = first.sandbox
        await kept.restart()  # the variables are gone, the object is still open
        second = await reason("Now the coldest?", config=config(server), follows=first)
    (rebuilt,) = [e for e in second.events if isinstance(e, Rebuilt)]
    assert "lost its state" in rebuilt.why and second.answer == "Oslo"
    assert kept._km is None  # the stale sandbox was closed, not leaked


@pytest.mark.parametrize("closed", [False, True], ids=["kept sandbox", "rebuilt sandbox"])
async def test_a_backtrack_in_a_follow_up_keeps_the_earlier_runs_results(closed):
    # fails, then comes back the same, and twice more when redrawn: stalled, backtrack
    stall = Reply("```python\nprint(temps.mean())\n```")
    second = [Reply("```python\ncoldest = min(temps, key=temps.get)\nprint(coldest)\n```"), *[stall] * 4,
              Reply("```python\nprint(coldest, sorted(temps.values())[0])\n```"), Reply("FINAL ANSWER: Oslo")]
    with ScriptedServer(FIRST + second) as server:
        first = await reason("Which city is warmest?", config=config(server), keep_sandbox=True)
        if closed:
            await first.close()
        result = await reason("Now the coldest?", config=config(server), follows=first)
    assert [e.action for e in result.events if getattr(e, "kind", "") == "decision"].count("backtrack") == 1
    assert not [e.message for e in result.events if isinstance(e, Error) and "rebuilding" in e.message]
    # after the restart: the earlier run's `temps`, then this run's `coldest`, both rebuilt
    assert printed(result, -2) == ["Oslo", "6"] and result.answer == "Oslo"


async def test_a_backtrack_in_a_follow_up_puts_back_the_data_the_earlier_run_was_given():
    stall = Reply("```python\nprint(prices.mean())\n```")
    first = [Reply("```python\ntotal = sum(prices)\nprint(total)\n```"), Reply("FINAL ANSWER: 6")]
    second = [*[stall] * 4, Reply("```python\nprint(total, max(prices))\n```"), Reply("FINAL ANSWER: 3")]
    with ScriptedServer(first + second) as server:
        earlier = await reason("Total?", config=config(server), keep_sandbox=True, variables={"prices": [1, 2, 3]})
        result = await reason("Largest?", config=config(server), follows=earlier)  # not given again
        told = [m["content"] for r in server.requests for m in r["messages"][-1:] if "back at" in m["content"]]
    assert not [e.message for e in result.events if isinstance(e, Error) and "rebuilding" in e.message]
    assert printed(result, -2) == ["6", "3"] and result.answer == "3"
    # no good step yet: back at the session as the follow-up found it, not a fresh one
    assert told and "earlier question's variables defined again" in told[0] and "fresh" not in told[0]


async def test_a_follow_up_of_a_trace_rebuilds_in_a_new_sandbox_and_records_the_chain(tmp_path):
    with ScriptedServer(FIRST + SECOND + [Reply("```python\nprint(len(temps))\n```"), Reply("FINAL ANSWER: 3")]) \
            as server:
        await reason("Which city is warmest?", config=config(server, trace=str(tmp_path / "one.jsonl")))
        second = await reason("Now the coldest?", config=config(server, trace=str(tmp_path / "two.jsonl")),
                              follows=str(tmp_path / "one.jsonl"))
        third = await reason("How many cities?", config=config(server), follows=str(tmp_path / "two.jsonl"))
    started = read_trace(tmp_path / "two.jsonl")[0]
    assert isinstance(started, RunStarted) and started.continues.trace == str(tmp_path / "one.jsonl")
    (rebuilt,) = [e for e in second.events if isinstance(e, Rebuilt)]
    assert rebuilt.why == "the earlier run ran in another process"
    # The third run rebuilds the whole chain: the first run's code, then the second's.
    (rebuilt,) = [e for e in third.events if isinstance(e, Rebuilt)]
    assert (rebuilt.blocks, rebuilt.ran, rebuilt.failed) == (2, 2, "") and third.answer == "3"
    assert third.continues.setup == started.continues.code


async def test_a_rebuild_that_fails_says_where_and_the_run_goes_on():
    script = [Reply("```python\nimport random\nx = 1\n```"), Reply("```python\nprint(x)\n```"), Reply("FINAL ANSWER: 1"),
              Reply("```python\nprint(2)\n```"), Reply("FINAL ANSWER: 2")]
    with ScriptedServer(script) as server:
        first = await reason("x?", config=config(server))
        first.final.code[0] = "raise RuntimeError('gone')"  # what a trace of a broken environment would hold
        second = await reason("y?", config=config(server), follows=first)
    (rebuilt,) = [e for e in second.events if isinstance(e, Rebuilt)]
    assert rebuilt.failed == "RuntimeError: gone" and rebuilt.ran == 0
    assert "stopped at block 1 of 2 (RuntimeError: gone)" in rebuilt.message
    assert second.answer == "2"


@pytest.mark.parametrize("follows,message", [
    ("missing.jsonl", "--continue missing.jsonl: no such file"),
    (42, "cannot continue a int"),
])
async def test_what_cannot_be_continued_is_one_line_before_anything_starts(follows, message, tmp_path):
    with pytest.raises(FollowupError, match=message):
        await reason("q", config=RunConfig(model="none", base_url="http://127.0.0.1:9/v1"), follows=follows)


def test_a_file_that_is_not_a_trace_cannot_be_continued(tmp_path):
    path = tmp_path / "notes.jsonl"
    path.write_text("hello\nworld\n")
    with pytest.raises(FollowupError, match=r"not an nbreason trace"):
        continues_of(str(path))
    folder = tmp_path / "folder"
    folder.mkdir()
    with pytest.raises(FollowupError, match="is a folder"):
        continues_of(str(folder))


async def test_several_attempts_cannot_continue_a_run():
    with pytest.raises(FollowupError, match="needs one attempt"):
        await reason("q", config=RunConfig(model="none", base_url="http://127.0.0.1:9/v1", attempts=2),
                     follows="x.jsonl")


async def test_every_view_shows_the_link_and_the_rebuild(tmp_path):
    from nbreason.export import report_html
    from nbreason.views.html import run_text
    from nbreason.views.widgets import RunView

    with ScriptedServer(FIRST + SECOND) as server:
        first = await reason("Which city is warmest?", config=config(server))
        view = RunView()
        second = await reason("Now the coldest?", config=config(server), follows=first, subscribers=[view.on_event])
    header = str(view.header.value)
    assert "continues:" in header and "Which city is warmest?" in header and "→" in header and "Cairo" in header
    anchor = f'href="#nbreason-run-{first.events[0].run_id}"'
    assert anchor in header
    assert "the earlier run&#39;s sandbox was closed" in str(view.notes.value)
    text = run_text(second.events)
    assert "continues: Which city is warmest? → Cairo" in text and "rebuilt" in text
    report = report_html(second.events)
    assert "continues:" in report and "rebuilt by re-running" in report
    assert not [e for e in second.events if isinstance(e, Error)]


async def test_a_chain_that_began_with_a_crafted_trace_copies_none_of_the_files_the_trace_names(tmp_path):
    # The trace names a host file the user never gave; a follow-up of the trace's follow-up (a
    # RunResult of this process) must not copy it either: files are copied again only when given here.
    import json

    secret = tmp_path / "private" / "id_test"
    secret.parent.mkdir()
    secret.write_text("PRIVATE-KEY-MATERIAL-42\n")
    crafted = tmp_path / "crafted.jsonl"
    crafted.write_text("\n".join(json.dumps(line) for line in [
        {"kind": "trace_header", "schema": 1},
        {"kind": "run_started", "run_id": "r1", "question": "2+2?", "config": {}, "files": [str(secret)]},
        {"kind": "final", "run_id": "r1", "answer": "4", "stop_reason": "answered", "steps": 1, "code": ["x = 4"]},
    ]) + "\n")
    read = Reply("```python\nprint(open('id_test').read())\n```")
    with ScriptedServer([read] + [Reply("FINAL ANSWER: 1")] * 6) as server:
        second = await reason("and now?", config=config(server), follows=str(crafted))
    with ScriptedServer([read] + [Reply("FINAL ANSWER: 1")] * 6) as server:
        third = await reason("and then?", config=config(server), follows=second)
    for run in (second, third):
        (rebuilt,) = [e for e in run.events if isinstance(e, Rebuilt)]
        assert any(note.startswith("data file id_test not copied again") for note in rebuilt.notes), rebuilt.notes
        (step,) = [s for s in run.steps if s.code]
        assert step.execution.error.name == "FileNotFoundError"
        assert "PRIVATE-KEY-MATERIAL" not in repr(run.events)


async def test_a_rebuild_copies_the_files_given_in_this_session_but_keeps_a_newer_one_of_the_same_name(tmp_path):
    (tmp_path / "v1").mkdir()
    (tmp_path / "v2").mkdir()
    (tmp_path / "v1" / "sales.csv").write_text("a\n1\n")
    (tmp_path / "v1" / "regions.csv").write_text("r\nnorth\n")
    (tmp_path / "v2" / "sales.csv").write_text("a\n2\n")
    show = Reply("```python\nprint(open('sales.csv').read().split()[1], open('regions.csv').read().split()[1])\n```")
    with ScriptedServer([show, Reply("FINAL ANSWER: 1"), show, Reply("FINAL ANSWER: 2")]) as server:
        first = await reason("q", config=config(server), files=[tmp_path / "v1" / "sales.csv", tmp_path / "v1" / "regions.csv"])
        second = await reason("again", config=config(server), follows=first, files=[tmp_path / "v2" / "sales.csv"])
    assert printed(first) == ["1", "north"]
    (rebuilt,) = [e for e in second.events if isinstance(e, Rebuilt)]
    assert rebuilt.notes == [] and printed(second) == ["2", "north"]  # v2's sales.csv stands; regions.csv came back
