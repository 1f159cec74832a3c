"""Attacks on the local sandbox by hostile model code, plain and confined, as root and as a
normal user: each test makes the attack for real and checks what it reached. The findings and
what changed are listed in docs/faults-sandbox.md; the table of what each mode stops is in
docs/sandboxes-local.md.

The probes run in a throwaway owner process, so an attack that works can hurt that process,
never pytest, and every attack that changes something (a mount) undoes itself at once.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import select
import shutil
import socket
import struct
import subprocess
import sys
import sysconfig
import tempfile
import termios
import time
import tty
import uuid
from pathlib import Path

import pytest
import pytest_asyncio

from nbreason.sandboxes.base import SandboxError
from nbreason.sandboxes.local import LocalSandbox
from nbreason.sandboxes.results import execution_from_json, execution_to_json, summarize
from nbreason.trace import read_trace
from tests.support.kernels import bubblewrap_is_installed  # noqa: F401 (autouse: fails without bubblewrap)
from tests.support.scripted_server import Reply, ScriptedServer
from tests.test_cli import cli_env, nbreason

ROOT = Path(__file__).resolve().parents[1]
BOTH = pytest.mark.parametrize("confine", [False, True], ids=["plain", "confined"])
NOBODY = 65534
AS_ROOT = os.geteuid() == 0




# An owner process: starts a sandbox, runs code, prints one JSON line per execution (or the
# SandboxError that stopped the start).
OWNER = """
import asyncio, json, os, sys
from nbreason.sandboxes.base import SandboxError
from nbreason.sandboxes.local import LocalSandbox
from nbreason.sandboxes.results import execution_to_json

async def main():
    options, codes = json.loads(sys.argv[1]), json.loads(sys.argv[2])
    try:
        async with LocalSandbox(**options) as sb:
            print(json.dumps({"confined": sb.confined, "warnings": sb.warnings}), flush=True)
            for code in codes:
                execution = await sb.run_code(code.replace("OWNER_PID", str(os.getpid())))
                print(json.dumps(execution_to_json(execution)), flush=True)
    except SandboxError as exc:
        print(json.dumps({"sandbox_error": str(exc)}), flush=True)

asyncio.run(main())
"""


def last_json_line(execution: dict) -> dict:
    """The probe's report: the last line it printed."""
    return json.loads("".join(execution["stdout"]).strip().splitlines()[-1])


# --- 1. capabilities, mounts, ptrace, raw sockets, setuid ---------------------------------------

ATTACKS = r'''
import ctypes, errno, json, os, socket, subprocess, sys

libc = ctypes.CDLL(None, use_errno=True)
MS_REMOUNT, MS_BIND, MNT_DETACH = 32, 4096, 2


def failed(result):
    return "ok" if result == 0 else errno.errorcode.get(ctypes.get_errno(), "error")


def attempt(action):
    try:
        return action()
    except Exception as exc:
        return type(exc).__name__


def privileges(text):
    seen = {k: v.split() for k, _, v in (line.partition(":") for line in text.splitlines())}
    return {"euid": seen["Uid"][1], **{k: seen[k][0] for k in ("CapEff", "CapPrm", "CapBnd", "NoNewPrivs")}}


def write(path, text="written by the sandbox"):
    with open(path, "w") as fh:
        fh.write(text)
    return "written"


def mount_host():
    """The escape the review found: bind a host folder without its submounts (that shows what a
    tmpfs hid), read the hidden key, remount read-write, write on the host. The review bound /;
    this binds only the test's own folder (holding the home and the outside folder), so an
    attack that works can never take the rest of the machine with it."""
    os.makedirs("host", exist_ok=True)
    seen = {"bind": failed(libc.mount(ARENA.encode(), b"host", None, MS_BIND, None))}
    if seen["bind"] == "ok":
        try:
            seen["ssh"] = attempt(lambda: open("host/home/.ssh/id_ed25519").read())
            seen["remount"] = failed(libc.mount(None, b"host", None, MS_REMOUNT | MS_BIND, None))
            seen["write"] = attempt(lambda: write("host/outside/mounted.txt"))
        finally:  # never leave / mounted in a folder that will be deleted
            libc.umount2(b"host", MNT_DETACH)
    return seen


def setuid_mount():
    """mount(8) is setuid root: as root without capabilities it must fail too."""
    os.makedirs("host2", exist_ok=True)
    done = subprocess.run(["mount", "--bind", ARENA, "host2"], capture_output=True, text=True, timeout=30)
    if done.returncode == 0:
        libc.umount2(b"host2", MNT_DETACH)
        return "mounted"
    return "refused"


# In a child: unshare would move the kernel itself into the new namespaces.
USERNS = r"""
import ctypes, errno, os
libc = ctypes.CDLL(None, use_errno=True)
if libc.unshare(0x10000000 | 0x20000) != 0:
    print(errno.errorcode.get(ctypes.get_errno(), "error"))
else:
    os.makedirs("host3", exist_ok=True)
    print("created; bind " + ("ok" if libc.mount(ARENA.encode(), b"host3", None, 4096, None) == 0 else "refused"))
"""


def run(*argv):
    done = subprocess.run(list(argv), capture_output=True, text=True, timeout=30)
    return (done.stdout.strip() or done.stderr.strip()).splitlines()[-1:] or [""]


def trace(pid):
    """Opening /proc/PID/mem makes the check PTRACE_ATTACH makes, without stopping anyone."""
    return attempt(lambda: open(f"/proc/{pid}/mem", "rb").close() or "allowed")


def raise_pids_limit():
    line = next(l for l in open("/proc/self/cgroup") if ":pids:" in l)
    return write(f"/sys/fs/cgroup/pids{line.split(':', 2)[2].strip()}/pids.max", "max")


def connect(path):
    with socket.socket(socket.AF_UNIX) as client:
        client.connect(path)
    return "connected"


def write_back(path):
    """The value already there, never a new one: the machine is shared."""
    return write(path, open(path).read().strip())


def raise_memory_limit():
    import resource
    resource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY,) * 2)
    return "raised"


CHANGE_IDS = "import os\nos.setgroups([0, 6])\nos.setgid(65533)\nos.setuid(65533)\nprint('changed')"
print(json.dumps({
    "kernel": privileges(open("/proc/self/status").read()),
    "child": privileges(subprocess.run(["cat", "/proc/self/status"], capture_output=True, text=True).stdout),
    "setuid_program": privileges(subprocess.run([SUID_CAT, "/proc/self/status"], capture_output=True, text=True).stdout),
    "mount_host": mount_host(),
    # Confined, / is the sandbox's read-only view of the host's; plain, it is the host's own.
    "remount_root": failed(libc.mount(None, b"/", None, MS_REMOUNT | MS_BIND, None)) if CONFINED else "",
    "setuid_mount": setuid_mount(),
    "userns": run(sys.executable, "-S", "-c", f"ARENA = {ARENA!r}\n" + USERNS)[0],
    "trace_parent": trace(os.getppid()),
    "trace_owner": trace(OWNER_PID),
    "raw_socket": attempt(lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP).close() or "opened"),
    "packet_socket": attempt(lambda: socket.socket(socket.AF_PACKET, socket.SOCK_RAW).close() or "opened"),
    "change_ids": run(sys.executable, "-S", "-c", CHANGE_IDS)[0],
    "ssh": attempt(lambda: open(HOME + "/.ssh/id_ed25519").read()),
    "write_outside": attempt(lambda: write(OUTSIDE + "/x.txt")),
    "raise_pids_limit": attempt(raise_pids_limit),
    "run_socket": attempt(lambda: connect(RUN_SOCKET)),
    "sysctl": attempt(lambda: write_back("/proc/sys/kernel/hostname")),
    "raise_memory_limit": attempt(raise_memory_limit),
}))
'''

NO_PRIVILEGES = {"CapEff": "0" * 16, "CapPrm": "0" * 16, "CapBnd": "0" * 16, "NoNewPrivs": "1"}


def as_normal_user() -> tuple[list[str], str] | None:
    """(command prefix running Python as uid/gid 65534, PYTHONPATH), or None where that cannot be
    done. The interpreter must be reachable by that user (a pyenv under /root may not be), else a
    system Python of the same version with our site-packages on its path."""
    if not AS_ROOT or not shutil.which("setpriv"):
        return None
    prefix = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    candidates = [(sys.executable, str(ROOT)),
                  (shutil.which(version, path="/usr/local/bin:/usr/bin:/bin"),
                   f"{ROOT}{os.pathsep}{sysconfig.get_paths()['purelib']}")]
    check = ("import subprocess, sys, nbreason.sandboxes.local, ipykernel\n"
             "subprocess.run([sys.executable, '-c', 'import ipykernel'], check=True)")
    for python, path in candidates:
        if python and subprocess.run(prefix + [python, "-c", check], cwd="/", capture_output=True,
                                     env={**os.environ, "PYTHONPATH": path}, timeout=60).returncode == 0:
            return prefix + [python], path
    return None


@pytest.fixture(scope="module")
def attacks():
    """What ATTACKS reached, by (user, confined). The secret home and the outside folder share
    one folder under /var/tmp (not /tmp, so hiding them does not come from the private /tmp
    alone); a setuid-root copy of cat shows whether a setuid program gains anything; a Unix
    socket under /run stands for the daemons listening there (D-Bus, systemd, docker)."""
    arena = Path(tempfile.mkdtemp(prefix="nbreason-attack-", dir="/var/tmp"))
    home, outside = arena / "home", arena / "outside"
    run_socket = f"/run/nbreason-attack-{os.getpid()}.sock"
    server = socket.socket(socket.AF_UNIX)
    seen: dict[tuple[str, bool], dict] = {}
    try:
        (home / ".ssh").mkdir(parents=True)
        outside.mkdir()
        (home / ".ssh" / "id_ed25519").write_text("ssh-secret")
        suid_cat = outside / "suid-cat"
        shutil.copy("/bin/cat", suid_cat)
        server.bind(run_socket)
        server.listen(16)
        os.chmod(run_socket, 0o777)
        normal_user = as_normal_user()
        users = [("root", [sys.executable], str(ROOT), 0)] if AS_ROOT else []
        if normal_user:
            users.append(("user", *normal_user, NOBODY))
        for user, command, path, uid in users:
            for item in [home, *home.rglob("*"), outside]:  # the user's own files
                os.chown(item, uid, uid)
            for folder in (arena, home, outside):
                folder.chmod(0o755)
            os.chown(suid_cat, 0, 0)
            suid_cat.chmod(0o4755)
            for confine in (False, True):
                code = (f"ARENA, HOME, OUTSIDE, SUID_CAT, RUN_SOCKET, CONFINED = {str(arena)!r}, "
                        f"{str(home)!r}, {str(outside)!r}, {str(suid_cat)!r}, {run_socket!r}, {confine}\n"
                        + ATTACKS)
                done = subprocess.run(
                    command + ["-c", OWNER, json.dumps({"confine": confine}), json.dumps([code])],
                    cwd=ROOT, env={**os.environ, "HOME": str(home), "PYTHONPATH": path},
                    capture_output=True, text=True, timeout=180)
                assert done.returncode == 0, done.stderr
                header, execution = (json.loads(line) for line in done.stdout.splitlines()[-2:])
                assert header["confined"] is confine, header
                seen[user, confine] = last_json_line(execution)
                seen[user, confine]["host_files"] = sorted(p.name for p in outside.glob("*.txt"))
                for written in outside.glob("*.txt"):
                    written.unlink()
        yield seen
    finally:
        server.close()
        Path(run_socket).unlink(missing_ok=True)
        shutil.rmtree(arena, ignore_errors=True)


def seen_by(attacks, user: str, confine: bool) -> dict:
    if (user, confine) not in attacks:
        pytest.skip("cannot run the sandbox as root here" if user == "root" else
                    "cannot run the sandbox as a normal user here (needs root, setpriv and a Python "
                    "that user can run)")
    return attacks[user, confine]


@pytest.mark.parametrize("user", ["root", "user"])
def test_confined_kernel_has_no_capabilities_and_its_programs_gain_none(attacks, user):
    seen = seen_by(attacks, user, True)
    for process in ("kernel", "child", "setuid_program"):
        assert {k: seen[process][k] for k in NO_PRIVILEGES} == NO_PRIVILEGES, process
    assert seen["setuid_program"]["euid"] == seen["kernel"]["euid"]


@pytest.mark.parametrize("user", ["root", "user"])
def test_confined_kernel_cannot_mount_the_host_into_its_folder_or_remount_it_writable(attacks, user):
    seen = seen_by(attacks, user, True)
    assert seen["mount_host"] == {"bind": "EPERM"}
    assert seen["remount_root"] == "EPERM"
    assert seen["setuid_mount"] == "refused"
    assert seen["userns"] == "ENOSPC"  # no nested user namespace, so no capabilities there either
    assert seen["raise_pids_limit"] == "OSError"  # /sys is read-only
    assert seen["sysctl"] == "OSError"  # /proc/sys is read-only
    assert seen["raise_memory_limit"] == "ValueError"
    assert seen["host_files"] == []


@pytest.mark.parametrize("user", ["root", "user"])
def test_confined_kernel_cannot_trace_its_owner_open_raw_sockets_or_change_ids(attacks, user):
    seen = seen_by(attacks, user, True)
    assert seen["trace_owner"] == "FileNotFoundError"  # not in its PID namespace
    assert seen["raw_socket"] == seen["packet_socket"] == "PermissionError"
    assert "PermissionError" in seen["change_ids"]


@pytest.mark.parametrize("user", ["root", "user"])
def test_confined_kernel_cannot_read_hidden_homes_write_outside_or_reach_sockets_under_run(attacks, user):
    seen = seen_by(attacks, user, True)
    assert seen["ssh"] == "FileNotFoundError"
    assert seen["write_outside"] == "OSError"  # read-only file system
    assert seen["run_socket"] == "FileNotFoundError"  # /run is an empty tmpfs


def test_plain_kernel_as_root_has_no_capabilities_and_no_new_privileges(attacks):
    seen = seen_by(attacks, "root", False)
    for process in ("kernel", "child", "setuid_program"):
        assert {k: seen[process][k] for k in NO_PRIVILEGES} == NO_PRIVILEGES, process
    assert seen["mount_host"] == {"bind": "EPERM"}
    assert seen["setuid_mount"] == "refused"
    assert seen["trace_parent"] == seen["trace_owner"] == "PermissionError"  # the owner keeps its capabilities
    assert seen["raw_socket"] == seen["packet_socket"] == "PermissionError"
    assert "PermissionError" in seen["change_ids"]


def test_plain_kernel_as_root_is_still_root_for_files(attacks):
    # Not a boundary: uid 0 without capabilities still owns most of the system.
    seen = seen_by(attacks, "root", False)
    assert seen["ssh"] == "ssh-secret"
    assert seen["write_outside"] == "written" and seen["host_files"] == ["x.txt"]
    assert seen["sysctl"] == "written"  # the host's kernel settings too (the value already there)
    assert seen["raise_memory_limit"] == "ValueError"  # limits hold
    assert seen["run_socket"] == "connected"


def test_plain_kernel_as_a_normal_user_gains_nothing_from_setuid_programs(attacks):
    seen = seen_by(attacks, "user", False)
    assert seen["kernel"]["NoNewPrivs"] == "1"
    assert seen["setuid_program"]["euid"] == str(NOBODY)
    assert seen["setuid_program"]["CapEff"] == "0" * 16


def test_plain_kernel_as_a_normal_user_cannot_write_sysctls_or_raise_its_limits(attacks):
    seen = seen_by(attacks, "user", False)
    assert seen["sysctl"] == "PermissionError" and seen["raise_memory_limit"] == "ValueError"


def test_plain_kernel_as_a_normal_user_can_still_trace_its_owner_and_use_its_files(attacks):
    seen = seen_by(attacks, "user", False)
    assert seen["trace_owner"] == "allowed"  # same user, no capabilities on either side
    assert seen["ssh"] == "ssh-secret" and seen["write_outside"] == "written"


# --- 2. keystrokes into the owner's terminal --------------------------------------------------

PTY_OWNER = """
import asyncio, json, os, sys
from nbreason.sandboxes.local import LocalSandbox
from nbreason.sandboxes.results import execution_to_json

async def main():
    options, code, out = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
    async with LocalSandbox(**options) as sb:
        execution = await sb.run_code(code.replace("OWNER_PID", str(os.getpid())))
    with open(out, "w") as fh:
        json.dump(execution_to_json(execution), fh)

asyncio.run(main())
"""

# Only the test's own pseudo-terminal is targeted: never the other terminals of this machine.
TYPE_INTO_TERMINAL = r'''
import errno, fcntl, json, os, termios

def inject(fd):
    try:
        for byte in b"echo INJECTED-BY-SANDBOX\n":
            fcntl.ioctl(fd, termios.TIOCSTI, bytes([byte]))
        return "typed"
    except OSError as exc:
        return errno.errorcode.get(exc.errno, str(exc.errno))

def links():
    found = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            found[name] = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            pass
    return found

fds = links()
tried = {f"fd {name}": inject(int(name)) for name in fds}
for path in ["/dev/tty", TTY_PATH, *(f"/proc/{pid}/fd/{n}" for pid in (os.getppid(), OWNER_PID) for n in range(3))]:
    try:
        fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    except OSError as exc:
        tried[path] = errno.errorcode.get(exc.errno, str(exc.errno))
        continue
    tried[path] = inject(fd)
    os.close(fd)
print(json.dumps({"fds": fds, "tried": tried, "sid": os.getsid(0), "pid": os.getpid()}))
'''


@BOTH
def test_the_kernel_holds_no_terminal_and_cannot_type_into_the_owners(confine, tmp_path):
    master, slave = os.openpty()
    tty.setraw(slave)  # raw: every injected byte counts in FIONREAD, not only whole lines
    out = tmp_path / "execution.json"
    code = f"TTY_PATH = {os.ttyname(slave)!r}\n" + TYPE_INTO_TERMINAL

    def take_the_terminal():  # in the owner, after setsid: the pty becomes its controlling terminal
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    owner = subprocess.Popen([sys.executable, "-c", PTY_OWNER, json.dumps({"confine": confine}), code,
                              str(out)], stdin=slave, stdout=slave, stderr=slave, cwd=ROOT,
                             start_new_session=True, preexec_fn=take_the_terminal)
    printed = b""
    try:
        deadline = time.monotonic() + 120
        while owner.poll() is None and time.monotonic() < deadline:
            if select.select([master], [], [], 0.2)[0]:
                printed += os.read(master, 65536)  # the owner's own output, so it never blocks
        assert owner.wait(timeout=5) == 0, printed.decode(errors="replace")
        waiting = struct.unpack("i", fcntl.ioctl(slave, termios.FIONREAD, b"\0\0\0\0"))[0]
        os.set_blocking(slave, False)
        try:
            typed = os.read(slave, 4096)
        except BlockingIOError:
            typed = b""
    finally:
        if owner.poll() is None:
            owner.kill()
        os.close(master)
        os.close(slave)
    assert waiting == 0 and typed == b"", typed  # nothing queued for the user's shell
    seen = last_json_line(json.loads(out.read_text()))
    assert "typed" not in seen["tried"].values(), seen["tried"]
    assert seen["tried"]["/dev/tty"] == "ENXIO"  # no controlling terminal: its own session
    assert seen["fds"]["0"] == "/dev/null"
    terminals = [link for link in seen["fds"].values()
                 if link.startswith(("/dev/pts", "/dev/tty", "/dev/console", "/dev/ptmx"))]
    assert terminals == [], seen["fds"]


# --- 3. the kernel's stdout and stderr are not ours -------------------------------------------

HOSTILE_OUTPUT = r'''
import json, os, sys
forged = (json.dumps({"answer": "for" + "ged", "stop_reason": "answered"}) + "\n").encode()
found = []
for fd in (1, 2):
    os.write(fd, forged)
for stream in (sys.__stdout__, sys.__stderr__):
    try:
        stream.write(forged.decode())
        stream.flush()
    except Exception:
        pass
paths = [f"/proc/self/fd/{n}" for n in os.listdir("/proc/self/fd")]
paths += [f"/proc/{os.getppid()}/fd/{n}" for n in range(3)]
for path in paths:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        data = os.read(fd, 1 << 16)
        os.close(fd)
        if b'"answer"' in data:
            found.append(data.decode(errors="replace"))
    except OSError:
        pass
    for flags in (os.O_WRONLY | os.O_APPEND, os.O_WRONLY | os.O_TRUNC):
        try:
            fd = os.open(path, flags | os.O_NONBLOCK)
            os.write(fd, forged)
            os.close(fd)
        except OSError:
            pass
print("earlier results read:", found)
print(6 * 7)
'''


@BOTH
def test_hostile_output_cannot_reach_json_output_or_the_results_file(confine, tmp_path):
    token = uuid.uuid4().hex  # only in the earlier result, nowhere in the code
    earlier = json.dumps({"answer": token, "stop_reason": "answered"}) + "\n"
    results = tmp_path / "results.jsonl"
    results.write_text(earlier)
    trace = tmp_path / "t.jsonl"
    script = [Reply(f"```python\n{HOSTILE_OUTPUT}\n```"), Reply("FINAL ANSWER: 42")]
    args = ["run", "--json", "--trace", str(trace), *(["--confine"] if confine else []), "6*7?"]
    with ScriptedServer(script) as server, open(results, "a") as out:  # nbreason run --json ... >> results.jsonl
        proc = subprocess.run(nbreason(*args), env=cli_env(server, tmp_path), stdout=out,
                              stderr=subprocess.PIPE, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    lines = results.read_text().splitlines(keepends=True)
    assert lines[0] == earlier and len(lines) == 2, lines  # intact, plus exactly one JSON document
    document = json.loads(lines[1])
    assert document["answer"] == "42" and document["config"]["confine"] is confine
    # The forged lines are there only as what the code printed, inside the real document.
    assert "forged" in json.dumps(document["steps"][0]["execution"])
    assert token not in trace.read_text()  # the kernel never read the earlier results


def test_kernel_output_outside_jupyter_goes_to_a_small_private_log_and_never_blocks():
    from nbreason.sandboxes.kernel_log import LIMIT

    async def main():
        async with LocalSandbox() as sb:
            log = Path(sb._runtime) / "kernel.log"
            code = ("import os, sys\nfd = sys.stderr._original_stdstream_copy\n"
                    "for _ in range(48):\n    os.write(fd, b'x' * 65536)\n'done'")
            executions = [await sb.run_code(code) for _ in range(3)]  # 9 MiB in all
            return executions, log.stat().st_size, oct(log.stat().st_mode & 0o777)

    executions, size, mode = asyncio.run(main())
    assert [e.results[0].text for e in executions] == ["'done'"] * 3
    assert size <= LIMIT and mode == "0o600"  # trimmed: 9 MiB were written


# --- 4. asking for what cannot be had fails closed --------------------------------------------

def test_confine_without_bubblewrap_fails_closed_and_runs_no_code(tmp_path):
    marker = tmp_path / "ran.txt"
    script = [Reply(f"```python\nopen({str(marker)!r}, 'w').write('ran')\n```"), Reply("FINAL ANSWER: 1")]
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    trace = tmp_path / "t.jsonl"
    with ScriptedServer(script) as server:
        env = cli_env(server, tmp_path) | {"PATH": str(empty)}  # no bwrap on it
        proc = subprocess.run(nbreason("run", "--confine", "--json", "--trace", str(trace), "q"), env=env,
                              capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and json.loads(proc.stdout)["stop_reason"] == "error"
    errors = [e.message for e in read_trace(trace) if type(e).__name__ == "Error"]
    assert len(errors) == 1 and "\n" not in errors[0]
    assert "bubblewrap (bwrap) is not installed" in errors[0] and "--confine" in errors[0]
    assert "Debian package bubblewrap" in errors[0]
    assert not marker.exists() and not server.requests  # no kernel, no model call, no code


async def test_confine_with_a_bubblewrap_that_does_not_exist_fails_closed(tmp_path):
    sb = LocalSandbox(confine=True, bwrap=str(tmp_path / "no-such-bwrap"))
    with pytest.raises(SandboxError, match="confinement was asked for but is not available"):
        await sb.start()
    assert sb.pid is None


@pytest.mark.skipif(not AS_ROOT, reason="needs root to build a system without namespaces")
def test_network_off_that_cannot_be_enforced_fails_closed(tmp_path):
    """Run nbreason where no namespace can be made (a user namespace without capabilities that
    refuses nested ones, as in hardened containers): --no-network cannot be enforced."""
    marker = tmp_path / "ran.txt"
    script = [Reply(f"```python\nopen({str(marker)!r}, 'w').write('ran')\n```"), Reply("FINAL ANSWER: 1")]
    trace = tmp_path / "t.jsonl"
    jail = [shutil.which("bwrap"), "--unshare-user", "--disable-userns", "--cap-drop", "ALL",
            "--dev-bind", "/", "/", "--die-with-parent", "--"]
    with ScriptedServer(script) as server:
        proc = subprocess.run(jail + nbreason("run", "--no-network", "--json", "--trace", str(trace), "q"),
                              env=cli_env(server, tmp_path), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    errors = [e.message for e in read_trace(trace) if type(e).__name__ == "Error"]
    assert len(errors) == 1 and "the network cannot be cut here" in errors[0], errors
    assert not marker.exists() and not server.requests


@pytest.mark.skipif(not AS_ROOT, reason="needs root to mount")
async def test_closing_a_sandbox_never_deletes_through_a_mount_in_its_folder(tmp_path):
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "keep.txt").write_text("keep")
    sb = LocalSandbox()
    await sb.start()
    target = sb.workdir / "mounted"
    target.mkdir()
    subprocess.run(["mount", "--bind", str(precious), str(target)], check=True)
    try:
        await sb.close()
        assert (precious / "keep.txt").read_text() == "keep"
    finally:
        subprocess.run(["umount", "-l", str(target)], check=False)
        shutil.rmtree(sb.workdir, ignore_errors=True)


# --- 5. crafted messages from the kernel ------------------------------------------------------

def publish(kind: str, content) -> str:
    """Code that publishes a message of its own, as the reply to the running execution."""
    return f"k.session.send(k.iopub_socket, {kind!r}, {content!r}, parent=k.get_parent())\n"


DEEP = "b'{\"data\": ' + b'[' * 200000 + b']' * 200000 + b'}'"
# case -> (code, what must be noted on stderr, or None)
CRAFTED = {
    "display data that is a list": (publish("display_data", {"data": [1, 2], "metadata": {}}),
                                    "not a MIME bundle"),
    "an int as stream text": (publish("stream", {"name": "stdout", "text": 5}), "stdout output was dropped"),
    "ints as image/png and text/plain": (
        publish("display_data", {"data": {"image/png": 5, "text/plain": 7}, "metadata": {}}),
        "png output was dropped"),
    "image/png that is not base64": (
        publish("display_data", {"data": {"image/png": "not base64!", "text/plain": "kept"}, "metadata": {}}),
        "png output was dropped"),
    "text/html that is a dict": (
        publish("execute_result", {"data": {"text/html": {"a": 1}}, "metadata": {}, "execution_count": 1}),
        "html output was dropped"),
    "a lone surrogate in raw JSON": (
        "k.session.send(k.iopub_socket, 'stream', b'{\"name\": \"stdout\", \"text\": \"x\\\\ud800y\\\\n\"}', "
        "parent=k.get_parent())\n", None),
    "a lone surrogate printed": ("print('\\ud800 printed')\n", None),
    "an error with odd fields": (publish("error", {"ename": 5, "evalue": ["\ud800"], "traceback": ["\ud800", 3]}),
                                 None),
    "an idle status of its own": (publish("status", {"execution_state": "idle"}) + "import time\ntime.sleep(0.5)\n",
                                  None),
    "content that is not JSON": ("k.session.send(k.iopub_socket, 'stream', b'{', parent=k.get_parent())\n",
                                 "malformed messages"),
    "JSON nested too deep to parse": (f"k.session.send(k.iopub_socket, 'display_data', {DEEP}, parent=k.get_parent())\n",
                                      "malformed messages"),
    "content that is a list": ("k.session.send(k.iopub_socket, 'stream', b'[1]', parent=k.get_parent())\n",
                               "malformed messages"),
    "a bad signature": ("k.iopub_socket.send_multipart([b'x', b'<IDS|MSG>', b'bad', b'{}', b'{}', b'{}', b'{}'])\n",
                        "malformed messages"),
}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def crafted_sandbox():
    async with LocalSandbox(timeout=20) as sb:
        yield sb


def round_trips(execution) -> dict:
    """What traces and terminals need: JSON that encodes as UTF-8 and reads back the same."""
    text = json.dumps(execution_to_json(execution), ensure_ascii=False)
    text.encode("utf-8")
    assert execution_to_json(execution_from_json(json.loads(text))) == execution_to_json(execution)
    summarize(execution)[0].encode("utf-8")
    return json.loads(text)


@pytest.mark.asyncio(loop_scope="module")
async def test_a_forged_idle_loses_no_output_when_the_reply_overtakes_the_outputs(crafted_sandbox, monkeypatch):
    # On a loaded machine the shell reply can arrive before the outputs still queued on iopub;
    # reading slowly makes that happen every time.
    client = crafted_sandbox._kc
    read = client.get_iopub_msg

    async def lagging(*args, **kwargs):
        msg = await read(*args, **kwargs)
        await asyncio.sleep(0.2)
        return msg

    monkeypatch.setattr(client, "get_iopub_msg", lagging)
    execution = await crafted_sandbox.run_code(
        "ip = get_ipython(); k = ip.kernel\n" + publish("status", {"execution_state": "idle"})
        + "print('after')\n'last'")
    assert "after\n" in "".join(execution.logs.stdout)
    assert [r.text for r in execution.results] == ["'last'"]


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("case", list(CRAFTED))
async def test_a_crafted_message_neither_stops_the_run_nor_loses_later_output(crafted_sandbox, case):
    code, noted = CRAFTED[case]
    execution = await crafted_sandbox.run_code(
        "ip = get_ipython(); k = ip.kernel\n" + code + "print('after')\n'last'")
    data = round_trips(execution)
    assert "after\n" in "".join(data["stdout"])
    assert data["results"][-1]["text"] == "'last'"
    if noted:
        assert noted in "".join(data["stderr"])
    assert (await crafted_sandbox.run_code("'still usable'")).results[0].text == "'still usable'"


@pytest.mark.asyncio(loop_scope="module")
async def test_crafted_values_arrive_cleaned_and_typed(crafted_sandbox):
    code = ("ip = get_ipython(); k = ip.kernel\n"
            + publish("display_data", {"data": {"image/png": "not base64!", "text/plain": "kept"}, "metadata": {}})
            + publish("error", {"ename": 5, "evalue": ["\ud800"], "traceback": ["\ud800", 3]})
            + "print('\\ud800 printed')\n")
    execution = await crafted_sandbox.run_code(code)
    assert [(r.text, r.png) for r in execution.results] == [("kept", None)]
    assert (execution.error.name, execution.error.value) == ("5", "['\\ud800']")  # a repr: text, escaped
    assert execution.error.traceback == "\ufffd\n3"
    assert "".join(execution.logs.stdout) == "\ufffd printed\n"
    raised = await crafted_sandbox.run_code("raise ValueError('\\ud800')")
    assert (raised.error.name, raised.error.value) == ("ValueError", "\ufffd")


async def test_e2b_results_pass_the_same_checks():
    from nbreason.sandboxes.e2b import E2BSandbox
    from tests.support.fake_e2b import FakeE2B

    code = ("ip = get_ipython(); k = ip.kernel\n"
            + publish("display_data", {"data": {"text/plain": 5, "image/png": "not base64!",
                                                "text/html": "<b>kept</b>"}, "metadata": {}})
            + "k.session.send(k.iopub_socket, 'stream', b'{\"name\": \"stdout\", \"text\": \"x\\\\ud800y\\\\n\"}', "
              "parent=k.get_parent())\n"
            + "print('\\ud800 printed')\nprint('after')\nraise ValueError('\\ud800')")
    fake = FakeE2B().start()
    streamed: list[str] = []
    try:
        async with E2BSandbox(api_key=fake.api_key, connection=fake.options(), timeout=30) as sb:
            execution = await sb.run_code(code, on_stdout=streamed.append)
    finally:
        fake.stop()
    data = round_trips(execution)
    assert [r["html"] for r in data["results"]] == ["<b>kept</b>"]
    assert "text" not in data["results"][0] and "png" not in data["results"][0]
    assert "".join(data["stdout"]) == "x\ufffdy\n\ufffd printed\nafter\n" == "".join(streamed)
    assert "text output was dropped" in "".join(data["stderr"]) and "png output was dropped" in "".join(data["stderr"])
    assert (data["error"]["name"], data["error"]["value"]) == ("ValueError", "\ufffd")


def test_an_upload_never_follows_a_link_the_sandbox_planted(tmp_path):
    from nbreason.sandboxes.files import write_inside

    folder, outside = tmp_path / "box", tmp_path / "host.txt"
    folder.mkdir()
    outside.write_text("the host's file")
    (folder / ".nbreason_df.pkl").symlink_to(outside)
    (folder / "data").symlink_to(tmp_path)
    for name in (".nbreason_df.pkl", "data/host.txt", "../host.txt"):
        with pytest.raises((OSError, ValueError)):
            write_inside(folder, name, b"pickle")
    assert outside.read_text() == "the host's file"
    assert write_inside(folder, "sub/ok.csv", b"a,b").read_bytes() == b"a,b"


# --- 6. the host's kernel settings, limits, memory in tmpfs, restarts -------------------------

def report(execution) -> dict:
    """The JSON object a probe printed last."""
    assert execution.error is None, execution.error
    return json.loads("".join(execution.logs.stdout).strip().splitlines()[-1])


# Writes back the value that is already there: never a new one (the machine is shared).
SYSCTLS = r'''
import json

def write_back(path):
    try:
        value = open(path).read().strip()
        with open(path, "w") as fh:
            fh.write(value)
        return "written"
    except OSError as exc:
        return type(exc).__name__ + ": " + (exc.strerror or "")

print(json.dumps({path.rsplit("/", 1)[1]: write_back(path) for path in PATHS}))
'''


async def test_confined_kernel_cannot_write_the_hosts_sysctls():
    # uid 0 in the sandbox is the host's root, and sysctl writes are checked by uid, not by
    # capability: a writable /proc/sys set the host's hostname, and core_pattern runs a command
    # as full root.
    paths = ["/proc/sys/kernel/hostname", "/proc/sys/kernel/core_pattern", "/proc/sys/vm/overcommit_memory"]
    async with LocalSandbox(confine=True) as sb:
        seen = report(await sb.run_code(f"PATHS = {paths!r}\n" + SYSCTLS))
        uts = (await sb.run_code("import os\nos.uname().nodename")).results[0].text
    assert seen == dict.fromkeys(["hostname", "core_pattern", "overcommit_memory"],
                                 "OSError: Read-only file system"), seen
    assert uts == repr(os.uname().nodename)  # its own UTS namespace, a copy of the host's name


LIMITS = r'''
import json, mmap, resource

def raise_limit(which):
    soft, hard = resource.getrlimit(which)
    try:
        resource.setrlimit(which, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    except (ValueError, OSError) as exc:
        return [soft == hard, type(exc).__name__]
    return [soft == hard, "raised"]

def big_map():
    try:
        mmap.mmap(-1, 3 << 30).close()
        return "mapped"
    except OSError as exc:
        return type(exc).__name__

print(json.dumps({"memory": raise_limit(resource.RLIMIT_AS), "file_size": raise_limit(resource.RLIMIT_FSIZE),
                  "open_files": raise_limit(resource.RLIMIT_NOFILE), "3 GiB map": big_map()}))
'''


@BOTH
async def test_a_kernel_cannot_raise_its_memory_file_size_or_open_file_limits(confine):
    async with LocalSandbox(confine=confine, memory_mb=2048, fsize_mb=16) as sb:
        seen = report(await sb.run_code(LIMITS))
    assert seen == {"memory": [True, "ValueError"], "file_size": [True, "ValueError"],
                    "open_files": [True, "ValueError"], "3 GiB map": "OSError"}, seen


# A thread that writes to the kernel's own stdout after its execution returned: nobody trims
# kernel.log then, so only RLIMIT_FSIZE bounds it.
LOG_FILLER = r'''
import os, resource, threading, time
try:
    resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY,) * 2)
except ValueError:
    pass

def fill():
    time.sleep(0.5)
    try:
        for _ in range(12):
            os.write(1, b"x" * (1 << 20))
    except OSError:
        pass
    open("filled.txt", "w").close()

threading.Thread(target=fill, daemon=True).start()
'''


@BOTH
async def test_kernel_log_stays_within_the_file_size_limit_while_no_execution_runs(confine):
    async with LocalSandbox(confine=confine, fsize_mb=4) as sb:
        await sb.run_code(LOG_FILLER)
        for _ in range(100):
            if (sb.workdir / "filled.txt").exists():
                break
            await asyncio.sleep(0.2)
        size = (Path(sb._runtime) / "kernel.log").stat().st_size
    assert size <= 4 << 20, size  # 12 MiB were written


TMPFS = r'''
import json, os

def size_mb(path):
    st = os.statvfs(path)
    return st.f_blocks * st.f_frsize >> 20

def write(path):
    try:
        with open(path, "w") as fh:
            fh.write("x")
        os.unlink(path)
        return "written"
    except OSError as exc:
        return exc.strerror

print(json.dumps({"size": {p: size_mb(p) for p in ("/tmp", "/dev/shm")},
                  "write": {p: write(p + "/x") for p in ("/tmp", "/dev/shm", "/root", "/home", "/run")}}))
'''


async def test_confined_tmp_is_bounded_and_the_hiding_mounts_are_read_only():
    # tmpfs pages are not counted by RLIMIT_AS: unbounded, each took up to half the host's RAM.
    async with LocalSandbox(confine=True, memory_mb=2048) as sb:
        seen = report(await sb.run_code(TMPFS))
        # matplotlib's cache folder was in the hidden home; now in the private /tmp, no warning.
        figure = await sb.run_code("import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.show()")
    assert seen["size"] == {"/tmp": 256, "/dev/shm": 64}, seen
    assert seen["write"] == {"/tmp": "written", "/dev/shm": "written", "/root": "Read-only file system",
                             "/home": "Read-only file system", "/run": "Read-only file system"}, seen
    assert figure.error is None and figure.results[0].png and "".join(figure.logs.stderr) == ""


# Code that should run at the next start if it could: IPython's startup folder and kernel config,
# a module shadowing ipykernel_launcher in the working folder, a .pth in the user site-packages;
# and a connection file with another key (a restart that then fails).
PLANT = r'''
import json, os, sys
from ipykernel.kernelapp import IPKernelApp
here = os.getcwd()
profile = os.path.join(os.environ["IPYTHONDIR"], "profile_default")
os.makedirs(profile + "/startup", exist_ok=True)
open(profile + "/startup/00-planted.py", "w").write(
    f"open({here!r} + '/startup_ran.txt', 'w').close()\nimport builtins\nbuiltins.print = lambda *a, **k: None\n")
open(profile + "/ipython_kernel_config.py", "w").write(f"open({here!r} + '/config_ran.txt', 'w').close()\n")
open("ipykernel_launcher.py", "w").write(
    f"open({here!r} + '/launcher_ran.txt', 'w').close()\nfrom ipykernel import kernelapp\nkernelapp.launch_new_instance()\n")
site = os.path.join(here, ".local/lib/python%d.%d/site-packages" % sys.version_info[:2])
os.makedirs(site, exist_ok=True)
open(site + "/planted.pth", "w").write(f"import os; open({here!r} + '/pth_ran.txt', 'w').close()\n")
path = IPKernelApp.instance().connection_file
try:
    info = json.load(open(path))
    info["key"] = "0" * 36
    json.dump(info, open(path, "w"))
    tampered = "tampered"
except OSError as exc:
    tampered = exc.strerror
print(json.dumps({"connection_file": tampered}))
'''


@BOTH
async def test_code_planted_for_the_next_start_does_not_run_after_a_restart(confine):
    async with LocalSandbox(confine=confine) as sb:
        planted = report(await sb.run_code(PLANT))
        await sb.restart()
        after = await sb.run_code("print(6 * 7 + 1)")
        ran = sorted(p.name for p in sb.workdir.glob("*_ran.txt"))
    assert planted["connection_file"] == ("Read-only file system" if confine else "tampered")
    assert ran == [] and "".join(after.logs.stdout) == "43\n", (ran, after)
