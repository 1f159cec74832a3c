"""Kernels start from nbreason's own kernelspec and never outlive their sandbox."""

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from nbreason.sandboxes.base import Sandbox
from nbreason.sandboxes.kernelspec import KERNEL_NAME, find_kernel_dir
from nbreason.sandboxes.local import LocalSandbox
from tests.support.kernels import pid_alive, sandbox_kernel_pids

ROOT = Path(__file__).resolve().parents[1]


def test_kernelspec_is_found_in_the_checkout_without_installing():
    assert find_kernel_dir() == ROOT / "kernels"
    assert (ROOT / "kernels" / KERNEL_NAME / "launcher.py").is_file()


async def test_local_sandbox_satisfies_the_sandbox_protocol():
    sb = LocalSandbox()
    assert isinstance(sb, Sandbox)
    assert sb.name == "local"


def test_from_config_takes_the_sandbox_settings():
    from nbreason.config import RunConfig

    sb = LocalSandbox.from_config(RunConfig(exec_timeout=5, network=False, memory_mb=1024, workdir="/tmp/w"))
    assert (sb.timeout, sb.network, sb.memory_mb, str(sb.requested_workdir)) == (5, False, 1024, "/tmp/w")


async def test_close_shuts_the_kernel_down():
    async with LocalSandbox() as sb:
        pid = sb.pid
        assert pid in sandbox_kernel_pids()
        await sb.run_code("1")
    assert not pid_alive(pid)
    assert pid not in sandbox_kernel_pids()


async def test_processes_started_by_code_end_with_the_kernel():
    async with LocalSandbox() as sb:
        execution = await sb.run_code("import subprocess\nsubprocess.Popen(['sleep', '60']).pid")
        child = int(execution.results[0].text)
        assert pid_alive(child)
    assert _wait_gone(child, 3)


async def test_kernel_runs_the_launcher_then_ipykernel():
    async with LocalSandbox() as sb:
        cmdline = Path(f"/proc/{sb.pid}/cmdline").read_bytes().split(b"\0")
        assert b"ipykernel_launcher" in cmdline
        assert sb.status["pid"] == sb.pid  # the launcher exec'd: same process
        assert sb.status["memory_mb"] == 4096


async def test_closing_twice_and_starting_after_close_work():
    sb = LocalSandbox()
    await sb.start()
    await sb.close()
    await sb.close()
    async with sb:
        assert (await sb.run_code("'again'")).results[0].text == "'again'"


SCRIPT = textwrap.dedent("""
    import asyncio, os, sys
    from nbreason.sandboxes.local import LocalSandbox

    async def main():
        sb = LocalSandbox()
        await sb.start()
        print(sb.pid, sb.workdir, sb._runtime, flush=True)
        if sys.argv[1] == "crash":
            os._exit(1)  # no cleanup at all
        await asyncio.sleep(60)  # until Ctrl-C

    asyncio.run(main())
""")


@pytest.fixture
def start_owner():
    """Start a separate process that owns a sandbox; remove the folders a crash leaves behind."""
    folders = []

    def start(mode: str) -> tuple[subprocess.Popen, int]:
        owner = subprocess.Popen([sys.executable, "-c", SCRIPT, mode], cwd=ROOT, stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(ROOT)})
        pid, *paths = owner.stdout.readline().split()
        folders.extend(paths)
        assert pid_alive(int(pid))
        return owner, int(pid)

    yield start
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


def _wait_gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.1)
    return False


def test_kernel_exits_when_its_owner_crashes(start_owner):
    owner, pid = start_owner("crash")
    owner.wait(10)
    assert _wait_gone(pid, 8), f"kernel {pid} outlived its crashed owner"


def test_kernel_exits_when_its_owner_gets_ctrl_c(start_owner):
    owner, pid = start_owner("wait")
    owner.send_signal(signal.SIGINT)
    owner.wait(10)
    assert _wait_gone(pid, 3), f"kernel {pid} outlived its interrupted owner"


def test_no_sandbox_kernel_is_left_running():
    # Runs last in this module: every sandbox above must be gone.
    assert sandbox_kernel_pids() == []
