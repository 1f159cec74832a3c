"""Children of ours that read what someone else made (a sandbox's pickle, a data file handed to the
user): held to a memory and a time limit, with none of the notebook's secrets in their environment.
A child runs `hold_to` first thing; its parent starts it with `child_env()`."""

from __future__ import annotations

import os


def hold_to(memory: int, seconds: int | None, preload=()) -> None:
    """Import `preload` (their own memory is not the work's), then limit this process to its size
    now plus `memory` bytes of address space and to `seconds` of CPU (None: no CPU limit)."""
    for module in preload:
        try:
            if module:
                __import__(module)
        except ImportError:
            pass
    try:
        import resource

        pages = int(open("/proc/self/statm").read().split()[0])
        limit = pages * resource.getpagesize() + memory
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        if seconds is not None:
            resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 1))
    except (ImportError, OSError, ValueError):
        pass


def child_env() -> dict:
    """Such a child's environment: the sandbox kernel's allow-list of the notebook's (the child
    reads only data others made, and has no use for the user's keys)."""
    from .sandboxes.kernelspec import find_kernel_dir, load_launcher
    from .sandboxes.base import SandboxError

    try:
        env = load_launcher(find_kernel_dir()).sandbox_env(dict(os.environ))
    except SandboxError:  # no kernelspec here (an E2B-only install): the least that runs Python
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "PYTHONPATH", "VIRTUAL_ENV")}
    # Allocators that reserve address space ahead (pyarrow's, a thread pool's) would trip the limit.
    return env | {"ARROW_DEFAULT_MEMORY_POOL": "system", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
                  "MKL_NUM_THREADS": "1"}
