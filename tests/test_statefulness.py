"""Variables, imports and files persist between calls; a restart clears variables only."""

import pytest

from tests.support.kernels import shared_sandbox as sandbox  # noqa: F401  (fixture)

# One kernel for the module: starting one per test would dominate the run time.
pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_variables_and_imports_persist_across_calls(sandbox):
    await sandbox.run_code("import math\ntotal = 40")
    await sandbox.run_code("total += 2")
    execution = await sandbox.run_code("math.sqrt(total ** 2)")
    assert execution.error is None
    assert execution.results[0].text == "42.0"


async def test_functions_defined_in_one_call_run_in_the_next(sandbox):
    await sandbox.run_code("def double(n):\n    return 2 * n")
    execution = await sandbox.run_code("double(21)")
    assert execution.results[0].text == "42"


async def test_execution_count_increases_per_call(sandbox):
    first = await sandbox.run_code("1")
    second = await sandbox.run_code("2")
    assert second.execution_count == first.execution_count + 1


async def test_restart_clears_variables_but_keeps_files(sandbox):
    await sandbox.run_code("kept = 1\nopen('note.txt', 'w').write('still here')")
    await sandbox.restart()
    lost = await sandbox.run_code("kept")
    assert lost.error is not None and lost.error.name == "NameError"
    files = await sandbox.run_code("open('note.txt').read()")
    assert files.results[0].text == "'still here'"
