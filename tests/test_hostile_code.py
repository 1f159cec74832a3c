"""Code written to do harm: steal keys, read the user's files, write elsewhere, reach the
network, kill its owner, fork without end. Each case asserts what happens in the plain and
the confined sandbox; docs/faults-sandbox.md states the same."""

import ast
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from nbreason.sandboxes.kernelspec import PIDS_MAX
from nbreason.sandboxes.local import LocalSandbox
from tests.support.kernels import bubblewrap_is_installed, pid_alive  # noqa: F401 (autouse)

ROOT = Path(__file__).resolve().parents[1]
KEY = "sk-fake-owner-key"
BOTH = pytest.mark.parametrize("confine", [False, True], ids=["plain", "confined"])




# Runs in a throwaway process that owns the sandbox, so its environment holds a key from the
# start (visible in /proc/<pid>/environ) and hostile code can kill it, never pytest.
OWNER = """
import asyncio, json, os, sys
from nbreason.sandboxes.local import LocalSandbox

async def main():
    options, codes = json.loads(sys.argv[1]), json.loads(sys.argv[2])
    async with LocalSandbox(**options) as sb:
        print(json.dumps({"pid": sb.pid, "confined": sb.confined}), flush=True)
        for code in codes:
            e = await sb.run_code(code.replace("OWNER_PID", str(os.getpid())))
            print(json.dumps({"text": e.results[0].text if e.results else None,
                              "error": e.error and [e.error.name, e.error.value]}), flush=True)

asyncio.run(main())
"""

PROBE = """
import json, os

def attempt(action):
    try:
        return action()
    except Exception as exc:
        return type(exc).__name__

def read(path):
    return open(path, 'rb').read().decode(errors='replace')

def write(path):
    open(path, 'w').write('written by the kernel')
    return 'written'

json.dumps({
    'os_environ': [k for k, v in os.environ.items() if 'sk-fake' in v],
    'self_environ': attempt(lambda: 'sk-fake' in read('/proc/self/environ')),
    'parent_environ': attempt(lambda: 'sk-fake' in read(f'/proc/{os.getppid()}/environ')),
    'owner_environ': attempt(lambda: 'sk-fake' in read('/proc/OWNER_PID/environ')),
    'processes': len([p for p in os.listdir('/proc') if p.isdigit()]),
    'config': attempt(lambda: read(HOME + '/.config/nbreason-secret')),
    'netrc': attempt(lambda: read(HOME + '/.netrc')),
    'ssh': attempt(lambda: read(HOME + '/.ssh/id_ed25519')),
    'aws': attempt(lambda: read(HOME + '/.aws/credentials')),
    'root_home': sorted(os.listdir('/root')),
    'write_outside': attempt(lambda: write(OUTSIDE + '/x.txt')),
    'write_tmp': attempt(lambda: write(TMP + '/x.txt')),
    'write_workdir': attempt(lambda: write('inside.txt')),
})
"""

SECRETS = {".config/nbreason-secret": "config-secret", ".netrc": "machine x password netrc-secret",
           ".ssh/id_ed25519": "ssh-secret", ".aws/credentials": "aws-secret"}


def run_owner(options: dict, codes: list[str], env: dict, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", OWNER, json.dumps(options), json.dumps(codes)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def probes(tmp_path_factory):
    """What the probe saw, plain and confined. HOME and the outside folder are under /var/tmp,
    not /tmp, so hiding them does not come from the private /tmp alone."""
    home = Path(tempfile.mkdtemp(prefix="nbreason-home-", dir="/var/tmp"))
    outside = Path(tempfile.mkdtemp(prefix="nbreason-outside-", dir="/var/tmp"))
    tmp = tmp_path_factory.mktemp("host-tmp")
    try:
        for name, text in SECRETS.items():
            (home / name).parent.mkdir(parents=True, exist_ok=True)
            (home / name).write_text(text)
        env = {**os.environ, "HOME": str(home), "OPENAI_API_KEY": KEY, "NBREASON_FAKE_TOKEN": KEY}
        code = f"HOME, OUTSIDE, TMP = {str(home)!r}, {str(outside)!r}, {str(tmp)!r}\n" + PROBE
        seen = {}
        for confine in (False, True):
            done = run_owner({"confine": confine}, [code], env)
            assert done.returncode == 0, done.stderr
            header, result = (json.loads(line) for line in done.stdout.splitlines()[-2:])
            assert header["confined"] is confine
            seen[confine] = json.loads(ast.literal_eval(result["text"]))  # the repr of a JSON str
            seen[confine]["host_written"] = sorted(p.name for p in (outside, tmp) if (p / "x.txt").exists())
            for folder in (outside, tmp):
                (folder / "x.txt").unlink(missing_ok=True)
        yield seen
    finally:
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(outside, ignore_errors=True)


@BOTH
def test_keys_in_the_owner_environment_never_reach_os_environ_or_proc_self(probes, confine):
    assert probes[confine]["os_environ"] == []
    assert probes[confine]["self_environ"] is False


def test_plain_kernel_reads_its_owners_environment_from_proc_unless_root_dropped_its_capabilities(probes):
    # The owner is the kernel's parent, same user. As root the plain kernel has no capabilities
    # left, the owner has them: /proc/<owner>/environ is refused. As a normal user it leaks
    # (tests/test_attacks_sandbox.py shows the same for tracing the owner).
    expected = "PermissionError" if os.geteuid() == 0 else True
    assert probes[False]["parent_environ"] == expected
    assert probes[False]["owner_environ"] == expected


def test_confined_kernel_sees_only_its_own_processes(probes):
    seen = probes[True]
    assert seen["parent_environ"] is False  # its parent is bubblewrap, with the scrubbed environment
    assert seen["owner_environ"] == "FileNotFoundError"  # the owner's pid does not exist in there
    assert seen["processes"] <= 3


def test_home_config_files_are_readable_plain_and_hidden_confined(probes):
    assert [probes[False][k] for k in ("config", "netrc", "ssh", "aws")] == list(SECRETS.values())
    assert [probes[True][k] for k in ("config", "netrc", "ssh", "aws")] == ["FileNotFoundError"] * 4
    # The real /root is hidden too: only the interpreter's folder is shown, read-only.
    assert not {".ssh", ".config", ".netrc", ".aws", ".bashrc"} & set(probes[True]["root_home"])


def test_confined_kernel_writes_only_in_its_working_folder(probes):
    seen = probes[True]
    assert seen["write_workdir"] == "written"
    assert seen["write_outside"] == "OSError"  # read-only file system
    assert seen["write_tmp"] == "FileNotFoundError"  # a private, empty /tmp
    assert seen["host_written"] == []


def test_plain_kernel_can_write_outside_its_working_folder(probes):
    assert probes[False]["write_outside"] == probes[False]["write_tmp"] == "written"
    assert len(probes[False]["host_written"]) == 2


@BOTH
async def test_network_off_blocks_connections_and_dns(confine):
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    code = ("import socket\n"
            "def attempt(action):\n"
            "    try:\n        action(); return 'reached'\n"
            "    except OSError as exc:\n        return type(exc).__name__\n"
            f"attempt(lambda: socket.create_connection(('127.0.0.1', {port}), timeout=3).close()), "
            "attempt(lambda: socket.getaddrinfo('pypi.org', 443))")
    try:
        async with LocalSandbox(confine=confine, network=False) as sb:
            assert sb.warnings == [] and sb.status["network"] is False
            reached, dns = (await sb.run_code(code)).results[0].text.strip("()").split(", ")
            assert reached != "'reached'" and dns == "'gaierror'"
    finally:
        server.close()
        await server.wait_closed()


def test_plain_kernel_can_kill_its_owner_and_then_exits_itself():
    done = run_owner({}, ["import os, signal\nos.kill(os.getppid(), signal.SIGKILL)"], dict(os.environ))
    assert done.returncode == -signal.SIGKILL
    kernel = json.loads(done.stdout.splitlines()[0])["pid"]
    deadline = time.monotonic() + 10  # ipykernel polls its parent once a second
    while pid_alive(kernel) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not pid_alive(kernel)


def test_confined_kernel_cannot_kill_its_owner():
    code = ("import os, signal\n"
            "parent = os.getppid()\n"
            "os.kill(parent, signal.SIGKILL)\n"  # pid 1 of its namespace: ignored
            "try:\n    os.kill(OWNER_PID, signal.SIGKILL); owner = 'killed'\n"
            "except ProcessLookupError:\n    owner = 'not found'\n"
            "parent, owner")
    done = run_owner({"confine": True}, [code, "'still running'"], dict(os.environ))
    assert done.returncode == 0, done.stderr
    results = [json.loads(line) for line in done.stdout.splitlines()[1:]]
    assert results == [{"text": "(1, 'not found')", "error": None},
                       {"text": "'still running'", "error": None}]


def machine_processes() -> int:
    return sum(1 for p in Path("/proc").iterdir() if p.name.isdigit() and pid_alive(int(p.name)))


def group_members(pgid: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members



# Forking the kernel itself costs ~10 ms a child (its page tables); so the kernel starts a
# small interpreter that forks up to 2000 sleeping children, each bounded to 120 s of life.
BOMB = r"""
import os, time
forked = 0
for _ in range(2000):
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        if LEAVE_GROUP:
            os.setsid()
        time.sleep(120)
        os._exit(0)
    forked += 1
print('forked', forked, flush=True)
time.sleep(120)
"""


def fork_bomb(leave_group: bool) -> str:
    bomb = BOMB.replace("LEAVE_GROUP", str(leave_group))
    return ("import signal, subprocess, sys, time\n"
            "signal.signal(signal.SIGINT, signal.SIG_IGN)  # inherited: only a restart stops them\n"
            f"subprocess.Popen([sys.executable, '-S', '-c', {bomb!r}])\n"
            "time.sleep(120)")


async def test_plain_fork_bomb_is_cleaned_up_by_timeout_and_restart():
    async with LocalSandbox() as sb:
        baseline, kernel, peak = machine_processes(), sb.pid, []
        # 2000 forks take about a second on a busy 2-core machine: the timeout leaves room to finish them
        execution = await sb.run_code(fork_bomb(False), timeout=6,
                                      on_stdout=lambda text: peak.append(len(group_members(kernel))))
        assert execution.error.name == "TimeoutError" and "restarted" in execution.error.value
        assert "forked 2000" in "".join(execution.logs.stdout)  # nothing bounds the count as root
        assert peak and peak[0] > 2000
        assert group_members(kernel) == []
        assert machine_processes() <= baseline + 50  # other work on the machine may add a few


async def test_confined_fork_bomb_meets_the_pids_limit_and_dies_with_the_namespace():
    async with LocalSandbox(confine=True) as sb:
        assert sb.status["pids_max"] == PIDS_MAX
        cgroup, baseline, inside = Path(sb.status["pids_cgroup"]), machine_processes(), []

        def snapshot(text):
            inside.extend(int(p) for p in (cgroup / "cgroup.procs").read_text().split())

        # The children leave the kernel's process group: only the namespace takes them down.
        execution = await sb.run_code(fork_bomb(True), timeout=3, on_stdout=snapshot)
        assert execution.error.name == "TimeoutError" and "restarted" in execution.error.value
        forked = int("".join(execution.logs.stdout).split()[1])
        assert 100 < forked < PIDS_MAX
        assert len(inside) > forked
        assert not [pid for pid in inside if pid_alive(pid)]
        assert not cgroup.exists()  # removed on restart
        assert machine_processes() <= baseline + 50
        assert (await sb.run_code("'usable'")).results[0].text == "'usable'"


def pids_running(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if marker.encode() in (entry / "cmdline").read_bytes() and pid_alive(int(entry.name)):
                found.append(int(entry.name))
        except (OSError, ValueError):
            continue
    return found


@BOTH
async def test_a_child_in_its_own_session_outlives_a_plain_restart_but_not_a_confined_one(confine):
    marker = f"nbreason-escape-{os.getpid()}-{confine}"
    code = ("import subprocess, sys\n"
            f"child = subprocess.Popen([sys.executable, '-S', '-c', 'import time; time.sleep(60)', {marker!r}],"
            " start_new_session=True)")
    try:
        async with LocalSandbox(confine=confine) as sb:
            assert (await sb.run_code(code)).error is None
            # seen in /proc once it runs: on a loaded machine that can take a moment
            deadline = time.monotonic() + 10
            while not pids_running(marker) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert len(pids_running(marker)) == 1, (await sb.run_code("child.pid, child.poll()")).results
            await sb.restart()
            time.sleep(0.2)
            assert len(pids_running(marker)) == (0 if confine else 1)
    finally:
        for pid in pids_running(marker):  # the plain case leaves it behind: not ours to keep
            os.kill(pid, signal.SIGKILL)


def test_confined_kernel_dies_with_its_owner():
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER, json.dumps({"confine": True}),
         json.dumps(["import time\ntime.sleep(60)"])],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        bwrap = json.loads(owner.stdout.readline())["pid"]
        cgroup = Path(f"/sys/fs/cgroup/pids/nbreason-{bwrap}")
        inside = [int(p) for p in (cgroup / "cgroup.procs").read_text().split()]
        assert len(inside) >= 3 and bwrap in inside  # bubblewrap, its pid 1, the kernel
    finally:
        owner.kill()
        owner.wait()
    deadline = time.monotonic() + 5  # bubblewrap's --die-with-parent, not a poll
    while any(pid_alive(p) for p in inside) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [p for p in inside if pid_alive(p)]
    if cgroup.exists():
        cgroup.rmdir()
