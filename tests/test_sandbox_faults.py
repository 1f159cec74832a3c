"""Code that misbehaves, and kernels that never start: every case ends in a clear result or a
SandboxError within a bounded time, plain or confined. See docs/faults-sandbox.md."""

import json
import os
import shutil
import stat
import sys
import time

import pytest

from nbreason.sandboxes.base import SandboxError
from nbreason.sandboxes.kernelspec import find_kernel_dir
from nbreason.sandboxes.local import LocalSandbox

BOTH = pytest.mark.parametrize("confine", [False, True], ids=["plain", "confined"])


@BOTH
async def test_endless_loop_is_interrupted_on_time_and_state_kept(confine):
    async with LocalSandbox(confine=confine) as sb:
        assert sb.confined is confine
        await sb.run_code("kept = 5")
        started = time.monotonic()
        execution = await sb.run_code("while True:\n    pass", timeout=1)
        assert time.monotonic() - started < 4
        assert execution.error.name == "TimeoutError" and "kept" in execution.error.value
        assert (await sb.run_code("kept")).results[0].text == "5"


@BOTH
async def test_sleep_past_the_timeout_is_interrupted(confine):
    async with LocalSandbox(confine=confine) as sb:
        started = time.monotonic()
        execution = await sb.run_code("import time\ntime.sleep(60)\n'finished'", timeout=1)
        assert time.monotonic() - started < 4
        assert execution.error.name == "TimeoutError" and not execution.results
        assert (await sb.run_code("'alive'")).results[0].text == "'alive'"


async def test_sys_exit_is_an_error_and_the_kernel_lives_on():
    async with LocalSandbox() as sb:
        pid = sb.pid
        execution = await sb.run_code("kept = 1\nimport sys\nsys.exit(3)")
        assert (execution.error.name, execution.error.value) == ("SystemExit", "3")
        assert (await sb.run_code("kept")).results[0].text == "1"
        assert sb.pid == pid  # no restart was needed


async def test_binary_output_arrives_as_text_and_never_breaks_the_stream():
    async with LocalSandbox() as sb:
        printed = await sb.run_code("print(b'\\xff\\x00ok')")
        assert printed.logs.stdout == ["b'\\xff\\x00ok'\n"]
        # ipykernel's stdout has no .buffer: the attempt is an ordinary error.
        buffered = await sb.run_code("import sys\nsys.stdout.buffer.write(b'\\xff\\xfe')")
        assert buffered.error.name == "AttributeError"
        # Raw bytes on file descriptor 1 are captured and decoded with replacement characters.
        raw = await sb.run_code("import os\nos.write(1, b'\\xff\\xfe raw\\n')\nNone")
        assert raw.error is None
        assert "".join(raw.logs.stdout) == "\ufffd\ufffd raw\n"
        assert (await sb.run_code("1 + 1")).results[0].text == "2"


def broken_kernels(tmp_path, argv=None, spec_text=None):
    """A copy of the kernels folder whose plain spec runs `argv` (or is `spec_text`)."""
    folder = tmp_path / "kernels"
    shutil.copytree(find_kernel_dir(), folder, ignore=shutil.ignore_patterns("__pycache__"))
    spec = folder / "nbreason-python" / "kernel.json"
    if spec_text is not None:
        spec.write_text(spec_text)
    else:
        data = json.loads(spec.read_text())
        data["argv"] = argv
        spec.write_text(json.dumps(data))
    return folder


async def test_a_kernel_that_exits_at_once_raises_sandbox_error_quickly(tmp_path, monkeypatch):
    folder = broken_kernels(tmp_path, [sys.executable, "-c", "raise SystemExit(5)", "{connection_file}"])
    monkeypatch.setenv("NBREASON_KERNELS_DIR", str(folder))
    started = time.monotonic()
    with pytest.raises(SandboxError, match="exit code 5"):
        await LocalSandbox(start_timeout=20).start()
    assert time.monotonic() - started < 5


async def test_a_kernel_that_never_answers_raises_sandbox_error_at_the_start_timeout(tmp_path, monkeypatch):
    hang = [sys.executable, "-c", "import time; time.sleep(60)", "{connection_file}"]
    folder = broken_kernels(tmp_path, hang)
    monkeypatch.setenv("NBREASON_KERNELS_DIR", str(folder))
    sb = LocalSandbox(start_timeout=2)
    started = time.monotonic()
    with pytest.raises(SandboxError, match="did not answer in 2 s"):
        await sb.start()
    assert time.monotonic() - started < 6
    assert sb.pid is None  # the hung process was shut down


async def test_an_unreadable_kernelspec_raises_sandbox_error(tmp_path, monkeypatch):
    folder = broken_kernels(tmp_path, spec_text="{not json")
    monkeypatch.setenv("NBREASON_KERNELS_DIR", str(folder))
    with pytest.raises(SandboxError, match="did not start"):
        await LocalSandbox().start()


@pytest.fixture
def bwrap_without_namespaces(tmp_path) -> str:
    """A bwrap that cannot make namespaces, as under Ubuntu's AppArmor rule."""
    fake = tmp_path / "bin" / "bwrap"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    return str(fake)


async def test_confine_without_namespaces_fails_closed_and_says_why(bwrap_without_namespaces):
    sb = LocalSandbox(confine=True, bwrap=bwrap_without_namespaces)
    with pytest.raises(SandboxError) as raised:
        await sb.start()
    message = str(raised.value)
    assert "No permissions to create new namespace" in message and "--confine" in message
    assert "\n" not in message
    assert sb.pid is None and not sb.confined  # no kernel was started, plain or otherwise


def test_confine_is_read_from_the_run_config():
    class Config:
        exec_timeout, network, memory_mb, workdir = 10, False, 2048, None

    assert LocalSandbox.from_config(Config()).confine is False
    Config.confine = True
    assert LocalSandbox.from_config(Config()).confine is True
