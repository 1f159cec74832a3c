"""Running clean code again, to rebuild a session's state: after a backtrack restarts the sandbox
(nbreason/loop.py), and when the sandbox a follow-up continues is gone (nbreason/followup.py).

The blocks run in order; the first that fails ends it, and what failed is said, never raised:
the caller decides whether a partial state is worth going on with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from .sandboxes.base import Sandbox


@dataclass(frozen=True)
class Rerun:
    ran: int  # blocks that ran cleanly, from the first
    failed: str = ""  # "NameError: name 'x' is not defined", or why the sandbox could not run the next one


async def run_again(sandbox: Sandbox, blocks: Sequence[str], timeout: float) -> Rerun:
    ran = 0
    for code in blocks:
        try:
            execution = await sandbox.run_code(code, timeout=timeout)
        except Exception as exc:  # a sandbox that died or cannot run it: said, as a failed block is
            return Rerun(ran, f"{type(exc).__name__}: {exc}")
        if execution.error is not None:
            return Rerun(ran, f"{execution.error.name}: {execution.error.value}")
        ran += 1
    return Rerun(ran)
