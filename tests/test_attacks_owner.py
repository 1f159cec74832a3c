"""Attacks on the owner process (in a notebook, the user's own kernel) through what it reads back
from the sandbox: display outputs it summarizes, files it writes and reads in the working folder,
pickles it loads for `--return`. Each attack is made for real through a LocalSandbox; what changed
is listed in docs/faults-sandbox.md.
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nbreason import returns, unpickle
from nbreason.sandboxes.files import read_inside, write_inside
from nbreason.sandboxes.local import LocalSandbox
from tests.support.scripted_server import Reply, ScriptedServer
from tests.test_returns import PLAIN, through_the_sandbox_pickler

ROOT = Path(__file__).resolve().parents[1]

# --- display outputs ----------------------------------------------------------------------------

# A throwaway owner: one run whose code displays about 1 MB of hostile SVG, then as much HTML
# (each quadratic to parse before: minutes to hours). Reports the run and the longest time its
# event loop did not answer.
OWNER = """
import asyncio, json, sys, time
from nbreason.config import RunConfig
from nbreason.events import Observation
from nbreason.runner import reason

async def main():
    ticks, summaries = [], []
    async def ticker():
        while True:
            ticks.append(time.monotonic())
            await asyncio.sleep(0.1)
    def on_event(event):
        if isinstance(event, Observation):
            summaries.append(event.summary)
    config = RunConfig(model="scripted", base_url=sys.argv[1], api_key="sk-test", protocol="text",
                       exec_timeout=30, self_check="off")
    beat = asyncio.ensure_future(ticker())
    result = await reason("q", config=config, subscribers=[on_event])
    beat.cancel()
    stall = max(b - a for a, b in zip(ticks, ticks[1:]))
    errors = [e.message for e in result.events if type(e).__name__ == "Error"]
    print(json.dumps({"stop_reason": result.stop_reason, "answer": result.answer, "stall": stall, "errors": errors,
                      "summaries": summaries}))

asyncio.run(main())
"""

HOSTILE_DISPLAY = """from IPython.display import display
display({'image/svg+xml': '<svg ' * 200_000}, raw=True)
display({'text/html': '<a ' * 330_000}, raw=True)
display({'text/html': '<table><tr><td>still</td><td>read</td></tr></table>'}, raw=True)
print(1)"""


def test_a_megabyte_of_hostile_svg_or_html_is_summarized_without_freezing_the_owner(tmp_path):
    script = [Reply(f"```python\n{HOSTILE_DISPLAY}\n```"), Reply("FINAL ANSWER: 1")]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    with ScriptedServer(script) as server:
        try:
            proc = subprocess.run([sys.executable, "-c", OWNER, server.base_url], env=env, cwd=tmp_path,
                                  capture_output=True, text=True, timeout=120)
        except subprocess.TimeoutExpired:
            pytest.fail("the owner was still summarizing one output after 120 s")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert (report["stop_reason"], report["answer"]) == ("answered", "1"), report["errors"]
    (summary,) = report["summaries"]
    assert summary.startswith("1\n[image/svg+xml]") and summary.endswith("still | read")
    assert report["stall"] < 5  # the loop kept answering (timers, Stop); it took minutes before


async def test_every_text_field_of_a_result_is_capped_when_it_arrives():
    code = """from IPython.display import display
big = 'x' * 200_000
display({'text/plain': 'HEAD' + big + 'TAIL', 'text/markdown': big, 'image/svg+xml': '<svg ' + big,
         'text/html': '<p>' + big, 'text/x-other': big}, raw=True)
display({'image/svg+xml': '<svg ' + big}, raw=True)
print('after')"""
    async with LocalSandbox(timeout=30, max_output_chars=50_000) as sb:
        execution = await sb.run_code(code)
    assert execution.error is None and "".join(execution.logs.stdout) == "after\n"
    (result,) = execution.results  # the second had nothing left within the limit
    assert result.text.startswith("HEAD") and result.text.endswith("TAIL") and len(result.text) < 50_100
    assert len(result.markdown) < 50_100
    assert result.svg is None and result.html is None and not result.extra
    notes = "".join(execution.logs.stderr)
    for name in ("svg", "html", "text/x-other"):
        assert f"a {name} output was dropped: " in notes
    assert "a text output of 200,008 characters was cut to 50,000" in notes


# --- files in the working folder ------------------------------------------------------------

PLANT_FIFOS = """import os
os.makedirs('.nbreason_return', exist_ok=True)
for path in ('.nbreason_return/.keep', '.nbreason_return/result', '.nbreason_df.pkl'):
    os.mkfifo(path)
result = 1"""


def _release(folder: Path) -> None:
    """Open the other end of every FIFO, so an owner thread stuck on one (before the fix) ends."""
    for path in (".nbreason_return/.keep", ".nbreason_return/result", ".nbreason_df.pkl"):
        for flags in (os.O_RDONLY | os.O_NONBLOCK, os.O_WRONLY | os.O_NONBLOCK):
            try:
                os.close(os.open(folder / path, flags))
            except OSError:
                pass


async def test_a_fifo_planted_where_the_owner_writes_or_reads_is_refused_at_once():
    async with LocalSandbox(timeout=30) as sb:
        assert (await sb.run_code(PLANT_FIFOS)).error is None
        try:
            for name in (".nbreason_df.pkl", ".nbreason_return/.keep"):  # --with restores, --return
                with pytest.raises(OSError, match="not a regular file"):
                    await asyncio.wait_for(sb.upload(name, b"data"), 10)
            with pytest.raises(OSError, match="not a regular file"):
                await asyncio.wait_for(sb.download(".nbreason_return/result", limit=1000), 10)
            back = await asyncio.wait_for(returns.fetch(sb, ["result"]), 30)
            assert back.values == {} and "not a regular file" in back.notes[0]
            # The sandbox still works, and a regular file is still written and read.
            assert (await sb.run_code("print(result)")).logs.stdout == ["1\n"]
            await sb.upload("plain.txt", b"fine")
            assert await sb.download("plain.txt", limit=100) == b"fine"
        finally:
            _release(sb.workdir)


def test_an_upload_replaces_a_planted_hard_link_instead_of_writing_through_it(tmp_path):
    folder, outside = tmp_path / "box", tmp_path / "host.txt"
    folder.mkdir()
    outside.write_text("the host's file")
    os.link(outside, folder / ".nbreason_df.pkl")
    write_inside(folder, ".nbreason_df.pkl", b"pickle")
    assert outside.read_text() == "the host's file"
    assert read_inside(folder, ".nbreason_df.pkl", 100) == b"pickle"
    assert sorted(p.name for p in folder.iterdir()) == [".nbreason_df.pkl"]  # no temporary file left


def test_a_file_written_over_keeps_its_permissions(tmp_path):
    (tmp_path / "data.csv").write_text("a\n1\n")
    os.chmod(tmp_path / "data.csv", 0o600)
    write_inside(tmp_path, "data.csv", b"a\n2\n")
    assert (tmp_path / "data.csv").read_bytes() == b"a\n2\n"
    assert stat.S_IMODE(os.stat(tmp_path / "data.csv").st_mode) == 0o600


# --- pickles for --return -------------------------------------------------------------------

BOMBS = """class Bomb:
    def __init__(self, f, a): self.f, self.a = f, a
    def __reduce__(self): return (self.f, self.a)
zeros = Bomb(bytearray, (256 << 20,))
numbers = Bomb(list, (range(10_000_000),))
plain = {'kept': [1, 2, 3]}"""


def _peak_mb() -> int:
    return int(Path("/proc/self/status").read_text().split("VmHWM:")[1].split()[0]) // 1024


async def test_a_small_pickle_that_expands_is_refused_and_never_fills_the_notebook():
    async with LocalSandbox(timeout=30) as sb:
        assert (await sb.run_code(BOMBS)).error is None
        peak = _peak_mb()
        back = await returns.fetch(sb, ["zeros", "numbers", "plain"])
    assert back.values == {"plain": {"kept": [1, 2, 3]}}
    zeros, numbers = back.notes
    assert zeros.startswith("--return zeros: refused: the __main__.Bomb needs builtins.bytearray(int)")
    assert numbers.startswith("--return numbers: refused: the __main__.Bomb needs builtins.list(range)")
    assert _peak_mb() - peak < 200  # 256 MiB and a 10-million-item list were built here before


class _Call:
    def __init__(self, f, a):
        self.f, self.a = f, a

    def __reduce__(self):
        return self.f, self.a


def _colliding_set(n: int) -> bytes:
    """A pickled set of n ints that all hash to 0: quadratic to load, with no call at all."""
    items = [b"\x8a\x10" + ((2**61 - 1) * i).to_bytes(16, "little", signed=True) for i in range(n)]
    return b"\x80\x05\x8f" + b"".join(b"(" + b"".join(items[k:k + 1000]) + b"\x90" for k in range(0, n, 1000)) + b"."


async def test_a_pickle_that_takes_too_much_memory_or_time_to_rebuild_is_stopped(monkeypatch):
    monkeypatch.setattr(unpickle, "LOAD_SECONDS", 3)
    objects = pickle.dumps(_Call(np.ndarray, ((200_000_000,), np.dtype(object))), protocol=5)  # 1.6 GB of None
    with pytest.raises(unpickle.TooCostly, match="of memory"):
        await unpickle.bounded_loads(objects, returns.MAX_BYTES)
    with pytest.raises(unpickle.TooCostly, match="more than 3 s"):  # about 15 s to load, in the notebook's process
        await unpickle.bounded_loads(_colliding_set(60_000), returns.MAX_BYTES)
    with pytest.raises(unpickle.Refused, match="^posix.system$"):
        await unpickle.bounded_loads(b"cposix\nsystem\n(S'true'\ntR.", returns.MAX_BYTES)


async def test_plain_data_crosses_intact_through_the_bounded_loader():
    values = [v for kind in sorted(PLAIN) for v in PLAIN[kind]]
    back = await unpickle.bounded_loads(through_the_sandbox_pickler(values), returns.MAX_BYTES)
    assert len(back) == len(values)
    for value, came in zip(values, back):
        if isinstance(value, (pd.DataFrame, pd.Series, pd.Index)):
            assert value.equals(came), value
        elif isinstance(value, np.ndarray):
            assert type(came) is type(value) and came.dtype == value.dtype and (came == value).all()
        elif value is pd.NaT:
            assert came is pd.NaT
        else:
            assert came == value and type(came) is type(value), value
