"""The embedded model server process.

    python -m nbreason.models.llama_server --model PATH --port P --lease-dir DIR

llama.cpp's own HTTP server (through xllamacpp) serves the OpenAI API: /v1/chat/completions
(streaming, usage), /v1/models and /health, with the chat template from the GGUF metadata,
the prompt cache and one slot per parallel request. It runs in its own process so a crash,
or a model load, never takes the notebook kernel down, and so several notebooks share one
loaded model.

It exits by itself when no client holds a lease: a lease is a file in --lease-dir named by
the client's pid (its content is the pid's start time, to tell a reused pid apart).
"""

from __future__ import annotations

import argparse
import fcntl
import os
import signal
import sys
import threading
import time
from pathlib import Path

WATCH_INTERVAL = 2.0


def log(message: str) -> None:
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} nbreason-server[{os.getpid()}]: {message}",
          file=sys.stderr, flush=True)


_HAS_PROC = os.path.isdir("/proc/self")


def process_start_time(pid: int) -> str | None:
    """The pid's start time in clock ticks since boot; "" without /proc; None when it is gone."""
    if not _HAS_PROC:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return ""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    if fields[0] == "Z":  # a zombie has exited
        return None
    return fields[19]


def lease_alive(path: Path) -> bool:
    try:
        pid = int(path.name)
        expected = path.read_text().strip()
    except (ValueError, OSError):
        return False
    started = process_start_time(pid)
    if started is None:
        return False
    return not (expected and started) or expected == started  # a different start time: pid reused


def live_leases(lease_dir: Path) -> int:
    """Counts live leases and removes the files of clients that died without releasing."""
    count = 0
    for path in lease_dir.glob("[0-9]*"):
        if lease_alive(path):
            count += 1
        else:
            path.unlink(missing_ok=True)
    return count


def watch_leases(lease_dir: Path, grace: float, lock: Path | None, registry: Path | None) -> None:
    """Exit the process once no lease has been alive for `grace` seconds."""
    idle_since = None
    while True:
        time.sleep(WATCH_INTERVAL)
        if live_leases(lease_dir):
            idle_since = None
            continue
        idle_since = idle_since or time.monotonic()
        if time.monotonic() - idle_since < grace:
            continue
        # Decide under the clients' lock: a client that found us in the registry has
        # either added its lease already (we stay) or will find the registry gone.
        fh = open(lock, "a") if lock else None
        try:
            if fh:
                fcntl.flock(fh, fcntl.LOCK_EX)
            if live_leases(lease_dir):
                idle_since = None
                continue
            if registry and _registry_is_ours(registry):
                registry.unlink(missing_ok=True)
            log("no client holds a lease: exiting")
            os._exit(0)  # the lock is released with the process
        finally:
            if fh:
                fh.close()


def _registry_is_ours(registry: Path) -> bool:
    import json

    try:
        return json.loads(registry.read_text()).get("pid") == os.getpid()
    except (OSError, ValueError):
        return False


def build_params(args: argparse.Namespace):
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(args.model)
    params.model_alias = {args.name or Path(args.model).stem}
    params.hostnames = [args.host]
    params.port = args.port
    params.n_parallel = args.parallel
    params.n_ctx = args.ctx * args.parallel  # llama.cpp splits n_ctx across the slots
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    params.cpuparams.poll = args.poll
    params.cpuparams_batch.poll = args.poll
    params.use_jinja = True  # the chat template stored in the GGUF
    params.cache_prompt = True  # a repeated prefix (system prompt, earlier steps) is not recomputed
    params.cache_ram_mib = args.cache_ram  # host-memory prompt cache shared by the slots
    params.ui = False
    # Only holders of the key (clients that can read the registry) may call the model, and
    # no web page in the user's browser may reach it through CORS.
    key = os.environ.get("NBREASON_SERVER_KEY")
    if key:
        params.api_keys = [key]
    params.cors_origins = "http://127.0.0.1"
    params.cors_origins_explicit = True
    return params


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nbreason.models.llama_server", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, type=Path, help="GGUF file")
    parser.add_argument("--name", help="model name reported to clients (default: file stem)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ctx", type=int, default=4096, help="context tokens per slot")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--parallel", type=int, default=2, help="slots: requests served at once")
    parser.add_argument("--poll", type=int, default=50,
                        help="0-100: how long idle threads spin before sleeping (llama.cpp default 50)")
    parser.add_argument("--cache-ram", type=int, default=1024, help="prompt cache in MiB")
    parser.add_argument("--lease-dir", type=Path, help="exit when no live lease is left here")
    parser.add_argument("--grace", type=float, default=5.0, help="seconds to stay after the last lease")
    parser.add_argument("--lock", type=Path, help="lock file shared with clients")
    parser.add_argument("--registry", type=Path, help="registry entry removed on exit")
    parser.add_argument("--log", type=Path, help="append stdout and stderr (llama.cpp's too) to this file")
    args = parser.parse_args(argv)

    if args.log:
        args.log.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(args.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(fd, 1)  # file descriptors, so llama.cpp's C++ logging lands there too
        os.dup2(fd, 2)
        os.close(fd)
    if not args.model.is_file():
        log(f"model file not found: {args.model}")
        return 2

    def stop(signum, frame):
        if args.registry and _registry_is_ours(args.registry):
            args.registry.unlink(missing_ok=True)
        log(f"stopped by signal {signum}")
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    if args.lease_dir:
        # Watch from the start: a client that dies during the load should not leave us behind.
        args.lease_dir.mkdir(parents=True, exist_ok=True)
        threading.Thread(target=watch_leases, daemon=True, name="lease-watch",
                         args=(args.lease_dir, args.grace, args.lock, args.registry)).start()

    import xllamacpp

    log(f"loading {args.model} (ctx {args.ctx} x {args.parallel} slots, {args.threads} threads)")
    started = time.monotonic()
    server = xllamacpp.Server(build_params(args))  # loads the model, then listens
    log(f"ready at {server.listening_address} after {time.monotonic() - started:.2f} s")
    while True:  # llama.cpp serves from its own threads; sleep keeps signals deliverable
        time.sleep(3600)


if __name__ == "__main__":
    sys.exit(main())
