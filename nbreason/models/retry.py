"""When and how long to retry a failed model call.

Retried: rate limits (429), server errors (500/502/503/504), timeouts, lost connections
and streams that broke before finishing: everything raised as `Transient`. Never retried:
any other ModelError (400, 401, 403, 404, context too long), since asking again cannot help.

The wait is the server's Retry-After when it sends one (capped), otherwise exponential
backoff with jitter. `on_retry(attempt, wait, reason)` is called before each sleep, so the
user sees every retry as it happens. With a `deadline` (the run's time budget), a wait that
would end after it is not started: the call gives up at once with OutOfTime, saying how long
the server asked to wait and how much time was left. `sleep` and `scale` exist for tests:
the reported wait stays the real one while the actual pause can be shortened.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from dataclasses import dataclass, field
from typing import Awaitable, Callable, Mapping, TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception

from .base import ModelError, OutOfTime

T = TypeVar("T")
OnRetry = Callable[[int, float, str], None]


class Transient(ModelError):
    """A failure worth retrying. `retry_after` is the server's requested wait, if any."""

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None):
        super().__init__(message, status=status, retryable=True)
        self.retry_after = retry_after


RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


def seconds_text(seconds: float) -> str:
    """'86400', '28', '4.9': whole seconds from 10 on, tenths below."""
    return f"{seconds:.0f}" if seconds >= 10 else f"{seconds:.1f}"


def parse_retry_after(headers: Mapping[str, str] | None, now: float | None = None) -> float | None:
    """Seconds to wait from `retry-after-ms`, or `retry-after` as seconds or an HTTP date."""
    if not headers:
        return None
    lowered = {k.lower(): v for k, v in headers.items()}
    if "retry-after-ms" in lowered:
        try:
            return max(0.0, float(lowered["retry-after-ms"]) / 1000)
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)


@dataclass
class RetryPolicy:
    max_retries: int = 4  # retries after the first attempt
    initial: float = 0.5  # first backoff, seconds; doubles each retry
    max_backoff: float = 20.0
    jitter: float = 0.5  # up to this many seconds added at random, so clients spread out
    max_retry_after: float = 60.0  # a longer Retry-After is cut to this
    scale: float = 1.0  # actual sleep = wait * scale (tests use 0)
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep)

    def wait_for(self, attempt: int, error: BaseException | None) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            return min(float(retry_after), self.max_retry_after)
        backoff = min(self.initial * 2 ** (attempt - 1), self.max_backoff)
        return backoff + random.uniform(0, self.jitter)

    async def run(self, call: Callable[[], Awaitable[T]], on_retry: OnRetry | None = None, *,
                  deadline: float | None = None) -> T:
        """Run `call`, retrying Transient failures. The last failure is raised as a ModelError,
        or as OutOfTime when the next wait would end after `deadline` (`time.monotonic()` time)."""
        too_late: list[tuple[float, float]] = []  # (the wait, seconds left) when it would outlast the deadline

        def wait(state: RetryCallState) -> float:
            return self.wait_for(state.attempt_number, state.outcome.exception())

        def stop(state: RetryCallState) -> bool:
            # tenacity computes the next wait (upcoming_sleep) before asking whether to stop
            if state.attempt_number >= self.max_retries + 1:
                return True
            if deadline is not None and time.monotonic() + state.upcoming_sleep > deadline:
                too_late.append((state.upcoming_sleep, max(0.0, deadline - time.monotonic())))
                return True
            return False

        def report(state: RetryCallState) -> None:
            if on_retry is not None:
                on_retry(state.attempt_number, state.next_action.sleep, str(state.outcome.exception()))

        async def pause(seconds: float) -> None:
            await self.sleep(seconds * self.scale)

        attempts = 0

        async def attempt() -> T:
            nonlocal attempts
            attempts += 1
            return await call()

        retrying = AsyncRetrying(
            stop=stop,
            wait=wait,
            retry=retry_if_exception(lambda e: isinstance(e, ModelError) and e.retryable),
            before_sleep=report,
            sleep=pause,
            reraise=True,
        )
        try:
            return await retrying(attempt)
        except Transient as exc:
            if too_late:
                wait, left = too_late[0]
                if exc.retry_after is not None:  # what the server asked, not the capped wait
                    why = f"the server asks to wait {seconds_text(exc.retry_after)} s"
                else:
                    why = f"the next try would start in {seconds_text(wait)} s"
                raise OutOfTime(f"{str(exc).rstrip('. ')}; {why}, more than the {seconds_text(left)} s left "
                                "in the budget", status=exc.status) from exc
            message = f"{exc} (gave up after {attempts} attempts)" if attempts > 1 else str(exc)
            raise ModelError(message, status=exc.status, retryable=True) from exc
