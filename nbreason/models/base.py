"""The model protocol: one chat call, streamed, with usage.

All models, remote or embedded, speak the OpenAI chat API; the protocol exists so the
loop can be tested and so other clients could plug in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, runtime_checkable

from ..events import ToolCall, Usage  # ToolCall lives with the ModelCall event that carries it


@dataclass
class Completion:
    text: str = ""
    reasoning: str = ""  # reasoning content, where the API returns it
    refusal: str = ""  # the model declined (OpenAI's structured refusal)
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish_reason: str = ""
    usage: Usage = field(default_factory=Usage)
    duration: float = 0.0
    model: str = ""


class ModelError(RuntimeError):
    """A model call failed for good (after retries, or not retryable). `message` is for users."""

    def __init__(self, message: str, *, status: int | None = None, retryable: bool = False):
        super().__init__(message)
        self.status = status
        self.retryable = retryable


class ContextTooLong(ModelError):
    """The prompt no longer fits the model's context window."""


class OutOfTime(ModelError):
    """The call cannot finish before the run's deadline: a wait the server asks for (or a
    back-off) would outlast it, or the answer had not come when it passed."""


@dataclass(frozen=True)
class ModelProfile:
    """What the policy needs to know about a model, beyond what it answers.

    `embedded`: runs on this machine (no bill; small, so its answers are worth checking by a
    second solution). `answers_by_printing`: code that prints one short line proposes that line
    as the answer (small models rarely say `FINAL ANSWER:`; they keep writing code). `protocol`:
    what `protocol = "auto"` asks of this model, "tools" or "text"."""

    embedded: bool = False
    answers_by_printing: bool = False
    protocol: str = "tools"

    def __post_init__(self) -> None:
        if self.protocol not in ("tools", "text"):
            raise ValueError(f"ModelProfile.protocol: expected tools or text, got {self.protocol!r}")


# Text for the embedded 1.5B: on the data questions' tune half, tools answered 9/20 and text 8/20
# (one question apart) at twice the tokens and seconds (benchmarks/results/data-questions-protocols.md).
EMBEDDED = ModelProfile(embedded=True, answers_by_printing=True, protocol="text")


@runtime_checkable
class Model(Protocol):
    name: str
    supports_tools: bool | None  # None: unknown, probe on first use
    profile: ModelProfile

    async def complete(
        self,
        messages: list[dict],
        *,
        tools: list[dict] | None = None,
        on_delta: Callable[[str], None] | None = None,
        on_retry: Callable[[int, float, str], None] | None = None,
        deadline: float | None = None,
        **options: Any,
    ) -> Completion:
        """One chat completion. Streams text pieces to `on_delta` as they arrive and reports
        each retry (attempt, wait seconds, reason) to `on_retry` before sleeping. With a
        `deadline` (`time.monotonic()` time), the call, retries included, ends by then: it
        raises OutOfTime instead of waiting past it."""
        ...

    async def close(self) -> None: ...
