"""Every sandbox behaves the same: one suite, run against each backend.

"local" is a Jupyter kernel on this machine; "e2b" is the real e2b SDK talking to
tests/support/fake_e2b.py, which runs the code in a real local kernel.
"""

from __future__ import annotations

import asyncio
import base64
import os
import time
from typing import Callable

import pytest

from nbreason.sandboxes.base import Sandbox
from nbreason.sandboxes.e2b import E2BSandbox
from tests.support.fake_e2b import FakeE2B

TIMEOUT = 20.0


@pytest.fixture(scope="module")
def fake_e2b():
    fake = FakeE2B().start()
    yield fake
    fake.stop()


@pytest.fixture(params=["local", "e2b"])
async def make_sandbox(request):
    """Build (not start) a sandbox of the parametrized backend; closed after the test."""
    made = []

    def make(**options):
        if request.param == "local":
            from nbreason.sandboxes.local import LocalSandbox

            sb = LocalSandbox(timeout=TIMEOUT, **options)
        else:
            fake = request.getfixturevalue("fake_e2b")
            sb = E2BSandbox(api_key=fake.api_key, connection=fake.options(), timeout=TIMEOUT, **options)
        made.append(sb)
        return sb

    yield make
    for sb in made:
        await sb.close()


@pytest.fixture
async def sandbox(make_sandbox):
    sb = make_sandbox()
    await sb.start()
    return sb


def is_running(sb, request) -> Callable[[], bool]:
    """A check, taken now, that tells later whether this sandbox's kernel or VM still runs."""
    if sb.name == "local":
        pid = sb.pid
        return lambda: _pid_alive(pid)
    fake = request.getfixturevalue("fake_e2b")
    sandbox_id = sb.sandbox_id
    return lambda: fake.alive(sandbox_id)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as fh:  # a zombie is dead too
        return fh.read().split(")")[-1].split()[0] != "Z"


async def test_follows_the_sandbox_protocol(sandbox):
    assert isinstance(sandbox, Sandbox)
    assert sandbox.name in ("local", "e2b")


async def test_last_expression_is_the_main_result(sandbox):
    execution = await sandbox.run_code("x = 21\nx * 2")
    assert execution.error is None
    assert execution.text == "42"
    assert [r.is_main_result for r in execution.results] == [True]
    assert execution.logs.stdout == [] and execution.logs.stderr == []


async def test_string_results_keep_their_quotes(sandbox):
    assert (await sandbox.run_code("'abc'")).text == "'abc'"
    assert (await sandbox.run_code("\"it's\"")).text == "\"it's\""
    assert (await sandbox.run_code("['a', 'b']")).text == "['a', 'b']"


async def test_variables_persist_between_calls(sandbox):
    await sandbox.run_code("import math\ntotal = math.factorial(5)")
    execution = await sandbox.run_code("total + 1")
    assert execution.text == "121"
    first, second = (await sandbox.run_code("1")).execution_count, (await sandbox.run_code("2")).execution_count
    assert second == first + 1


async def test_output_streams_while_the_code_runs(sandbox):
    events = []
    code = ("import sys, time\n"
            "print('first', flush=True)\n"
            "time.sleep(1.5)\n"
            "print('oops', file=sys.stderr, flush=True)\n"
            "'done'")
    execution = await sandbox.run_code(
        code,
        on_stdout=lambda text: events.append(("stdout", text, time.monotonic())),
        on_stderr=lambda text: events.append(("stderr", text, time.monotonic())),
        on_result=lambda result: events.append(("result", result.text, time.monotonic())),
    )
    finished = time.monotonic()
    assert [(kind, text) for kind, text, _ in events] == [
        ("stdout", "first\n"), ("stderr", "oops\n"), ("result", "'done'")]
    assert finished - events[0][2] > 0.75  # the first line arrived well before the end
    assert "".join(execution.logs.stdout) == "first\n"
    assert "".join(execution.logs.stderr) == "oops\n"


async def test_matplotlib_figures_arrive_as_png(sandbox):
    code = ("import matplotlib.pyplot as plt\n"
            "plt.plot([1, 3, 2])\n"
            "plt.show()")
    execution = await sandbox.run_code(code)
    assert execution.error is None
    images = [r.png for r in execution.results if r.png]
    assert len(images) == 1
    assert base64.b64decode(images[0]).startswith(b"\x89PNG\r\n\x1a\n")


async def test_errors_come_back_as_one_plain_traceback(sandbox):
    execution = await sandbox.run_code("def f():\n    return 1 / 0\nf()")
    error = execution.error
    assert (error.name, error.value) == ("ZeroDivisionError", "division by zero")
    assert isinstance(error.traceback, str)
    assert "\x1b[" not in error.traceback
    lines = error.traceback.splitlines()
    assert lines[-1] == "ZeroDivisionError: division by zero"
    assert lines[0].strip("-") == ""  # the separator stays on its own line
    assert any("return 1 / 0" in line for line in lines)
    assert (await sandbox.run_code("'still fine'")).text == "'still fine'"


async def test_timeout_interrupts_and_keeps_variables(sandbox):
    await sandbox.run_code("kept = 5")
    started = time.monotonic()
    execution = await sandbox.run_code(
        "import time\nprint('before', flush=True)\ntime.sleep(60)", timeout=1.0)
    elapsed = time.monotonic() - started
    assert execution.error.name == "TimeoutError"
    assert "exceeded 1 s" in execution.error.value and "variables are kept" in execution.error.value
    assert "".join(execution.logs.stdout) == "before\n"
    assert elapsed < 1.0 + sandbox.grace + 2
    assert (await sandbox.run_code("kept")).text == "5"


async def test_code_that_ignores_interrupts_is_stopped_by_a_restart(sandbox):
    await sandbox.run_code("lost = 1")
    started = time.monotonic()
    execution = await sandbox.run_code(
        "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\ntime.sleep(60)",
        timeout=1.0)
    assert execution.error.name == "TimeoutError"
    assert "restarted" in execution.error.value
    assert time.monotonic() - started < 15
    assert (await sandbox.run_code("'lost' in dir()")).text == "False"


async def test_interrupt_stops_the_running_code(sandbox):
    await sandbox.run_code("kept = 'yes'")
    started = asyncio.Event()  # an interrupt sent before the kernel starts the code is lost
    task = asyncio.create_task(sandbox.run_code("import time\nprint('sleeping', flush=True)\ntime.sleep(60)",
                                                on_stdout=lambda text: started.set()))
    await asyncio.wait_for(started.wait(), 30)
    await sandbox.interrupt()
    execution = await asyncio.wait_for(task, 10)
    assert execution.error.name == "KeyboardInterrupt"
    assert (await sandbox.run_code("kept")).text == "'yes'"


async def test_a_crashed_kernel_is_reported_and_replaced(sandbox):
    await sandbox.run_code("lost = 1")
    execution = await sandbox.run_code("import os\nos._exit(1)")
    assert execution.error.name == "KernelDied"
    assert "variables are lost" in execution.error.value
    assert (await sandbox.run_code("'lost' in dir(), 'abc'")).text == "(False, 'abc')"


async def test_restart_clears_variables_and_keeps_files(sandbox):
    await sandbox.run_code("gone = 1\nopen('kept.txt', 'w').write('still here')")
    await sandbox.restart()
    assert (await sandbox.run_code("'gone' in dir()")).text == "False"
    assert (await sandbox.run_code("open('kept.txt').read()")).text == "'still here'"
    assert (await sandbox.run_code("'x'")).text == "'x'"  # results are smoothed after restart too


async def test_upload_writes_into_the_working_folder(sandbox):
    path = await sandbox.upload("data/in.csv", b"a,b\n1,2\n")
    assert path.endswith("/data/in.csv")
    assert (await sandbox.run_code("open('data/in.csv').read()")).text == "'a,b\\n1,2\\n'"
    assert (await sandbox.run_code(f"open({path!r}, 'rb').read()")).text == "b'a,b\\n1,2\\n'"
    with pytest.raises(ValueError):
        await sandbox.upload("../escape.txt", b"no")


async def test_download_reads_back_the_bytes_the_code_wrote(sandbox):
    await sandbox.run_code("import os\nos.makedirs('out', exist_ok=True)\n"
                           "open('out/all.bin', 'wb').write(bytes(range(256)) * 1000)")
    assert await sandbox.download("out/all.bin", limit=256_000) == bytes(range(256)) * 1000


async def test_download_refuses_a_file_over_the_limit(sandbox):
    await sandbox.run_code("open('big.bin', 'wb').write(b'x' * 10_001)")
    with pytest.raises(ValueError, match="limit of 10,000"):
        await sandbox.download("big.bin", limit=10_000)


async def test_download_refuses_names_outside_the_working_folder(sandbox):
    with pytest.raises(ValueError, match="outside"):
        await sandbox.download("../../etc/passwd", limit=1 << 20)


async def test_download_of_a_missing_file_is_file_not_found_not_a_broken_sandbox(sandbox):
    with pytest.raises(FileNotFoundError, match="never-written.bin"):
        await sandbox.download("never-written.bin", limit=1 << 20)
    assert (await sandbox.run_code("1 + 1")).text == "2"


async def test_environment_secrets_do_not_reach_the_code(make_sandbox, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-should-stay-here")
    monkeypatch.setenv("NBREASON_API_KEY", "sk-should-stay-here")
    sb = make_sandbox()
    execution = await sb.run_code(
        "import os\n[k for k, v in os.environ.items() if 'should-stay-here' in v]")
    assert execution.text == "[]"


async def test_close_stops_the_kernel(make_sandbox, request):
    sb = make_sandbox()
    await sb.start()
    assert (await sb.run_code("1 + 1")).text == "2"
    running = is_running(sb, request)
    assert running()
    await sb.close()
    for _ in range(50):
        if not running():
            break
        await asyncio.sleep(0.1)
    assert not running()
    await sb.close()  # closing twice is harmless
