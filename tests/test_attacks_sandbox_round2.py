"""Second round of attacks on the local sandbox by hostile model code, plain and confined: what
tests/test_attacks_sandbox.py and tests/test_hostile_code.py did not try. Each test makes the
attack for real and checks what it reached; docs/faults-sandbox.md lists the findings."""

from __future__ import annotations

import json
import os
import stat

import pytest

from tests.support.kernels import bubblewrap_is_installed  # noqa: F401 (autouse: fails without bubblewrap)
from nbreason.sandboxes.local import LocalSandbox

BOTH = pytest.mark.parametrize("confine", [False, True], ids=["plain", "confined"])
AS_ROOT = os.geteuid() == 0




def report(execution) -> dict:
    """The JSON object a probe printed last."""
    assert execution.error is None, execution.error
    return json.loads("".join(execution.logs.stdout).strip().splitlines()[-1])


# --- 1. a setuid-root program left in a kept working folder -----------------------------------

# Every way to give a file of its own the setuid or setgid bit: chmod, fchmod, fchmodat, a mode
# given at creation (open, creat, mknod), and a file made with O_TMPFILE then linked in.
SETUID = r'''
import ctypes, errno, json, os, shutil, stat

libc = ctypes.CDLL(None, use_errno=True)

def attempt(action):
    try:
        action()
        return "done"
    except OSError as exc:
        return errno.errorcode.get(exc.errno, str(exc.errno))

def fresh(name):
    shutil.copy("/bin/cat", name)
    return name

def created(name, mode):
    os.close(os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode))

def made_with_tmpfile(name):
    fd = os.open(".", os.O_WRONLY | os.O_TMPFILE, 0o4755)
    try:
        os.link(f"/proc/self/fd/{fd}", name)
    finally:
        os.close(fd)

def fchmod(name):
    fd = os.open(fresh(name), os.O_RDONLY)
    try:
        os.fchmod(fd, 0o4755)
    finally:
        os.close(fd)

def raw(name, *args):
    if libc.syscall(*args) != 0:
        raise OSError(ctypes.get_errno(), name)

seen = {
    "chmod": attempt(lambda: os.chmod(fresh("chmod"), 0o4755)),
    "chmod setgid": attempt(lambda: os.chmod(fresh("chmod-g"), 0o2755)),
    "fchmod": attempt(lambda: fchmod("fchmod")),
    "fchmodat": attempt(lambda: os.chmod(fresh("fchmodat"), 0o6755, dir_fd=os.open(".", os.O_RDONLY))),
    "open": attempt(lambda: created("open", 0o4755)),
    "mknod": attempt(lambda: os.mknod("mknod", stat.S_IFREG | 0o4755)),
    "tmpfile": attempt(lambda: made_with_tmpfile("tmpfile")),
    "plain chmod": attempt(lambda: os.chmod(fresh("normal"), 0o755)),
    "plain open": attempt(lambda: created("normal-open", 0o644)),
}
seen["bits"] = {name: oct(os.lstat(name).st_mode & 0o6000) for name in sorted(os.listdir("."))
                if os.path.isfile(name) and os.lstat(name).st_mode & 0o6000}
print(json.dumps(seen))
'''


@pytest.mark.skipif(not AS_ROOT, reason="the setuid bit of a file of one's own matters only for root's files")
@BOTH
async def test_code_cannot_leave_a_setuid_root_program_in_a_kept_working_folder(confine, tmp_path):
    """Run as root, the kernel's files belong to the host's root, confined too (uid 0 in its user
    namespace is the host's root). A copy of a program with the setuid bit, left in a kept working
    folder, runs as root for every local user who can reach the folder."""
    workdir = tmp_path / "work"
    async with LocalSandbox(confine=confine, workdir=workdir) as sb:
        seen = report(await sb.run_code(SETUID))
    assert seen["plain chmod"] == seen["plain open"] == "done", seen  # ordinary modes still work
    for way in ("chmod", "chmod setgid", "fchmod", "fchmodat", "open", "mknod", "tmpfile"):
        assert seen[way] == "EPERM", (way, seen)
    assert seen["bits"] == {}, seen
    left = {p.name: oct(p.lstat().st_mode) for p in workdir.rglob("*") if p.lstat().st_mode & 0o6000}
    assert left == {}, left


# --- 2. messages the owner never reads, piled up in its memory --------------------------------

# An owner that runs the flood, then waits as it waits for the model, then runs one more step;
# it reports its peak memory.
FLOOD_OWNER = """
import asyncio, json, sys
from nbreason.sandboxes.local import LocalSandbox

def peak_mb():
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")) >> 10

async def main():
    options, code = json.loads(sys.argv[1]), sys.argv[2]
    async with LocalSandbox(**options) as sb:
        before = peak_mb()
        await sb.run_code(code)
        await asyncio.sleep(8)  # the model is thinking; nobody reads the kernel's sockets
        after = await sb.run_code("'after'")
    print(json.dumps({"before": before, "peak": peak_mb(), "after": [r.text for r in after.results],
                      "said": "".join(after.logs.stderr)}))

asyncio.run(main())
"""

# One 32 MiB buffer, sent again and again without copying: the kernel holds 32 MiB, every copy
# that arrives is the receiver's. One message of many parts passes per-part size limits
# (ZMQ_MAXMSGSIZE) and counts as one message for the high-water mark.
FLOOD = r'''
import threading
k = get_ipython().kernel
big = b"x" * (32 << 20)

def flood():
    k.iopub_socket.send_multipart([b"x", b"<IDS|MSG>", b"sig", b"{}", b"{}", b"{}"] + [big] * 24, copy=False)

threading.Thread(target=flood, daemon=True).start()
"flooding"
'''


@BOTH
def test_a_message_flood_the_owner_does_not_read_lands_in_the_relay_and_the_kernel_is_restarted(confine):
    """Before the relay (nbreason/sandboxes/relay.py) the owner's zmq took in all of it: 0.5 GiB
    sent put 540 MB in the owner, 1.5 GiB 1.6 GB; under %%reason that is the notebook's memory."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", FLOOD_OWNER, json.dumps({"confine": confine, "memory_mb": 2048}),
                           FLOOD], cwd=root, env={**os.environ, "PYTHONPATH": str(root)},
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    # 0.75 GiB were sent, more than the relay may hold; the kernel itself may use 2 GiB
    assert seen["peak"] - seen["before"] < 128, seen
    assert seen["after"] == ["'after'"], seen
    assert "the relay of its messages stopped" in seen["said"] and "restarted" in seen["said"], seen


# One message within the relay's 16 MB whose JSON decodes to twenty times that: 4 M empty objects,
# a stream's content besides its text, which jupyter-client decodes before anyone looks at it.
SWELLING = r'''
k = get_ipython().kernel
k.session.send(k.iopub_socket, "stream", {"name": "stdout", "text": "hi", "pad": [{}] * 4_000_000},
               parent=k.get_parent("shell"), ident=[b"stream"])
"sent"
'''


def test_a_message_that_decodes_to_many_times_its_size_is_not_decoded_by_the_owner():
    """It passed the relay's limit on bytes and took 320 MB of the owner's memory as it was read."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", FLOOD_OWNER, json.dumps({}), SWELLING], cwd=root,
                          env={**os.environ, "PYTHONPATH": str(root)}, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["peak"] - seen["before"] < 128, seen
    assert seen["after"] == ["'after'"], seen
