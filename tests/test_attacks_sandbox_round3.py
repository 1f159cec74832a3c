"""Third round of attacks on the local sandbox by hostile model code, plain and confined: other
sandboxes reached through a TMPDIR outside /tmp, the owner's keyring, a hidden home shown again
through sys.path, and the owner's environment in the bubblewrap probe. Each test makes the attack
for real and checks what it reached; docs/faults-sandbox.md lists the findings."""

from __future__ import annotations

import ctypes
import json
import os
import platform
import shutil
import tempfile

import pytest

from tests.support.kernels import bubblewrap_is_installed  # noqa: F401 (autouse: fails without bubblewrap)
from nbreason.sandboxes import ingest, kernelspec
from nbreason.sandboxes.local import LocalSandbox

BOTH = pytest.mark.parametrize("confine", [False, True], ids=["plain", "confined"])


def report(execution) -> dict:
    """The JSON object a probe printed last."""
    assert execution.error is None, execution.error
    return json.loads("".join(execution.logs.stdout).strip().splitlines()[-1])


# --- 1. another sandbox's kernel, driven past its relay -----------------------------------------

# With the owner's temp folder outside /tmp (TMPDIR=/var/tmp), every sandbox's runtime folder sat
# beside the confined kernel's, readable: another's key, and its kernel's sockets to connect to.
OTHERS = r'''
import glob, json, os
found, keys, replies = [], [], []
for path in glob.glob(%(parent)r + "/nbreason-*"):
    found.append(path)
    try:
        keys.append(json.load(open(os.path.join(path, "connection.json")))["key"][:4])
    except OSError:
        pass
for path in glob.glob(%(victim)r + "/*"):
    found.append(path)
print(json.dumps({"found": found, "keys": keys}))
'''


@pytest.fixture
def temp_folder_outside_tmp(monkeypatch):
    """TMPDIR in /var/tmp (outside the confined kernel's private /tmp), as a user may have it."""
    folder = tempfile.mkdtemp(prefix="nbreason-test-", dir="/var/tmp" if os.path.isdir("/var/tmp") else None)
    monkeypatch.setenv("TMPDIR", folder)
    monkeypatch.setattr(tempfile, "tempdir", None)  # read TMPDIR again
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


async def test_a_confined_kernel_sees_no_other_sandbox_when_the_temp_folder_is_not_tmp(temp_folder_outside_tmp):
    assert not temp_folder_outside_tmp.startswith("/tmp/")
    async with LocalSandbox(confine=False) as victim, LocalSandbox(confine=True) as attacker:
        assert os.path.dirname(victim._runtime) == os.path.dirname(attacker._runtime) == temp_folder_outside_tmp
        seen = report(await attacker.run_code(OTHERS % {"parent": temp_folder_outside_tmp, "victim": victim._runtime}))
        assert (await victim.run_code("print('still mine')")).logs.stdout == ["still mine\n"]
        own = {attacker._runtime, str(attacker.workdir)}
    assert [path for path in seen["found"] if path not in own] == []
    assert len(seen["keys"]) <= 1  # its own connection file's, no other


# --- 2. the owner's session keyring ----------------------------------------------------------------

SYS_ADD_KEY, SYS_KEYCTL = {"x86_64": (248, 250), "aarch64": (217, 219)}.get(platform.machine(), (None, None))
KEYCTL_READ, KEYCTL_DESCRIBE, KEYCTL_UPDATE, KEYCTL_INVALIDATE = 11, 6, 2, 21
SESSION_KEYRING = -3

KEYRING = r'''
import ctypes, json
libc = ctypes.CDLL(None, use_errno=True)
buf = ctypes.create_string_buffer(4096)
n = libc.syscall(%(keyctl)d, 11, -3, buf, 4096)  # the ids of the session keyring's keys
seen, errno_ = [], ctypes.get_errno()
for i in range(0, max(n, 0), 4):
    kid = int.from_bytes(buf.raw[i:i + 4], "little")
    value = ctypes.create_string_buffer(512)
    size = libc.syscall(%(keyctl)d, 11, kid, value, 512)
    seen.append(value.raw[:size].decode(errors="replace") if size > 0 else "")
    libc.syscall(%(keyctl)d, 2, kid, b"planted", 7)  # and replace it
added = libc.syscall(%(add_key)d, b"user", b"left-behind", b"x", 1, -3)
print(json.dumps({"read": n, "seen": seen, "added": added}))
'''


@BOTH
@pytest.mark.skipif(SYS_KEYCTL is None, reason="keyring system call numbers known for x86_64 and aarch64")
async def test_code_cannot_read_or_replace_the_keys_of_the_owners_session_keyring(confine):
    libc = ctypes.CDLL(None, use_errno=True)
    secret = b"sk-kept-in-the-session-keyring"
    key = libc.syscall(SYS_ADD_KEY, b"user", b"owner-token", secret, len(secret), SESSION_KEYRING)
    if key < 0:
        pytest.skip(f"this machine refuses add_key (errno {ctypes.get_errno()})")
    try:
        async with LocalSandbox(confine=confine) as sb:
            seen = report(await sb.run_code(KEYRING % {"keyctl": SYS_KEYCTL, "add_key": SYS_ADD_KEY}))
            assert sb.status["keyring"] is True
        value = ctypes.create_string_buffer(512)
        size = libc.syscall(SYS_KEYCTL, KEYCTL_READ, key, value, 512)
        assert value.raw[:size] == secret  # not replaced
        assert seen["read"] < 0 and seen["seen"] == [] and seen["added"] < 0  # refused outright
    finally:
        libc.syscall(SYS_KEYCTL, KEYCTL_INVALIDATE, key)


# --- 3. a hidden home shown again through sys.path ---------------------------------------------

READ = r'''
import json
found = {}
for path in %(paths)r:
    try:
        found[path] = open(path).read()
    except OSError as exc:
        found[path] = type(exc).__name__
print(json.dumps(found))
'''


async def test_a_confined_kernel_does_not_see_the_folder_the_owner_started_in_inside_a_hidden_home(
        tmp_path, monkeypatch):
    """An empty PYTHONPATH entry (what `export PYTHONPATH=$PYTHONPATH:/x` leaves when it was unset)
    is the folder Python started in: the launcher showed it again, the project's .env with it."""
    home = tmp_path / "home"
    project = home / "project"
    project.mkdir(parents=True)
    (project / ".env").write_text("OPENAI_API_KEY=sk-in-the-project\n")
    monkeypatch.setenv("PYTHONPATH", ":" + os.environ.get("PYTHONPATH", os.getcwd()))
    monkeypatch.chdir(project)
    monkeypatch.setenv("HOME", str(home))
    async with LocalSandbox(confine=True) as sb:
        seen = report(await sb.run_code(READ % {"paths": [str(project / ".env")]}))
    assert seen == {str(project / ".env"): "FileNotFoundError"}


# --- 4. the owner's environment in the bubblewrap probe ----------------------------------------

def test_the_bubblewrap_probe_runs_without_the_owners_secrets(monkeypatch):
    """The probe's bubblewrap runs in a user namespace of the owner's uid: a plain kernel of the
    same uid read OPENAI_API_KEY from its /proc/<pid>/environ while it ran."""
    seen = {}
    real = kernelspec.subprocess.run

    def run(command, **kwargs):
        seen.update(kwargs.get("env") or os.environ)
        return real(command, **kwargs)

    monkeypatch.setenv("OPENAI_API_KEY", "sk-owner-secret")
    monkeypatch.setattr(kernelspec.subprocess, "run", run)
    kernelspec._probe(kernelspec.find_bwrap() or "bwrap", ())
    assert seen and "OPENAI_API_KEY" not in seen and "PATH" in seen


# --- 5. a hard link to the system's setuid program, left in a kept working folder -----------------

LINK = r'''
import json, os, shutil
program = next(p for p in ("/usr/bin/passwd", "/usr/bin/su", "/bin/su") if os.path.exists(p))
try:
    os.makedirs("deep/er", exist_ok=True)
    os.link(program, "deep/er/kept")
    done = oct(os.stat("deep/er/kept").st_mode & 0o6000)
except OSError as exc:
    done = type(exc).__name__
print(json.dumps({"done": done}))
'''


@BOTH
async def test_a_hard_link_to_a_setuid_program_does_not_outlive_the_sandbox_in_a_kept_working_folder(
        tmp_path, confine, caplog):
    """The seccomp filter refuses to make a setuid file, but a hard link to one the system has is
    no new file: it kept a program that an update patches usable, as root. The owner's own setuid
    files in the folder, made before the sandbox, stay (a review found them deleted too)."""
    own = tmp_path / "tools" / "helper"
    own.parent.mkdir()
    own.write_text("#!/bin/sh\n")
    own.chmod(0o2755)
    os.link(own, tmp_path / "tools" / "helper-link")  # the owner's own link: more than one, but older
    async with LocalSandbox(workdir=tmp_path, confine=confine) as sb:
        done = report(await sb.run_code(LINK))["done"]
    if done != "0o4000":  # linking across file systems (confined: a bind mount) or to others' files
        assert done in ("OSError", "PermissionError")  # fails anyway, then nothing is left to remove
    assert not (tmp_path / "deep" / "er" / "kept").exists()
    assert (tmp_path / "deep" / "er").is_dir()  # the rest of the kept folder stays
    assert own.stat().st_mode & 0o7777 == 0o2755 and (tmp_path / "tools" / "helper-link").exists()
    assert ("removed" in caplog.text) == (done == "0o4000")


# --- 6. results each within their limit, together gigabytes ---------------------------------------

WIDE = r'''
from IPython.display import display
text = "a" * 99_990 + "\N{GRINNING FACE}"  # one wide character: Python holds all of them at 4 bytes
bundle = {m: text for m in ("text/plain", "text/html", "text/markdown", "image/svg+xml", "text/latex",
                            "application/javascript", "application/x-other")}
for _ in range(30):
    display(bundle, raw=True)
print("done")
'''


async def test_the_results_of_one_execution_are_held_to_a_total_in_bytes_not_only_a_count():
    """Seven text fields of a million characters, one of them wide, are 28 MB in the notebook: 200
    results (the count allowed) would have held 5.3 GB."""
    limit = 100_000
    async with LocalSandbox(max_output_chars=limit) as sb:
        execution = await sb.run_code(WIDE)
    held = sum(ingest.held_size(result) for result in execution.results)
    assert 0 < len(execution.results) < 30 and held <= ingest.HELD_FACTOR * limit
    assert "past the execution's limit of 4,000,000 for all of them" in "".join(execution.logs.stderr)
    assert execution.logs.stdout == ["done\n"]


def test_json_results_count_at_what_python_holds_them_in():
    """A list of empty lists is 3 characters of JSON an item and 56 bytes decoded: counted at 4 bytes
    a character, three JSON fields at the limit were about 160 MB, not the 40 MB documented."""
    import sys
    import tracemalloc

    from e2b_code_interpreter.models import Result

    tracemalloc.start()
    value = [[] for _ in range(25_000)]
    held, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert held > 16 * ingest.json_size(value) * 0.9  # what it costs, roughly
    assert ingest.held_size(Result(json=value)) >= held
    assert ingest.held_size(Result(text="é" * 1000)) >= sys.getsizeof("é" * 1000)


def test_an_e2b_execution_is_held_to_the_same_total():
    """E2B's SDK builds the whole execution; what nbreason keeps of it (events, traces) is held to
    the local sandbox's total too."""
    from e2b_code_interpreter.models import Execution, Logs, Result

    wide = "a" * 999_980 + "\N{GRINNING FACE}"
    results = [Result(text=wide, html=wide, markdown=wide, latex=wide) for _ in range(20)]
    kept = ingest.clean_execution(Execution(results=results, logs=Logs(stdout=[], stderr=[])))
    held = sum(ingest.held_size(result) for result in kept.results)
    assert 0 < len(kept.results) < 20 and held <= ingest.HELD_FACTOR * ingest.MAX_TEXT_CHARS
    assert "for all of them" in "".join(kept.logs.stderr)
