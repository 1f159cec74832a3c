"""Runaway code is stopped on time, and a dead kernel is reported instead of waited on."""

import asyncio
import time

from tests.support.kernels import sandbox  # noqa: F401  (fixture)


async def test_timeout_interrupts_and_keeps_state(sandbox):
    await sandbox.run_code("kept = 'yes'")
    started = time.monotonic()
    execution = await sandbox.run_code("import time\ntime.sleep(30)", timeout=1)
    assert time.monotonic() - started < 4
    assert execution.error.name == "TimeoutError"
    assert "interrupted" in execution.error.value and "kept" in execution.error.value
    assert (await sandbox.run_code("kept")).results[0].text == "'yes'"


async def test_timeout_stops_a_loop_that_floods_output(sandbox):
    started = time.monotonic()
    execution = await sandbox.run_code("while True:\n    print('x' * 100)", timeout=1)
    assert time.monotonic() - started < 6
    assert execution.error.name == "TimeoutError"
    assert (await sandbox.run_code("2 + 2")).results[0].text == "4"


async def test_code_ignoring_sigint_is_stopped_by_a_restart(sandbox):
    await sandbox.run_code("lost = 1")
    code = "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    time.sleep(0.05)"
    started = time.monotonic()
    execution = await sandbox.run_code(code, timeout=1)
    assert time.monotonic() - started < 1 + sandbox.grace + 5
    assert execution.error.name == "TimeoutError"
    assert "restarted" in execution.error.value and "lost" in execution.error.value
    after = await sandbox.run_code("'lost' in globals(), 3 * 3")
    assert after.error is None and after.results[0].text == "(False, 9)"


async def sleeping(sandbox) -> asyncio.Task:
    """Code sleeping 30 s, once it is running: an interrupt sent before the kernel starts the code is lost."""
    started = asyncio.Event()
    running = asyncio.create_task(sandbox.run_code("import time\nprint('sleeping', flush=True)\ntime.sleep(30)",
                                                   on_stdout=lambda text: started.set()))
    await asyncio.wait_for(started.wait(), 30)
    return running


async def test_interrupt_from_outside_stops_running_code(sandbox):
    running = await sleeping(sandbox)
    await sandbox.interrupt()
    execution = await asyncio.wait_for(running, 5)
    assert execution.error.name == "KeyboardInterrupt"


async def test_cancelling_a_call_interrupts_the_code(sandbox):
    await sandbox.run_code("kept = 1")
    running = await sleeping(sandbox)
    running.cancel()
    started = time.monotonic()
    after = await sandbox.run_code("kept + 1")
    assert time.monotonic() - started < 5
    assert after.results[0].text == "2"


async def test_kernel_that_exits_is_reported_and_replaced(sandbox):
    started = time.monotonic()
    execution = await sandbox.run_code("import os\nos._exit(1)", timeout=30)
    assert time.monotonic() - started < 10
    assert execution.error.name == "KernelDied"
    assert "exit code 1" in execution.error.value
    assert (await sandbox.run_code("5 * 5")).results[0].text == "25"


async def test_kernel_that_segfaults_is_reported_and_replaced(sandbox):
    execution = await sandbox.run_code("import ctypes\nctypes.string_at(0)", timeout=30)
    assert execution.error.name == "KernelDied"
    assert "SIGSEGV" in execution.error.value
    assert (await sandbox.run_code("'alive'")).results[0].text == "'alive'"


async def test_kernel_that_died_while_idle_is_restarted_with_a_note(sandbox):
    import os
    import signal

    await sandbox.run_code("x = 1")
    os.kill(sandbox.pid, signal.SIGKILL)
    await asyncio.sleep(0.2)
    execution = await sandbox.run_code("'x' in globals()")
    assert execution.results[0].text == "False"
    assert "had died (killed by SIGKILL)" in "".join(execution.logs.stderr)
