"""The relay between the owner and a local kernel (nbreason/sandboxes/relay.py), with a real
kernel: it loses nothing an ordinary program sends, shortens what is too long to pass, and the
owner treats its end as the kernel's death. The flood it exists for is in
tests/test_attacks_sandbox_round2.py."""

from __future__ import annotations

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
    sandbox._relay.kill()
    sandbox._relay.wait()
    execution = await sandbox.run_code("print('x' in dir())")
    assert "".join(execution.logs.stdout) == "False\n"
    assert "the kernel had died (the relay of its messages stopped: killed by SIGKILL" in "".join(execution.logs.stderr)
    assert (await sandbox.run_code("1 + 1")).results[0].text == "2"
