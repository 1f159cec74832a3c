"""Fixtures and probes for tests that start real sandbox kernels.

Import the fixtures into a test module: `from tests.support.kernels import sandbox`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import pytest_asyncio

from nbreason.sandboxes.kernelspec import confine_problem
from nbreason.sandboxes.local import LocalSandbox


@pytest.fixture(autouse=True, scope="module")
def bubblewrap_is_installed():
    """Active in each module that imports it (modules about confinement): without bubblewrap
    their tests fail, never skip."""
    problem = confine_problem()
    if problem:
        pytest.fail(f"these tests need bubblewrap: {problem}; install the Debian package bubblewrap",
                    pytrace=False)


@pytest_asyncio.fixture
async def sandbox():
    async with LocalSandbox(timeout=20) as sb:
        yield sb


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared_sandbox():
    """One kernel for a whole module, for tests that neither break nor depend on fresh state.
    The module needs `pytestmark = pytest.mark.asyncio(loop_scope="module")`."""
    async with LocalSandbox(timeout=20) as sb:
        yield sb


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:  # gone, or not ours to read
        return b""


def sandbox_kernel_pids(parent: int | None = None) -> list[int]:
    """Pids of live sandbox kernels started by `parent` (default: this process).

    A sandbox kernel is a process whose command line runs the launcher, or whose environment
    carries the status the launcher leaves behind before it execs ipykernel.
    """
    parent = os.getpid() if parent is None else parent
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        cmdline = _read(entry / "cmdline")
        stat = _read(entry / "stat")
        if b") Z " in stat:  # a zombie has already exited
            continue
        environ = _read(entry / "environ").split(b"\0")
        ours = b"nbreason-python/launcher.py" in cmdline or (
            b"ipykernel" in cmdline and any(v.startswith(b"NBREASON_SANDBOX_STATUS=") for v in environ))
        if ours and f"JPY_PARENT_PID={parent}".encode() in environ:
            pids.append(int(entry.name))
    return pids


def pid_alive(pid: int) -> bool:
    stat = _read(Path(f"/proc/{pid}/stat"))
    return bool(stat) and b") Z " not in stat
