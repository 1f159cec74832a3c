"""nbreason's own kernelspec: where it is, its launcher, and whether bubblewrap can confine it.
Kept out of Jupyter's kernel folders, so the sandbox kernel never shows up in a kernel picker."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import types
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .base import SandboxError

KERNEL_NAME = "nbreason-python"
CONFINED_KERNEL_NAME = "nbreason-confined"
PIDS_MAX = 512  # processes + threads of a confined kernel (a fork bomb meets EAGAIN here)


def kernel_dirs() -> list[Path]:
    """Folders that may hold the nbreason-python kernelspec, best first."""
    candidates = []
    if os.environ.get("NBREASON_KERNELS_DIR"):
        candidates.append(Path(os.environ["NBREASON_KERNELS_DIR"]))
    # A repo checkout or editable install: kernels/ sits beside the package.
    candidates.append(Path(__file__).resolve().parents[2] / "kernels")
    # A wheel install: data-files land in <prefix>/share/nbreason/kernels (kept out of
    # share/jupyter so the sandbox kernel does not show up in the user's kernel picker).
    for prefix in dict.fromkeys([sysconfig.get_path("data"), sys.prefix]):
        candidates.append(Path(prefix) / "share" / "nbreason" / "kernels")
    return candidates


def find_kernel_dir() -> Path:
    for folder in kernel_dirs():
        if (folder / KERNEL_NAME / "kernel.json").is_file():
            return folder
    looked = ", ".join(str(p) for p in kernel_dirs())
    raise SandboxError(f"the {KERNEL_NAME} kernelspec was not found (looked in {looked})")


def load_launcher(kernels: Path) -> types.ModuleType:
    """The launcher module, so the parent scrubs the environment with the kernel's own rules.
    Executed from source: an import would leave a __pycache__ in the kernelspec folder."""
    path = kernels / KERNEL_NAME / "launcher.py"
    if not path.is_file():
        raise SandboxError(f"the sandbox kernelspec in {kernels} has no {KERNEL_NAME}/launcher.py; "
                           "reinstall nbreason or unset NBREASON_KERNELS_DIR")
    module = types.ModuleType("nbreason_sandbox_launcher")
    module.__file__ = str(path)
    exec(compile(path.read_text(), str(path), "exec"), module.__dict__)
    return module


#: bubblewrap flags every confined kernel gets, probed as they will run: a user namespace of its
#: own, no capabilities (as root bubblewrap keeps nearly all of them otherwise), and no nested user
#: namespaces (bubblewrap >= 0.8), which would hand the code a fresh set of capabilities.
CONFINE_FLAGS = ("--unshare-user", "--disable-userns", "--cap-drop", "ALL", "--unshare-uts",
                 "--unshare-cgroup-try")
#: A size-limited tmpfs (bubblewrap's --size, newer than some distributions ship).
SIZE_MOUNTS = ("--size", str(1 << 20), "--tmpfs", "/tmp")


@dataclass(frozen=True)
class Bubblewrap:
    """What a bubblewrap executable can do here."""

    path: str | None  # None: not found
    problem: str = ""  # why it cannot confine a kernel ("" if it can)
    disable_userns: bool = True  # False: too old for --disable-userns (nested user namespaces stay possible)
    tmpfs_size: bool = True  # False: no --size (the private /tmp and /dev/shm are not bounded)


def find_bwrap(path: str | None = None) -> str | None:
    """The bubblewrap executable on `path` (default: $PATH)."""
    return shutil.which("bwrap", path=path)


def _probe(bwrap: str, flags: tuple[str, ...], mounts: tuple[str, ...] = ()) -> str:
    command = [bwrap, "--die-with-parent", *flags, "--unshare-pid", "--unshare-net",
               "--ro-bind", "/", "/", "--proc", "/proc", "--ro-bind", "/proc/sys", "/proc/sys",
               "--dev", "/dev", *mounts, "--", "true"]
    try:
        # Only PATH and the locale: the probe runs in a user namespace of the owner's uid, where a
        # kernel of the same uid (plain, as root) could read its environment, API keys included
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL")}
        done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=10, env=env)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bubblewrap ({bwrap}) failed to run: {exc}"
    if done.returncode != 0:
        reason = " ".join(done.stderr.split())[:300] or f"exit code {done.returncode}"
        return f"bubblewrap ({bwrap}) cannot create namespaces: {reason}"
    return ""


@lru_cache(maxsize=8)
def probe_bubblewrap(bwrap: str | None) -> Bubblewrap:
    """Whether `bwrap` can confine a kernel here, with the flags it will run with: missing, or
    namespaces forbidden (Ubuntu's AppArmor rule, hardened containers). Checked once per path."""
    if bwrap is None:
        return Bubblewrap(None, "bubblewrap (bwrap) is not installed")
    flags, mounts, disable_userns = CONFINE_FLAGS, SIZE_MOUNTS, True
    problem = _probe(bwrap, flags, mounts)
    if problem and "disable-userns" in problem:  # bubblewrap < 0.8
        flags, disable_userns = tuple(f for f in flags if f != "--disable-userns"), False
        problem = _probe(bwrap, flags, mounts)
    if problem and "--size" in problem:  # older still: tmpfs without a size limit
        return Bubblewrap(bwrap, _probe(bwrap, flags), disable_userns=disable_userns, tmpfs_size=False)
    return Bubblewrap(bwrap, problem, disable_userns=disable_userns)


def confine_problem(bwrap: str | None = None) -> str:
    """Why the bubblewrap at `bwrap` (default: the one on $PATH) cannot confine a kernel ("" if it can)."""
    return probe_bubblewrap(bwrap or find_bwrap()).problem
