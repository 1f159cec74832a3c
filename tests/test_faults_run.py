"""Fault matrix, run side: user input, interrupts and load. The run answers or says why, the trace
is complete, and nothing is left behind (kernels, threads, file descriptors, memory)."""

from __future__ import annotations

import asyncio
import gc
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from jupyter_client.manager import start_new_async_kernel

from nbreason.config import RunConfig
from nbreason.events import Check, Code, FinalAnswer, ModelCall, Retry
from nbreason.runner import QuestionError, reason
from nbreason.trace import read_trace
from nbreason.variables import VariableError
from tests.support.kernels import pid_alive, sandbox_kernel_pids
from tests.support.scripted_server import Reply, ScriptedServer, rate_limited

CODE, FINAL = Reply("```python\nprint(7)\n```"), Reply("FINAL ANSWER: 7")


def config(server, **kw) -> RunConfig:
    return RunConfig(**(dict(model="scripted", base_url=server.base_url, api_key="k", protocol="text",
                             exec_timeout=20) | kw))


# -- user input -------------------------------------------------------------------------------

async def test_empty_question_is_refused_before_anything_starts():
    with pytest.raises(QuestionError, match="the question is empty"):
        await reason("  \n", config=RunConfig())


async def test_a_one_megabyte_question_is_refused_with_advice():
    with pytest.raises(QuestionError, match="limit is 100,000.*--with"):
        await reason("x" * 1_048_576, config=RunConfig())


async def test_emoji_and_undecodable_bytes_reach_the_model_safely():
    question = "Count the 🧪 in 'a🧪b🧪' " + b"\xff\xfe".decode("utf-8", "surrogateescape")
    with ScriptedServer([Reply("```python\nprint('a🧪b🧪'.count('🧪'))\n```"), Reply("FINAL ANSWER: 2")]) as server:
        result = await reason(question, config=config(server))
        sent = server.requests[0]["messages"][1]["content"]
    assert result.answer == "2"
    assert "🧪" in sent and "\udcff" not in sent


async def test_a_variable_that_cannot_be_sent_is_named_and_nothing_starts():
    before = sandbox_kernel_pids()
    with pytest.raises(VariableError, match="--with gen: a generator cannot be sent"):
        await reason("q", config=RunConfig(), variables={"gen": (i for i in range(3))})
    assert sandbox_kernel_pids() == before


async def test_a_check_function_that_raises_scores_zero_with_the_reason():
    def check(answer):
        raise ValueError("cannot judge " + answer)

    with ScriptedServer([CODE, FINAL, FINAL]) as server:
        result = await reason("q", config=config(server), check=check)
    signal = next(s for s in [e for e in result.events if isinstance(e, Check)][-1].signals if s.name == "user_check")
    assert signal.value == 0.0 and "check() raised ValueError: cannot judge 7" in signal.reason
    assert result.answer == "7" and result.verified is False


# -- interrupts --------------------------------------------------------------------------------

async def test_stop_during_a_retry_back_off_ends_at_once(tmp_path):
    stop = asyncio.Event()

    def on_event(event):
        if isinstance(event, Retry):
            stop.set()

    with ScriptedServer([rate_limited(30), CODE, FINAL]) as server:
        started = time.monotonic()
        result = await reason("q", config=config(server, trace=str(tmp_path / "t.jsonl")),
                              subscribers=[on_event], stop=stop)
    assert time.monotonic() - started < 10  # did not sleep out the 30 s Retry-After
    assert result.stop_reason == "stopped by user"
    assert isinstance(read_trace(tmp_path / "t.jsonl")[-1], FinalAnswer)


async def test_cancelling_the_run_task_stops_it_cleanly(tmp_path):
    with ScriptedServer([Reply("```python\nimport time\ntime.sleep(60)\n```")]) as server:
        task = asyncio.ensure_future(reason("q", config=config(server, trace=str(tmp_path / "t.jsonl"))))
        for _ in range(200):
            await asyncio.sleep(0.1)
            if (tmp_path / "t.jsonl").exists() and '"kind": "code"' in (tmp_path / "t.jsonl").read_text():
                break
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    events = read_trace(tmp_path / "t.jsonl")
    assert events[-1].kind == "final" and events[-1].stop_reason == "stopped by user"
    assert not sandbox_kernel_pids()


async def test_restarting_the_notebook_kernel_mid_run_leaves_no_sandbox_kernel(tmp_path):
    script = [Reply("```python\nimport time\nprint('running', flush=True)\ntime.sleep(120)\n```")]
    with ScriptedServer(script) as server:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("NBREASON_", "OPENAI_"))}
        env |= {"NBREASON_BASE_URL": server.base_url, "NBREASON_MODEL": "scripted", "NBREASON_API_KEY": "k",
                "NBREASON_PROTOCOL": "text", "NBREASON_CONFIG": str(tmp_path / "none.toml")}
        km, kc = await start_new_async_kernel(kernel_name="python3", env=env)
        try:
            notebook_pid = km.provisioner.process.pid
            kc.execute("%load_ext nbreason")
            kc.execute("%%reason --quiet\nwait for it")
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not sandbox_kernel_pids(notebook_pid):
                await asyncio.sleep(0.2)
            sandbox = sandbox_kernel_pids(notebook_pid)
            assert sandbox, "the run never started its sandbox"
            await km.restart_kernel(now=True)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and any(pid_alive(p) for p in sandbox):
                await asyncio.sleep(0.2)
            assert not any(pid_alive(p) for p in sandbox), "the sandbox kernel outlived its notebook kernel"
        finally:
            kc.stop_channels()
            await km.shutdown_kernel(now=True)


# -- load --------------------------------------------------------------------------------------

def _resources() -> tuple[int, int, int]:
    gc.collect()
    fds = len(os.listdir("/proc/self/fd"))
    rss_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmRSS"))
    return fds, threading.active_count(), rss_kb


def _code_then_final(body: dict) -> Reply:
    answered = any(m.get("role") == "assistant" for m in body["messages"])
    return FINAL if answered else CODE


async def _settled(fds: int, threads: int) -> tuple[int, int, int]:
    """Resources once the runs' connections have closed and the server's threads for them ended:
    a moment on a loaded machine, while a leak stays."""
    for _ in range(50):
        now = _resources()
        if now[0] <= fds + 2 and now[1] <= threads + 1:
            break
        await asyncio.sleep(0.2)
    return now


async def test_twenty_runs_back_to_back_then_four_at_once_leak_nothing():
    # Each openai client's first request runs get_platform() on the loop's default executor; four
    # clients at once would grow that pool by idle workers, which are not leaks. One worker: no growth.
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(1, thread_name_prefix="asyncio"))
    with ScriptedServer() as server:
        # Every reply follows its own conversation, so one left unused cannot answer the wrong run.
        server.add(*[_code_then_final] * 4)
        await reason("warm-up", config=config(server))  # imports and caches settle
        fds, threads, rss = _resources()
        server.add(*[_code_then_final] * 40)
        for _ in range(20):
            result = await reason("q", config=config(server))
            assert result.answer == "7"
        server.add(*[_code_then_final] * 8)  # four runs interleave
        results = await asyncio.gather(*[reason("q", config=config(server)) for _ in range(4)])
        assert [r.answer for r in results] == ["7"] * 4
    fds_after, threads_after, rss_after = await _settled(fds, threads)
    assert not sandbox_kernel_pids()
    assert fds_after <= fds + 2, (fds, fds_after)
    assert threads_after <= threads + 1, (threads, threads_after)
    assert rss_after - rss < 60_000, f"RSS grew by {rss_after - rss} kB over 24 runs"
