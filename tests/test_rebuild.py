"""Clean code runs again in order; the first block that fails ends it, said and never raised."""

from nbreason.rebuild import Rerun, run_again
from nbreason.sandboxes.local import LocalSandbox


async def test_blocks_run_again_in_order_until_the_first_that_fails():
    async with LocalSandbox(timeout=20) as sandbox:
        rerun = await run_again(sandbox, ["x = 1", "y = x + z", "w = 2"], timeout=10)
        after = await sandbox.run_code("print(x, 'w' in dir())")
    assert rerun == Rerun(1, "NameError: name 'z' is not defined")
    assert after.logs.stdout == ["1 False\n"]  # the block after the failure never ran


async def test_a_kernel_that_dies_ends_the_rerun_and_is_said():
    async with LocalSandbox(timeout=20) as sandbox:
        rerun = await run_again(sandbox, ["x = 1", "import os; os._exit(1)", "y = 2"], timeout=10)
    assert rerun.ran == 1 and rerun.failed.startswith("KernelDied: the kernel died")
