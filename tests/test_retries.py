"""Transient failures are retried visibly, with the server's Retry-After or a growing backoff."""

import email.utils
import time

import pytest

from nbreason.models.base import ModelError
from nbreason.models.openai_chat import OpenAIChatModel
from nbreason.models.retry import RetryPolicy, Transient, parse_retry_after
from tests.support.scripted_server import (
    Empty, Reply, ScriptedServer, Truncated, rate_limited, server_error, unauthorized,
)

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]


class Sleeps:
    """Records the pauses asked for, without pausing."""

    def __init__(self):
        self.seconds: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)


@pytest.fixture
def server():
    with ScriptedServer() as server:
        yield server


def make_model(server, **policy) -> OpenAIChatModel:
    timeout = policy.pop("timeout", 5)
    return OpenAIChatModel("scripted", base_url=server.base_url, timeout=timeout, retry=RetryPolicy(**policy))


async def test_retry_after_is_honoured_and_reported(server):
    server.add(rate_limited(retry_after=1), Reply("finally"))
    model = make_model(server)
    retries = []
    started = time.monotonic()
    completion = await model.complete(MESSAGES, on_retry=lambda *a: retries.append(a))
    elapsed = time.monotonic() - started
    await model.close()
    assert completion.text == "finally"
    [(attempt, wait, reason)] = retries
    assert (attempt, wait) == (1, 1.0)
    assert "rate limited (429)" in reason
    assert elapsed >= 1.0


async def test_rate_limit_without_retry_after_backs_off_exponentially(server):
    server.add(rate_limited(), rate_limited(), rate_limited(), Reply("ok"))
    sleeps = Sleeps()
    model = make_model(server, sleep=sleeps, initial=0.5, jitter=0.5)
    retries = []
    assert (await model.complete(MESSAGES, on_retry=lambda *a: retries.append(a))).text == "ok"
    await model.close()
    waits = [wait for _, wait, _ in retries]
    assert [attempt for attempt, _, _ in retries] == [1, 2, 3]
    assert 0.5 <= waits[0] <= 1.0 and 1.0 <= waits[1] <= 1.5 and 2.0 <= waits[2] <= 2.5
    assert sleeps.seconds == waits  # what was reported is what was slept


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_server_errors_are_retried_until_success(server, status):
    server.add(server_error(status), Reply("recovered"))
    model = make_model(server, scale=0)
    retries = []
    assert (await model.complete(MESSAGES, on_retry=lambda *a: retries.append(a))).text == "recovered"
    await model.close()
    assert len(retries) == 1 and f"server error {status}" in retries[0][2]
    assert len(server.requests) == 2


async def test_truncated_stream_is_retried_from_the_start(server):
    server.add(Truncated("Half an ans", chunks=2), Reply("A whole answer."))
    model = make_model(server, scale=0)
    retries, pieces = [], []
    completion = await model.complete(MESSAGES, on_delta=pieces.append, on_retry=lambda *a: retries.append(a))
    await model.close()
    assert completion.text == "A whole answer."
    assert "broke mid-answer" in retries[0][2]
    assert "".join(pieces) == "Half A whole answer."  # the live view saw the broken start; on_retry tells it so


async def test_empty_reply_is_retried(server):
    server.add(Empty(), Reply("there"))
    model = make_model(server, scale=0)
    retries = []
    assert (await model.complete(MESSAGES, on_retry=lambda *a: retries.append(a))).text == "there"
    await model.close()
    assert "empty response" in retries[0][2]


async def test_read_timeouts_are_retried_then_give_up_clearly(server):
    server.add(Reply("late", delay=10), Reply("late", delay=10), Reply("late", delay=10), Reply("unused"))
    model = make_model(server, timeout=0.3, max_retries=2, scale=0)
    retries = []
    started = time.monotonic()
    with pytest.raises(ModelError) as err:
        await model.complete(MESSAGES, on_retry=lambda *a: retries.append(a))
    await model.close()
    assert time.monotonic() - started < 6  # three 0.3 s timeouts, not the server's 10 s delays
    assert str(err.value) == (f"no response from {server.base_url} within 0.3 s (read timeout) "
                              "(gave up after 3 attempts)")
    assert err.value.retryable and [a for a, _, _ in retries] == [1, 2]
    assert server.remaining == 1


async def test_attempts_are_bounded_by_max_retries(server):
    server.add(*[server_error(503)] * 5)
    model = make_model(server, max_retries=3, scale=0)
    with pytest.raises(ModelError, match=r"server error 503 .*gave up after 4 attempts"):
        await model.complete(MESSAGES)
    await model.close()
    assert len(server.requests) == 4 and server.remaining == 1


async def test_authentication_errors_stop_a_retry_sequence(server):
    server.add(server_error(502), unauthorized(), Reply("never"))
    model = make_model(server, scale=0)
    with pytest.raises(ModelError, match="authentication failed"):
        await model.complete(MESSAGES)
    await model.close()
    assert server.remaining == 1


def test_long_retry_after_is_capped():
    policy = RetryPolicy(max_retry_after=60)
    assert policy.wait_for(1, Transient("slow down", retry_after=3600)) == 60
    assert policy.wait_for(1, Transient("slow down", retry_after=2.5)) == 2.5


def test_retry_after_parses_seconds_milliseconds_and_dates():
    now = time.time()
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after({"Retry-After": "12"}) == 12.0
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert parse_retry_after({"Retry-After": date}, now=now) == pytest.approx(30, abs=1)
    assert parse_retry_after({"Retry-After": "soon"}) is None
    assert parse_retry_after({}) is None
