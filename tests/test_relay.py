"""The relay between the owner and a local kernel (nbreason/sandboxes/relay.py), with a real
kernel: it loses nothing an ordinary program sends, shortens what is too long to pass, and the
owner treats its end as the kernel's death. The flood it exists for is in
tests/test_attacks_sandbox_round2.py."""

from __future__ import annotations

import asyncio
import concurrent.futures

import pytest_asyncio
import pytest

from nbreason.sandboxes import relay
from nbreason.sandboxes.local import LocalSandbox

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def sandbox():
    async with LocalSandbox(timeout=60) as sb:
        yield sb


async def test_a_burst_of_thousands_of_messages_arrives_whole_though_every_queue_holds_four(sandbox):
    execution = await sandbox.run_code("for i in range(3000):\n    print(i, flush=True)")
    assert "".join(execution.logs.stdout).split() == [str(i) for i in range(3000)]


async def test_a_long_burst_on_stdout_and_stderr_keeps_up_with_the_kernel_and_stays_in_order():
    """An XPUB always says it can send: the relay slept 5 ms whenever the owner's 4 were queued, passing
    800 messages a second, and the kernel's own queue dropped half of these. Held to 2,000 messages,
    the relay still lost 1 to 7% of them. What the kernel may still drop when the relay is not given
    the CPU in time (on 2 busy cores) it dropped before the relay too."""
    async with LocalSandbox(timeout=120, max_output_chars=10_000_000) as sb:
        execution = await sb.run_code(
            "import sys\nfor i in range(20000):\n    print(i, flush=True)\n    print(-i, file=sys.stderr, flush=True)")
    out = [int(line) for line in "".join(execution.logs.stdout).split()]
    err = [-int(line) for line in "".join(execution.logs.stderr).split()]
    assert out == sorted(set(out)) and err == sorted(set(err))
    assert len(out) > 19000 and len(err) > 19000, (len(out), len(err))


async def test_the_relay_holds_a_burst_of_short_messages_whole_within_its_byte_bound():
    """40,000 short prints wait in the relay while the owner reads: they fit, at about a kilobyte
    each, so nothing reaches the limit that makes the kernel's queue drop; megabytes do not."""
    zmq = pytest.importorskip("zmq")
    held = relay.Held()
    print_message = [b"stream", b"<IDS|MSG>", b"0" * 64, b"h" * 170, b"p" * 170, b"{}", b'{"name": "stdout", "text": "19999\\n"}']
    for _ in range(40_000):
        assert held.room()
        held.append([zmq.Frame(part) for part in print_message])
    assert all(type(part) is bytes for part in held[-1])  # not a zmq frame a part: a third of the memory
    big = zmq.Frame(b"x" * (1 << 20))
    while held.room():
        held.append([big])
    assert held.size < relay.HELD_BYTES + (2 << 20) and held[-1][0] is big  # held as it came, not copied


async def test_one_output_longer_than_a_message_may_be_keeps_its_head_and_tail(sandbox):
    size = relay.MESSAGE_BYTES + (4 << 20)
    execution = await sandbox.run_code(f"import sys\nsys.stdout.write('a' * {size} + 'END')\nsys.stdout.flush()")
    text = "".join(execution.logs.stdout)
    assert text.startswith("aaaa") and text.endswith("END") and "characters of output dropped" in text
    assert len(text) < 1_100_000


async def test_a_picture_longer_than_a_message_may_be_is_replaced_by_a_note(sandbox):
    execution = await sandbox.run_code(
        f"from IPython.display import display\ndisplay({{'text/plain': 'x' * {relay.MESSAGE_BYTES}}}, raw=True)\n"
        "print('after')")
    assert execution.results == []
    assert "bytes from the kernel was dropped: the limit is 16,777,216" in "".join(execution.logs.stderr)
    assert "".join(execution.logs.stdout) == "after\n"


async def test_a_relay_that_is_gone_counts_as_the_kernel_dying_and_the_next_step_runs_on_a_new_one(sandbox):
    await sandbox.run_code("x = 1")
    sandbox._relay.process.kill()  # from outside, as if it had died
    sandbox._relay.process.wait()
    execution = await sandbox.run_code("print('x' in dir())")
    assert "".join(execution.logs.stdout) == "False\n"
    assert "the kernel had died (the relay of its messages stopped: killed by SIGKILL" in "".join(execution.logs.stderr)
    assert (await sandbox.run_code("1 + 1")).results[0].text == "2"


async def test_an_exception_with_a_message_longer_than_a_message_may_be_is_reported_at_once_and_keeps_the_variables():
    """Its reply (status, ename, evalue, traceback) was past the limit too and was dropped: the owner
    waited for it until the timeout, restarted the kernel and reported a timeout."""
    async with LocalSandbox(timeout=30, grace=1) as sb:
        await sb.run_code("x = 41")
        execution = await sb.run_code(f"raise ValueError('v' * {relay.MESSAGE_BYTES} + 'END')")
        assert execution.error is not None and execution.error.name == "ValueError", execution.error
        assert execution.error.value.startswith("vvvv") and execution.error.value.endswith("END")
        assert len(execution.error.value) < 1_100_000
        assert "".join((await sb.run_code("print(x + 1)")).logs.stdout) == "42\n"


async def test_a_reply_longer_than_a_message_may_be_still_ends_the_execution():
    async with LocalSandbox(timeout=30, grace=1) as sb:
        await sb.run_code("x = 41")
        execution = await sb.run_code(f"get_ipython().set_next_input('p' * {relay.MESSAGE_BYTES})\nprint('done')")
        assert execution.error is None, execution.error
        assert "".join(execution.logs.stdout) == "done\n"
        assert "".join((await sb.run_code("print(x + 1)")).logs.stdout) == "42\n"


def _on_a_thread_of_its_own(coro):
    # as nbreason/magic.py runs a cell when the kernel's loop is busy: a thread that ends with it
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


@pytest.mark.parametrize("confine", [False, True], ids=["plain", "confined"])
async def test_a_sandbox_used_from_threads_that_end_keeps_its_kernel(confine):
    """PR_SET_PDEATHSIG fires when the thread that started the relay (or, confined, bubblewrap
    with --die-with-parent) ends, not the process."""
    sb = LocalSandbox(timeout=30, confine=confine)
    try:
        await asyncio.to_thread(_on_a_thread_of_its_own, sb.start())
        await asyncio.to_thread(_on_a_thread_of_its_own, sb.run_code("x = 41"))
        execution = await asyncio.to_thread(_on_a_thread_of_its_own, sb.run_code("print(x + 1)"))
    finally:
        await asyncio.to_thread(_on_a_thread_of_its_own, sb.close())
    assert execution.error is None, execution.error
    assert "".join(execution.logs.stdout) == "42\n" and execution.logs.stderr == []
