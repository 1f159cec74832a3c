"""When E2B fails, E2BSandbox says what happened, and never sends local secrets.

The real e2b SDK talks to tests/support/fake_e2b.py, which breaks on request.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from nbreason.config import RunConfig
from nbreason.sandboxes.base import SandboxDied, SandboxError
from nbreason.sandboxes.e2b import (
    E2BAuthError,
    E2BConnectionLost,
    E2BRateLimited,
    E2BSandbox,
    E2BSandboxLost,
    E2BStartTimeout,
)
from tests.support.fake_e2b import FakeE2B

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def fake():
    server = FakeE2B().start()
    yield server
    server.stop()


@pytest.fixture
async def make(fake):
    """Build E2BSandboxes against the fake; faults are cleared and sandboxes closed after."""
    made = []

    def build(**options):
        options.setdefault("api_key", fake.api_key)
        sb = E2BSandbox(connection=fake.options(), timeout=10, **options)
        made.append(sb)
        return sb

    yield build
    fake.reset()
    for sb in made:
        await sb.close()


async def test_missing_key_is_reported_before_any_request(make, fake, monkeypatch):
    monkeypatch.delenv("E2B_API_KEY", raising=False)
    attempts = fake.create_attempts
    sb = make(api_key=None)
    with pytest.raises(E2BAuthError, match="E2B_API_KEY is not set"):
        await sb.run_code("1")
    assert fake.create_attempts == attempts


async def test_key_is_read_from_the_environment(make, fake, monkeypatch):
    monkeypatch.setenv("E2B_API_KEY", fake.api_key)
    sb = make(api_key=None)
    assert (await sb.run_code("1 + 1")).text == "2"


async def test_rejected_key_is_an_auth_error(make):
    sb = make(api_key="e2b_wrong")
    with pytest.raises(E2BAuthError, match="401") as caught:
        await sb.start()
    assert isinstance(caught.value, SandboxError)
    assert sb.sandbox_id is None


async def test_rate_limit_is_reported_as_such(make, fake):
    fake.faults.rate_limited = True
    with pytest.raises(E2BRateLimited, match="429"):
        await make().start()


async def test_slow_creation_times_out(make, fake):
    fake.faults.create_delay = 5
    started = time.monotonic()
    with pytest.raises(E2BStartTimeout, match="within 1 s"):
        await make(start_timeout=1).start()
    assert time.monotonic() - started < 3


async def test_slow_response_is_a_timeout_result(make, fake):
    sb = make()
    await sb.start()
    fake.faults.execute_delay = 2
    started = time.monotonic()
    execution = await sb.run_code("'late'", timeout=1)
    assert execution.error.name == "TimeoutError"
    assert time.monotonic() - started < 1 + sb.grace + 8
    fake.faults.execute_delay = 0
    assert (await sb.run_code("'on time'")).text == "'on time'"


async def test_dropped_connection_is_reported_and_the_sandbox_stays(make, fake):
    sb = make()
    await sb.run_code("kept = 7")
    fake.faults.drop_after_lines = 2  # the execution count, then the first line of output
    with pytest.raises(E2BConnectionLost, match="connection"):
        await sb.run_code("import time\nprint('a', flush=True)\ntime.sleep(1)\nprint('b')")
    fake.faults.drop_after_lines = None
    assert (await sb.run_code("kept")).text == "7"


async def test_sandbox_dying_mid_run_is_sandbox_died_and_the_next_call_starts_afresh(make, fake):
    sb = make()
    await sb.run_code("lost = 1")
    first = sb.sandbox_id
    fake.faults.die_after_lines = 2
    with pytest.raises(E2BSandboxLost, match="stopped") as caught:
        await sb.run_code("import time\nprint('a', flush=True)\ntime.sleep(1)")
    assert isinstance(caught.value, SandboxDied)
    fake.faults.die_after_lines = None
    assert (await sb.run_code("'lost' in dir()")).text == "False"
    assert sb.sandbox_id != first


async def test_sandbox_gone_while_idle_is_sandbox_died(make, fake):
    sb = make()
    await sb.run_code("1")
    fake.kill(sb.sandbox_id)  # e.g. E2B ended it when its lifetime ran out
    with pytest.raises(E2BSandboxLost):
        await sb.run_code("2")
    assert (await sb.run_code("3")).text == "3"


async def test_only_named_variables_and_settings_are_sent(make, fake, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-local-secret")
    monkeypatch.setenv("E2B_API_KEY", "e2b-not-for-the-vm")
    sb = make(envs={"ONLY": "this"}, network=False, lifetime=600)
    execution = await sb.run_code(
        "import os\n(os.environ.get('ONLY'), os.environ.get('OPENAI_API_KEY'), "
        "os.environ.get('E2B_API_KEY'))")
    assert execution.text == "('this', None, None)"
    created = fake.created[-1]
    assert created["envVars"] == {"ONLY": "this"}
    assert created["allow_internet_access"] is False
    assert created["timeout"] == 600


async def test_lifetime_is_pushed_past_a_long_execution(make, fake):
    sb = make(lifetime=60)
    await sb.start()
    await sb.run_code("1", timeout=30)
    assert (sb.sandbox_id, 30 + int(sb.grace) + 60) in fake.timeouts


async def test_from_config_never_uses_the_model_key(fake, monkeypatch):
    monkeypatch.delenv("E2B_API_KEY", raising=False)
    config = RunConfig(sandbox="e2b", api_key="sk-model-key", exec_timeout=12, network=False)
    sb = E2BSandbox.from_config(config, connection=fake.options())
    assert (sb.timeout, sb.network, sb.api_key) == (12, False, None)
    with pytest.raises(E2BAuthError):
        await sb.start()


EXIT_SCRIPT = textwrap.dedent("""
    import asyncio, sys
    from nbreason.sandboxes.e2b import E2BSandbox

    async def main():
        sb = E2BSandbox(api_key=sys.argv[1], connection={"api_url": sys.argv[2], "sandbox_url": sys.argv[2]})
        await sb.run_code("1")
        print(sb.sandbox_id, flush=True)
        globals()["left_open"] = sb  # never closed

    asyncio.run(main())
""")


def test_a_sandbox_left_open_is_killed_at_interpreter_exit(fake):
    done = subprocess.run(
        [sys.executable, "-c", EXIT_SCRIPT, fake.api_key, fake.url],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    sandbox_id = done.stdout.strip()
    assert sandbox_id in fake.killed
    assert not fake.alive(sandbox_id)
