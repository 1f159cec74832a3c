"""Start an ipykernel inside nbreason's sandbox limits, then exec it.

Run by the kernelspec next to this file:  python launcher.py -f CONNECTION_FILE

Settings arrive as environment variables (all optional) and are removed before the
kernel starts:
  NBREASON_SANDBOX_WORKDIR    working folder (created if missing; a fresh temp folder if unset)
  NBREASON_SANDBOX_MEMORY_MB  RLIMIT_AS in MiB (0: no limit)
  NBREASON_SANDBOX_FSIZE_MB   RLIMIT_FSIZE in MiB (0: no limit)
  NBREASON_SANDBOX_NOFILE     RLIMIT_NOFILE (at least 64)
  NBREASON_SANDBOX_NETWORK    "0" to cut the network (needs the ipc transport)
  NBREASON_SANDBOX_EXTRA_ENV  comma-separated names of extra variables to keep

The kernel sees NBREASON_SANDBOX_STATUS, a JSON object describing what was applied, so the
caller can report a limit that could not be enforced instead of failing silently.

Stdlib only, and no nbreason import: it must start fast and work from a bare kernelspec.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import resource
import sys
import tempfile

#: Variables a kernel may inherit. Everything else (API keys, tokens, cloud credentials)
#: is dropped.
ALLOWED = (
    "PATH", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "LC_NUMERIC", "LC_TIME", "LC_COLLATE",
    "LC_MONETARY", "LC_MESSAGES", "TZ", "TERM", "USER", "LOGNAME", "SHELL",
    "PYTHONPATH", "PYTHONHASHSEED", "PYTHONDONTWRITEBYTECODE", "PYTHONUTF8", "PYTHONIOENCODING",
    "VIRTUAL_ENV", "CONDA_PREFIX", "LD_LIBRARY_PATH", "PYENV_VERSION",
    "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE",
    "MPLBACKEND", "MPLCONFIGDIR", "XDG_CACHE_HOME", "IPYTHONDIR",
    "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
    # jupyter-client sets this so the kernel exits when its parent dies.
    "JPY_PARENT_PID", "JPY_SESSION_NAME",
)
PREFIX = "NBREASON_SANDBOX_"
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000


def sandbox_env(environ: dict, extra: tuple[str, ...] = ()) -> dict:
    """The allow-listed subset of `environ`, plus the named `extra` variables and our settings."""
    keep = set(ALLOWED) | set(extra)
    env = {k: v for k, v in environ.items() if k in keep or k.startswith(PREFIX)}
    # Shared caches (matplotlib's font list) would otherwise be rebuilt in every fresh HOME.
    if "XDG_CACHE_HOME" not in env and environ.get("HOME"):
        env["XDG_CACHE_HOME"] = os.path.join(environ["HOME"], ".cache")
    env.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def set_limit(which: int, value: int) -> None:
    soft, hard = resource.getrlimit(which)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(which, (value, hard))


def drop_network() -> str:
    """Move into a new, empty network namespace. Returns "" or why it failed."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNET) == 0:
        return ""
    first = errno.errorcode.get(ctypes.get_errno(), "error")
    # Without root: a user namespace can own the new network namespace, if the system allows it.
    uid, gid = os.getuid(), os.getgid()
    if libc.unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0:
        second = errno.errorcode.get(ctypes.get_errno(), "error")
        return f"unshare(CLONE_NEWNET) failed ({first}); with a user namespace too ({second})"
    try:
        with open("/proc/self/setgroups", "w") as fh:
            fh.write("deny")
        with open("/proc/self/uid_map", "w") as fh:
            fh.write(f"{uid} {uid} 1")
        with open("/proc/self/gid_map", "w") as fh:
            fh.write(f"{gid} {gid} 1")
    except OSError as exc:  # the namespace exists and the network is gone; ids stay unmapped
        return f"network dropped, but the user id map failed: {exc}"
    return ""


def apply(environ: dict) -> tuple[dict, dict]:
    """Apply the settings in `environ`; return the kernel's environment and a status report."""
    extra = tuple(n for n in environ.get(PREFIX + "EXTRA_ENV", "").split(",") if n)
    env = sandbox_env(environ, extra)
    settings = {k: env.pop(k) for k in list(env) if k.startswith(PREFIX)}
    status: dict = {"pid": os.getpid()}

    workdir = settings.get(PREFIX + "WORKDIR") or tempfile.mkdtemp(prefix="nbreason-work-")
    os.makedirs(workdir, exist_ok=True)
    os.chdir(workdir)
    env["HOME"] = env["PWD"] = status["workdir"] = os.getcwd()
    env.setdefault("TMPDIR", tempfile.gettempdir())

    memory_mb = int(settings.get(PREFIX + "MEMORY_MB") or 0)
    if memory_mb > 0:
        set_limit(resource.RLIMIT_AS, memory_mb * 1024 * 1024)
    fsize_mb = int(settings.get(PREFIX + "FSIZE_MB") or 0)
    if fsize_mb > 0:
        set_limit(resource.RLIMIT_FSIZE, fsize_mb * 1024 * 1024)
    nofile = max(64, int(settings.get(PREFIX + "NOFILE") or 1024))
    set_limit(resource.RLIMIT_NOFILE, nofile)
    status.update(memory_mb=memory_mb, fsize_mb=fsize_mb, nofile=nofile)
    # No RLIMIT_CPU: it is a lifetime budget that would kill a long-lived kernel.

    status["network"] = True
    if settings.get(PREFIX + "NETWORK", "1") == "0":
        problem = drop_network()
        status["network"] = bool(problem) and "network dropped" not in problem
        if problem:
            status["network_problem"] = problem
            print(f"nbreason sandbox: network NOT cut: {problem}", file=sys.stderr)
    env[PREFIX + "STATUS"] = json.dumps(status)
    return env, status


def main(argv: list[str]) -> None:
    env, _ = apply(dict(os.environ))
    args = [sys.executable, "-m", "ipykernel_launcher", *argv,
            # History would write a sqlite file per kernel; the caller keeps its own record.
            "--HistoryManager.enabled=False"]
    os.execve(sys.executable, args, env)


if __name__ == "__main__":
    main(sys.argv[1:])
