"""The sandbox protocol: where model-written code runs.

Every sandbox returns e2b-code-interpreter's own result types (`Execution`, `Result`,
`Logs`, `ExecutionError`), so the loop, renderers and traces never care which one ran
the code.
"""

from __future__ import annotations

from typing import Callable, Protocol, runtime_checkable

from e2b_code_interpreter.models import Execution, ExecutionError, Logs, Result

__all__ = ["Sandbox", "SandboxError", "SandboxDied", "Execution", "ExecutionError", "Logs", "Result"]

OutputHandler = Callable[[str], None]
ResultHandler = Callable[[Result], None]


class SandboxError(RuntimeError):
    """The sandbox itself failed (could not start, lost its connection)."""


class SandboxDied(SandboxError):
    """The kernel died while running code (OOM, segfault, os._exit). It was restarted; state is lost."""


@runtime_checkable
class Sandbox(Protocol):
    """A stateful Python interpreter for one run."""

    name: str  # "local" or "e2b", shown in headers and traces

    async def start(self) -> None: ...

    async def run_code(
        self,
        code: str,
        *,
        timeout: float | None = None,
        on_stdout: OutputHandler | None = None,
        on_stderr: OutputHandler | None = None,
        on_result: ResultHandler | None = None,
    ) -> Execution:
        """Run `code`; on timeout interrupt it (restart if it will not stop) and return an
        Execution whose error is named "TimeoutError". A kernel that dies (OOM, segfault,
        os._exit) comes back as an error named "KernelDied" and is restarted. Failures of the
        code are returned, not raised; SandboxError means the sandbox itself is unusable.
        Never hangs past `timeout` + grace."""
        ...

    async def upload(self, name: str, data: bytes) -> str:
        """Write `data` to `name` in the sandbox's working folder; return its path there."""
        ...

    async def download(self, name: str, *, limit: int) -> bytes:
        """The bytes of `name` in the sandbox's working folder; ValueError past `limit` bytes."""
        ...

    async def interrupt(self) -> None: ...

    async def restart(self) -> None: ...

    async def close(self) -> None: ...
