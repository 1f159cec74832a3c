"""Start, reuse and release the embedded model server from the client side.

One server process per model file, shared by every notebook on the machine: the first
`ensure_server` spawns it, later ones (this process or another) find it in the registry
and add a lease. A lease is removed by `release()` or at interpreter exit; the server
notices dead clients by itself, so a killed kernel does not leave a model in memory.

Files, under <cache>/servers/ (see embedded.cache_root):
  <key>.json     registry entry: pid, port, model, log   <key>.lock   serialises start/stop
  <key>.leases/  one file per client pid                  <key>.log    server output
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from . import embedded
from .llama_server import live_leases, process_start_time
from .progress import OnProgress, report

DEFAULT_CTX = 4096  # tokens per slot
DEFAULT_PARALLEL = 2
# llama.cpp threads wait on each other: on a quiet 2-core machine 2 is fastest, on a busy one 1
# is several times faster (measured: 0.5B at 1.2 vs 12 tokens/s). NBREASON_LOCAL_THREADS overrides.
DEFAULT_THREADS = int(os.environ.get("NBREASON_LOCAL_THREADS", "2") or 2)
START_TIMEOUT = 180.0
BUSY_PATIENCE = 30.0  # seconds a running server may take to answer /health while it generates


class ServerStartError(RuntimeError):
    """The server did not come up; the message carries the end of its log."""


@dataclass
class ServerHandle:
    base_url: str  # for the openai client, ends in /v1
    model_name: str
    pid: int
    log_path: Path
    api_key: str = ""  # the server's own key, not a user secret
    model_path: Path = field(default_factory=Path)
    reused: bool = False
    lease: Path | None = None
    parallel: int = DEFAULT_PARALLEL  # requests it serves at once (a reused server keeps its own)

    def release(self) -> None:
        release(self)


# lease file -> [pid that wrote it, handles using it]: a forked child must not remove its
# parent's lease, and one released handle must not end the lease another handle relies on.
_leases: dict[Path, list[int]] = {}
_children: list[subprocess.Popen] = []  # servers we spawned, kept so they can be reaped


def servers_dir() -> Path:
    return embedded.cache_root() / "servers"


def model_key(spec: str, path: Path) -> str:
    """Catalog models by their official hash; other files by path, size and mtime."""
    if not spec.startswith("local:"):
        return embedded.lookup(spec).sha256[:16]
    st = path.stat()
    return hashlib.sha256(f"{path}:{st.st_size}:{st.st_mtime_ns}".encode()).hexdigest()[:16]


def _files(key: str) -> dict[str, Path]:
    base = servers_dir()
    return {"registry": base / f"{key}.json", "lock": base / f"{key}.lock",
            "leases": base / f"{key}.leases", "log": base / f"{key}.log"}


def is_server_process(pid: int) -> bool:
    """The pid runs our server (and is not a zombie or a recycled pid)."""
    started = process_start_time(pid)
    if started is None:
        return False
    if started == "":  # no /proc to look at the command line
        return True
    try:
        return b"nbreason.models.llama_server" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


_direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via an HTTP proxy


def healthy(host: str, port: int, timeout: float = 2.0) -> bool:
    try:
        with _direct.open(f"http://{host}:{port}/health", timeout=timeout) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _read_registry(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _add_lease(lease_dir: Path) -> Path:
    lease_dir.mkdir(parents=True, exist_ok=True)
    lease = lease_dir / str(os.getpid())
    lease.write_text(process_start_time(os.getpid()) or "")
    if not _leases:
        atexit.register(release)
    held = _leases.get(lease)
    if held and held[0] == os.getpid():
        held[1] += 1
    else:
        _leases[lease] = [os.getpid(), 1]
    return lease


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _log_tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _spawn(model: Path, name: str, port: int, files: dict, *, host: str, ctx: int, parallel: int,
           threads: int, api_key: str) -> subprocess.Popen:
    cmd = [
        sys.executable, "-m", "nbreason.models.llama_server", "--model", str(model), "--name", name,
        "--host", host, "--port", str(port), "--ctx", str(ctx), "--parallel", str(parallel),
        "--threads", str(threads), "--lease-dir", str(files["leases"]), "--lock", str(files["lock"]),
        "--registry", str(files["registry"]),
    ]
    # The server needs no keys; and it must import this very nbreason, installed or not.
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "NBREASON_API_KEY", "E2B_API_KEY")}
    env["NBREASON_SERVER_KEY"] = api_key  # in the environment, not argv: argv is public in ps
    package_parent = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_parent, env.get("PYTHONPATH")]))
    with open(files["log"], "ab") as log:
        return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                env=env, start_new_session=True, close_fds=True)


def _wait_ready(proc: subprocess.Popen, host: str, port: int, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServerStartError(
                f"the model server exited with code {proc.returncode} while starting; log {log}:\n{_log_tail(log)}")
        if healthy(host, port, timeout=1.0):
            return
        time.sleep(0.2)
    proc.terminate()
    raise ServerStartError(f"the model server was not ready after {timeout:.0f} s; log {log}:\n{_log_tail(log)}")


def ensure_server(model_spec: str = "local", *, ctx: int = DEFAULT_CTX, parallel: int = DEFAULT_PARALLEL,
                  threads: int = DEFAULT_THREADS, host: str = "127.0.0.1", timeout: float = START_TIMEOUT,
                  on_progress: OnProgress | None = None) -> ServerHandle:
    """A running server for this model, started if needed, with a lease held by this process.

    A server already running for the same model file is reused as it is (its ctx and
    parallel settings win). Blocks while the model is assembled and loaded; `on_progress`
    hears about both (nothing when the server is already running).
    """
    model = embedded.resolve_model(model_spec, on_progress=on_progress)
    name = embedded.served_name(model_spec)
    key = model_key(model_spec, model)
    files = _files(key)
    servers_dir().mkdir(parents=True, exist_ok=True, mode=0o700)
    files["leases"].mkdir(parents=True, exist_ok=True)
    with embedded.file_lock(files["lock"]):
        entry = _read_registry(files["registry"])
        # A live server that answers slowly is busy, not gone: a second copy of the model would
        # double the memory and halve the speed of both.
        if entry and is_server_process(entry["pid"]) and healthy(entry["host"], entry["port"], BUSY_PATIENCE):
            lease = _add_lease(files["leases"])
            return ServerHandle(entry["base_url"], entry["model_name"], entry["pid"], Path(entry["log"]),
                                entry.get("api_key", ""), Path(entry["model_path"]), reused=True, lease=lease,
                                parallel=int(entry.get("parallel", DEFAULT_PARALLEL)))
        files["registry"].unlink(missing_ok=True)
        lease = _add_lease(files["leases"])  # before the spawn: the server watches from its start
        api_key = secrets.token_urlsafe(24)
        stage = f"starting the model server ({name})"
        report(on_progress, stage, 0, 1, unit="")
        try:
            for attempt in range(3):  # a port taken between pick and bind makes the server exit
                port = _free_port(host)
                proc = _spawn(model, name, port, files, host=host, ctx=ctx, parallel=parallel,
                              threads=threads, api_key=api_key)
                try:
                    _wait_ready(proc, host, port, files["log"], timeout)
                    break
                except ServerStartError:
                    if proc.poll() is None or attempt == 2 or healthy(host, port):
                        raise
        except BaseException:
            _drop_lease(lease)
            raise
        _children.append(proc)
        report(on_progress, stage, 1, 1, unit="")
        base_url = f"http://{host}:{port}/v1"
        entry = {"pid": proc.pid, "host": host, "port": port, "base_url": base_url, "model_name": name,
                 "model_path": str(model), "model_key": key, "ctx": ctx, "parallel": parallel,
                 "threads": threads, "log": str(files["log"]), "started": time.time(), "api_key": api_key}
        tmp = files["registry"].with_suffix(".json.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it holds the server key
        with os.fdopen(fd, "w") as fh:
            json.dump(entry, fh, indent=1)
        os.replace(tmp, files["registry"])
        return ServerHandle(base_url, name, proc.pid, files["log"], api_key, model, reused=False, lease=lease,
                            parallel=parallel)


def _drop_lease(lease: Path, *, all_handles: bool = False) -> None:
    held = _leases.get(lease)
    if held is None:
        return
    held[1] -= 1
    if held[1] > 0 and not all_handles and held[0] == os.getpid():
        return
    if held[0] == os.getpid():
        lease.unlink(missing_ok=True)
    del _leases[lease]


def release(handle: ServerHandle | None = None) -> None:
    """Give up one handle's share of this process's lease, or every lease (the atexit hook)."""
    if handle is not None:
        if handle.lease:
            _drop_lease(handle.lease)
            handle.lease = None  # releasing twice must not take another handle's share
    else:
        for lease in list(_leases):
            _drop_lease(lease, all_handles=True)
    for proc in list(_children):  # reap servers that already exited
        if proc.poll() is not None:
            _children.remove(proc)


def running_servers() -> list[dict]:
    """Registry entries of live servers, with their live lease count."""
    found = []
    base = servers_dir()
    for path in sorted(base.glob("*.json")) if base.is_dir() else ():
        entry = _read_registry(path)
        if not entry or not is_server_process(entry.get("pid", 0)):
            continue
        entry.pop("api_key", None)  # status is printed; the key stays in the registry
        entry["leases"] = live_leases(base / f"{path.stem}.leases") if (base / f"{path.stem}.leases").is_dir() else 0
        found.append(entry)
    return found


def stop_servers(model_spec: str | None = None, *, timeout: float = 10.0) -> list[int]:
    """Stop the server of one model (or all) now, whoever holds leases. Returns the pids."""
    wanted = None
    if model_spec:
        model = embedded.resolve_model(model_spec)
        wanted = model_key(model_spec, model)
    pids = [e["pid"] for e in running_servers() if wanted in (None, e.get("model_key"))]
    for pid in pids:
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(is_server_process(p) for p in pids):
        time.sleep(0.1)
        release()  # reaps our own children
    return pids
