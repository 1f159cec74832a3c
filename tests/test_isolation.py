"""The kernel gets a scrubbed environment, its own folder, memory and file limits, and
(on request) no network."""

import asyncio

import pytest

from nbreason.sandboxes.local import LocalSandbox
from tests.support.kernels import sandbox  # noqa: F401  (fixture)

KEYS = ("OPENAI_API_KEY", "E2B_API_KEY", "NBREASON_API_KEY")


async def test_api_keys_never_reach_the_kernel(monkeypatch):
    for key in KEYS:
        monkeypatch.setenv(key, "sk-do-not-leak")
    async with LocalSandbox(env={"NBREASON_TEST_SETTING": "visible"}) as sb:
        code = (
            "import os\n"
            "proc = open('/proc/self/environ', 'rb').read()\n"
            f"[k for k in {KEYS!r} if k in os.environ], b'sk-do-not-leak' in proc, "
            "os.environ.get('NBREASON_TEST_SETTING')"
        )
        execution = await sb.run_code(code)
    assert execution.results[0].text == "([], False, 'visible')"


async def test_working_folder_is_its_own_and_home(sandbox):
    execution = await sandbox.run_code("import os\nos.getcwd(), os.environ['HOME']")
    folder = str(sandbox.workdir)
    assert execution.results[0].text == repr((folder, folder))
    async with LocalSandbox() as other:
        assert other.workdir != sandbox.workdir
        assert (await other.run_code("import os\nos.listdir('.')")).results[0].text == "[]"


async def test_fresh_working_folder_is_removed_on_close_and_a_given_one_kept(tmp_path):
    async with LocalSandbox() as sb:
        fresh = sb.workdir
        assert fresh.is_dir()
    assert not fresh.exists()
    given = tmp_path / "work"
    async with LocalSandbox(workdir=given) as sb:
        await sb.run_code("open('out.txt', 'w').write('x')")
    assert (given / "out.txt").read_text() == "x"


async def test_upload_writes_into_the_working_folder(sandbox):
    path = await sandbox.upload("data/numbers.csv", b"a\n1\n2\n")
    assert path == str(sandbox.workdir / "data" / "numbers.csv")
    execution = await sandbox.run_code("open('data/numbers.csv').read().split()")
    assert execution.results[0].text == "['a', '1', '2']"
    with pytest.raises(ValueError):
        await sandbox.upload("../escape.txt", b"x")


async def test_memory_limit_raises_memory_error_and_the_kernel_survives():
    async with LocalSandbox(memory_mb=2048) as sb:
        execution = await sb.run_code("kept = 7\nblock = bytearray(3 * 1024 ** 3)")
        assert execution.error.name == "MemoryError"
        assert (await sb.run_code("kept")).results[0].text == "7"


async def test_file_size_limit_stops_a_runaway_write():
    async with LocalSandbox(fsize_mb=1) as sb:
        execution = await sb.run_code("open('big.bin', 'wb').write(b'0' * 2_000_000)")
        assert execution.error.name == "OSError"
        assert "File too large" in execution.error.value


async def test_network_off_makes_connections_fail():
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    code = (
        "import socket\n"
        "try:\n"
        f"    socket.create_connection(('127.0.0.1', {port}), timeout=3).close(); reached = True\n"
        "except OSError:\n"
        "    reached = False\n"
        "reached"
    )
    try:
        async with LocalSandbox(network=True) as sb:  # control: the probe does reach the server
            assert (await sb.run_code(code)).results[0].text == "True"
        # Where the network cannot be cut, start() fails instead (tests/test_attacks_sandbox.py).
        async with LocalSandbox(network=False) as sb:
            assert sb.status["network"] is False
            assert (await sb.run_code(code)).results[0].text == "False"
            dns = await sb.run_code("import socket\nsocket.getaddrinfo('pypi.org', 443)")
            assert dns.error is not None
            assert (await sb.run_code("sum(range(10))")).results[0].text == "45"
            await sb.restart()  # a restarted kernel keeps the same limits
            assert (await sb.run_code(code)).results[0].text == "False"
    finally:
        server.close()
        await server.wait_closed()


def test_launcher_environment_keeps_only_allowed_names():
    from nbreason.sandboxes.kernelspec import find_kernel_dir, load_launcher

    launcher = load_launcher(find_kernel_dir())
    env = launcher.sandbox_env(
        {"PATH": "/bin", "OPENAI_API_KEY": "k", "AWS_SECRET_ACCESS_KEY": "s", "JPY_PARENT_PID": "1",
         "MY_VAR": "m", "HOME": "/root"}, ("MY_VAR",))
    assert env["PATH"] == "/bin" and env["MY_VAR"] == "m" and env["JPY_PARENT_PID"] == "1"
    assert "OPENAI_API_KEY" not in env and "AWS_SECRET_ACCESS_KEY" not in env
    assert "HOME" not in env  # the launcher points HOME at the working folder
