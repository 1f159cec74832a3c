"""nbreason's own kernelspec: where it is, its launcher, and whether bubblewrap can confine it.
Kept out of Jupyter's kernel folders, so the sandbox kernel never shows up in a kernel picker."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import types
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


@lru_cache(maxsize=1)
def confine_problem() -> str:
    """Why bubblewrap cannot confine a kernel here ("" if it can): missing, or namespaces
    forbidden (Ubuntu's AppArmor rule, hardened containers). Checked once per process."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return "bubblewrap (bwrap) is not installed"
    probe = [bwrap, "--die-with-parent", "--unshare-pid", "--unshare-net", "--ro-bind", "/", "/",
             "--proc", "/proc", "--dev", "/dev", "--", "true"]
    try:
        done = subprocess.run(probe, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bubblewrap failed to run: {exc}"
    if done.returncode != 0:
        return f"bubblewrap cannot create namespaces: {done.stderr.strip() or done.returncode}"
    return ""
