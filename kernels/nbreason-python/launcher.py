"""Start an ipykernel inside nbreason's sandbox limits, then exec it.

Run by the kernelspec next to this file:  python launcher.py -f CONNECTION_FILE

Settings arrive as environment variables (all optional) and are removed before the
kernel starts:
  NBREASON_SANDBOX_WORKDIR    working folder (created if missing; a fresh temp folder if unset)
  NBREASON_SANDBOX_MEMORY_MB  RLIMIT_AS in MiB (0: no limit)
  NBREASON_SANDBOX_FSIZE_MB   RLIMIT_FSIZE in MiB (0: no limit)
  NBREASON_SANDBOX_NOFILE     RLIMIT_NOFILE (at least 64)
  NBREASON_SANDBOX_NETWORK    "0" to cut the network (needs the ipc transport); if it cannot be
                              cut, the launcher exits with the reason instead of starting
  NBREASON_SANDBOX_EXTRA_ENV  comma-separated names of extra variables to keep
  NBREASON_SANDBOX_CONFINE    "1" to run the kernel under bubblewrap: its own PID namespace and
                              /proc, a read-only file system except the working and connection
                              folders, a private /tmp, home folders hidden (kernelspec
                              nbreason-confined, which interrupts by message)
  NBREASON_SANDBOX_PIDS       with CONFINE: most processes and threads (a pids cgroup), 0: none
  NBREASON_SANDBOX_HOME       with CONFINE: the owner's home folder, hidden too
  NBREASON_SANDBOX_BWRAP      with CONFINE: the bubblewrap executable (default: bwrap on PATH;
                              none found: the launcher exits instead of starting unconfined)
  NBREASON_SANDBOX_DISABLE_USERNS  with CONFINE: "0" for bubblewrap < 0.8 (no --disable-userns)
  NBREASON_SANDBOX_TMP_MB     with CONFINE: size of the private /tmp in MiB (default 256; /dev/shm
                              gets at most 64); "0" for a bubblewrap without --size (no bound)
  NBREASON_SANDBOX_KERNEL_IPC the ipc path prefix the kernel binds, in place of the connection
                              file's (where the owner's relay, nbreason/sandboxes/relay.py, listens)

Limits are hard limits (soft = hard): the kernel cannot raise them again. The kernel starts with
-s (no user site-packages), without the working folder on sys.path while ipykernel loads, and a
fresh, empty IPYTHONDIR made at every start, so nothing it leaves in its folders runs at a restart.

Without CONFINE the kernel gets no_new_privs and, when started as root, loses every capability
(bounding set included) before ipykernel starts. That narrows what root can do (mount, ptrace of
processes that keep capabilities, raw sockets, TIOCSTI into other terminals); it is not a
boundary: the kernel is still uid 0 and can write every file root owns and the host's sysctls in
/proc/sys (core_pattern: a command run as full root), so it can take the whole machine.

The kernel sees NBREASON_SANDBOX_STATUS, a JSON object describing what was applied, so the
caller can report a limit that could not be enforced instead of failing silently.

Stdlib only, and no nbreason import: it must start fast and work from a bare kernelspec.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import pwd
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time

#: Variables a kernel may inherit. Everything else (API keys, tokens, cloud credentials)
#: is dropped.
ALLOWED = (
    "PATH", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "LC_NUMERIC", "LC_TIME", "LC_COLLATE",
    "LC_MONETARY", "LC_MESSAGES", "TZ", "TERM", "USER", "LOGNAME", "SHELL",
    "PYTHONPATH", "PYTHONHASHSEED", "PYTHONDONTWRITEBYTECODE", "PYTHONUTF8", "PYTHONIOENCODING",
    "VIRTUAL_ENV", "CONDA_PREFIX", "LD_LIBRARY_PATH", "PYENV_VERSION",
    "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE",
    "MPLBACKEND", "MPLCONFIGDIR", "XDG_CACHE_HOME",
    "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
    # jupyter-client sets this so the kernel exits when its parent dies.
    "JPY_PARENT_PID", "JPY_SESSION_NAME",
)
PREFIX = "NBREASON_SANDBOX_"
try:
    STARTED_IN = os.path.realpath(os.getcwd())  # before apply() moves to the working folder
except OSError:  # started in a folder since removed
    STARTED_IN = ""
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
LINUX_CAPABILITY_VERSION_3 = 0x20080522
CGROUP_PIDS_V1 = "/sys/fs/cgroup/pids"
CGROUP_V2 = "/sys/fs/cgroup"
TMP_MB, SHM_MB = 256, 64  # confined /tmp and /dev/shm: tmpfs pages are not counted by RLIMIT_AS
HIDE_BYTES = 1 << 20  # the read-only tmpfs that hide homes and /run
IPYTHON_PREFIX = "nbreason-ipython-"
PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2
SET_ID_BITS = 0o6000  # S_ISUID | S_ISGID
CREATE_FLAGS = 0o100 | 0o20000000  # O_CREAT | __O_TMPFILE: only then does open() use its mode
# Per architecture: its audit id and the system calls that set a file's mode, with where the mode
# is ("mode", arg), where the flags and the mode are ("open", flags arg, mode arg), or calls
# refused as missing ("enosys": openat2 takes its mode in a struct the filter cannot read, and
# io_uring opens files without passing through the filter); callers fall back to the others.
SETID_SYSCALLS = {
    "x86_64": (0xC000003E, {90: ("mode", 1), 91: ("mode", 1), 268: ("mode", 2), 452: ("mode", 2),
                            133: ("mode", 1), 259: ("mode", 2), 85: ("mode", 1),
                            2: ("open", 1, 2), 257: ("open", 2, 3), 437: ("enosys",), 425: ("enosys",),
                            248: ("eperm",), 249: ("eperm",), 250: ("eperm",)}),
    "aarch64": (0xC00000B7, {52: ("mode", 1), 53: ("mode", 2), 452: ("mode", 2), 33: ("mode", 2),
                             56: ("open", 2, 3), 437: ("enosys",), 425: ("enosys",),
                             217: ("eperm",), 218: ("eperm",), 219: ("eperm",)}),
}
# ...and ("eperm") the kernel keyring's calls, add_key, request_key and keyctl: keys are not in any
# namespace (the owner's session keyring was readable and writable, confined too, and request_key
# runs /sbin/request-key on the host). The launcher joins a new session keyring before the filter.
KEYCTL = {"x86_64": 250, "aarch64": 219}
KEYCTL_JOIN_SESSION_KEYRING = 1


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
    """Soft and hard limit both: a soft limit alone is lifted by one unprivileged setrlimit."""
    soft, hard = resource.getrlimit(which)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(which, (value, value))


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


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def privileges() -> dict:
    """This process's capability sets and no_new_privs, as /proc/self/status shows them."""
    with open("/proc/self/status") as fh:
        return {key: value.strip() for key, _, value in (line.partition(":") for line in fh)
                if key in ("CapEff", "CapPrm", "CapBnd", "CapAmb", "NoNewPrivs")}


def harden() -> dict:
    """no_new_privs (setuid and file-capability programs gain nothing, sudo included), and for root
    no capabilities at all: the bounding set first (needs CAP_SETPCAP), then the others. Returns
    what this process is left with."""
    libc = ctypes.CDLL(None, use_errno=True)
    if int(privileges().get("CapEff", "0"), 16):
        try:
            with open("/proc/sys/kernel/cap_last_cap") as fh:
                last = int(fh.read())
        except (OSError, ValueError):
            last = 63
        for cap in range(last + 1):
            libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)
        libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
        header, data = _CapHeader(LINUX_CAPABILITY_VERSION_3, 0), (_CapData * 2)()
        libc.capset(ctypes.byref(header), data)
    libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    return privileges()


class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8),
                ("k", ctypes.c_uint32)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


def setid_filter_program(machine: str) -> list[tuple[int, int, int, int]]:
    """A seccomp program (classic BPF) that refuses, with EPERM, every system call that would
    give a file the setuid or setgid bit; [] for an architecture it does not know."""
    if machine not in SETID_SYSCALLS:
        return []
    arch, calls = SETID_SYSCALLS[machine]
    ld, jeq, jge, jset, ret = 0x20, 0x15, 0x35, 0x45, 0x06
    allow, eperm = 0x7FFF0000, 0x00050000 | errno.EPERM
    enosys = 0x00050000 | errno.ENOSYS
    # Instructions with symbolic jump targets ("allow", "eperm", "enosys", "call<nr>", "+1").
    code: list[tuple] = [(ld, "", "", 4), (jeq, "+1", "eperm", arch), (ld, "", "", 0),
                         (jge, "eperm", "+1", 0x40000000)]  # x32 system calls on x86_64
    code += [(jeq, f"call{nr}", "+1", nr) for nr in calls]
    code.append((ret, "", "", allow))
    labels: dict[str, int] = {}
    for nr, how in calls.items():
        labels[f"call{nr}"] = len(code)
        if how[0] in ("enosys", "eperm"):
            code.append((ret, "", "", enosys if how[0] == "enosys" else eperm))
            continue
        if how[0] == "open":
            code += [(ld, "", "", 16 + 8 * how[1]), (jset, "+1", "allow", CREATE_FLAGS)]
        code += [(ld, "", "", 16 + 8 * how[-1]), (jset, "eperm", "allow", SET_ID_BITS)]
    for name, value in (("allow", allow), ("eperm", eperm), ("enosys", enosys)):
        labels[name] = len(code)
        code.append((ret, "", "", value))
    program = []
    for i, (op, yes, no, k) in enumerate(code):
        jump = lambda to: 0 if not to else 0 if to == "+1" else labels[to] - i - 1  # noqa: E731
        program.append((op, jump(yes), jump(no), k))
    return program


def forbid_setid_files() -> str:
    """Refuse setuid and setgid bits on every file this process and its children make or change
    (inherited across fork and exec, bubblewrap included). Run as root, confined too, the kernel's
    files belong to the host's root: a copy of a program with the setuid bit, left in a kept
    working folder, would run as root for any local user. Returns "" or why it failed."""
    program = setid_filter_program(os.uname().machine)
    if not program:
        return f"no setuid filter for {os.uname().machine}"
    filters = (_SockFilter * len(program))(*(_SockFilter(*ins) for ins in program))
    prog = _SockFprog(len(program), filters)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)  # needed without CAP_SYS_ADMIN
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
        return f"seccomp failed ({errno.errorcode.get(ctypes.get_errno(), 'error')})"
    return ""


def own_keyring() -> bool:
    """Leave the owner's session keyring for a new, empty one (keys it holds, a Kerberos ticket
    cache among them, were the kernel's to read and replace). Whether that was done."""
    number = KEYCTL.get(os.uname().machine)
    if number is None:
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc.syscall(ctypes.c_long(number), ctypes.c_long(KEYCTL_JOIN_SESSION_KEYRING), None) >= 0


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except OSError:
        return True


def pids_cgroup_root() -> str:
    """Where a pids cgroup can be made: cgroup v1's pids hierarchy, or our own v2 cgroup."""
    if os.path.isfile(os.path.join(CGROUP_PIDS_V1, "cgroup.procs")):
        return CGROUP_PIDS_V1
    try:
        with open(os.path.join(CGROUP_V2, "cgroup.controllers")) as fh:
            if "pids" not in fh.read().split():
                return ""
        with open("/proc/self/cgroup") as fh:
            own = next(line[3:].strip() for line in fh if line.startswith("0::"))
    except (OSError, StopIteration):
        return ""
    return os.path.join(CGROUP_V2, own.lstrip("/"))


def limit_pids(limit: int) -> tuple[str, str]:
    """Move this process (and so everything it starts) into a new pids cgroup of at most
    `limit` tasks: RLIMIT_NPROC is ignored for root. Returns (cgroup path, "") or ("", why not)."""
    root = pids_cgroup_root()
    if not root:
        return "", "no pids cgroup controller under /sys/fs/cgroup"
    # Earlier sandboxes' cgroups, empty once their kernel is gone: named by the launcher's pid.
    for name in os.listdir(root):
        if name.startswith("nbreason-") and name[9:].isdigit() and not _pid_alive(int(name[9:])):
            try:
                os.rmdir(os.path.join(root, name))
            except OSError:
                pass
    path = os.path.join(root, f"nbreason-{os.getpid()}")
    try:
        if root != CGROUP_PIDS_V1:  # v2: the controller must be enabled for children
            with open(os.path.join(root, "cgroup.subtree_control"), "w") as fh:
                fh.write("+pids")
        os.makedirs(path, exist_ok=True)
        with open(os.path.join(path, "pids.max"), "w") as fh:
            fh.write(str(limit))
        with open(os.path.join(path, "cgroup.procs"), "w") as fh:
            fh.write(str(os.getpid()))
    except OSError as exc:
        try:
            os.rmdir(path)
        except OSError:
            pass
        return "", f"pids cgroup not usable: {exc}"
    return path, ""


def _inside(path: str, folders: list[str]) -> bool:
    return any(path == f or path.startswith(f.rstrip("/") + "/") for f in folders)


def hidden_folders(home: str, runtime: str = "") -> list[str]:
    """Folders a confined kernel sees as empty: /run (and /var/run), /root, /home, the owner's
    home and `home`, outermost only, and the folder holding the `runtime` folder. /tmp is private
    too, but writable."""
    hidden = _hidden_folders(home)
    # The runtime's parent holds every other sandbox's runtime (its key, its kernel's sockets) and
    # working folder: private only while it is /tmp. With TMPDIR elsewhere it is hidden too.
    parent = os.path.dirname(os.path.realpath(runtime)) if runtime else "/"
    if parent != "/" and not _inside(parent, ["/tmp", *hidden]):
        hidden.insert(0, parent)
    return hidden


def _hidden_folders(home: str) -> list[str]:
    hidden = ["/run"]
    if os.path.isdir("/var/run") and not os.path.islink("/var/run"):
        hidden.append("/var/run")
    try:
        own_home = pwd.getpwuid(os.getuid()).pw_dir
    except KeyError:  # a uid without a passwd entry (some containers)
        own_home = ""
    for folder in dict.fromkeys(["/root", "/home", own_home, home]):
        folder = os.path.realpath(folder) if folder else ""
        if folder and os.path.isdir(folder) and not _inside(folder, ["/tmp", *hidden]) and folder != "/":
            hidden.append(folder)
    return hidden


def ipc_folder(connection_file: str) -> str:
    """The folder of the kernel's ipc sockets ("" for tcp): the one part of the runtime folder
    a confined kernel must write."""
    try:
        with open(connection_file) as fh:
            info = json.load(fh)
    except (OSError, ValueError):
        return ""
    if info.get("transport") != "ipc" or not isinstance(info.get("ip"), str):
        return ""
    return os.path.dirname(os.path.abspath(info["ip"]))


def confine_argv(bwrap: str, workdir: str, runtime: str, network: bool, home: str,
                 disable_userns: bool = True, *, writable: tuple[str, ...] = (),
                 tmp_mb: int = TMP_MB) -> list[str]:
    """bubblewrap's arguments: mounts apply in order, so later binds show through earlier tmpfs.

    As root bubblewrap keeps nearly every capability unless told otherwise (enough to mount the
    host's / into the working folder): the kernel gets its own user namespace, no capabilities,
    an empty bounding set, and cannot make nested user namespaces. /run is hidden too: its
    sockets (the D-Bus buses, systemd, docker) would run commands outside the sandbox.

    uid 0 inside maps to the host's root, and sysctl writes are checked by uid, not by
    capability: /proc/sys must be read-only (bubblewrap leaves it writable) or the kernel sets
    the host's hostname, or core_pattern, which runs a command as full root. The runtime folder
    (connection file) is read-only; only `writable` folders in it (ipc sockets, IPYTHONDIR) and
    the working folder can be written."""
    args = [bwrap, "--die-with-parent", "--new-session", "--unshare-user"]
    if disable_userns:
        args.append("--disable-userns")
    size = lambda mb: ["--size", str(mb << 20)] if tmp_mb else []  # noqa: E731
    hide = ["--size", str(HIDE_BYTES)] if tmp_mb else []
    args += ["--cap-drop", "ALL", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
             "--unshare-cgroup-try",
             "--ro-bind", "/", "/", "--proc", "/proc",
             "--ro-bind", "/proc/sys", "/proc/sys",
             "--ro-bind-try", "/proc/sysrq-trigger", "/proc/sysrq-trigger",
             "--dev", "/dev",
             *size(tmp_mb), "--tmpfs", "/tmp", *size(min(SHM_MB, tmp_mb)), "--tmpfs", "/dev/shm"]
    if not network:
        args.append("--unshare-net")
    hidden = hidden_folders(home, runtime)
    for folder in hidden:
        args += [*hide, "--tmpfs", folder]
    covered = ["/tmp", *hidden]
    # DNS may live under /run (systemd-resolved's stub resolv.conf): show that one file again.
    resolv = os.path.realpath("/etc/resolv.conf")
    if network and _inside(resolv, covered) and os.path.isfile(resolv):
        args += ["--ro-bind", resolv, resolv]
    for path in shown_again(covered):
        args += ["--ro-bind", path, path]
    args += ["--ro-bind", runtime, runtime]
    for path in dict.fromkeys([*writable, workdir]):
        args += ["--bind", path, path]
    # After the binds, which needed mount points in them: the hiding tmpfs hold nothing to write.
    for folder in hidden:
        args += ["--remount-ro", folder]
    return args + ["--chdir", workdir, "--"]


def shown_again(covered: list[str]) -> list[str]:
    """What the kernel needs from hidden places (a pyenv or venv in a home folder), to be shown again
    read-only: the interpreter's folders and sys.path, but never the folder the owner started in
    (an empty PYTHONPATH entry, as `PYTHONPATH=$PYTHONPATH:/x` leaves, is that folder: its .env
    was readable) nor a hidden folder itself (all of it would show again)."""
    needed = [sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(os.path.realpath(sys.executable)),
              *(p for p in sys.path if p and os.path.realpath(p) != STARTED_IN)]
    shown: list[str] = []
    for path in sorted({os.path.realpath(p) for p in needed}, key=len):
        if os.path.exists(path) and _inside(path, covered) and path not in covered and not _inside(path, shown):
            shown.append(path)
    return shown


def fresh_ipython_dir(runtime: str) -> str:
    """An empty IPYTHONDIR for this start, the earlier ones removed: files a kernel planted in
    profile_default/startup or ipython_kernel_config.py would run at the next start otherwise."""
    for name in os.listdir(runtime):
        path = os.path.join(runtime, name)
        if name.startswith(IPYTHON_PREFIX):
            if os.path.islink(path) or not os.path.isdir(path):
                os.unlink(path)
            else:
                remove_folder(path)
    return tempfile.mkdtemp(prefix=IPYTHON_PREFIX, dir=runtime)


def remove_folder(path: str) -> None:
    """rmtree never follows links, but raises RecursionError on a folder the kernel nested 1,500
    deep: then rm, which walks any depth. A folder left behind is harmless (each start gets a new
    IPYTHONDIR); a launcher that dies on it would never start a kernel again."""
    try:
        shutil.rmtree(path, ignore_errors=True)
    except RecursionError:
        try:
            subprocess.run(["rm", "-rf", "--one-file-system", "--", path], stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
        except (OSError, subprocess.SubprocessError):
            pass


def kernel_argv(argv: list[str]) -> list[str]:
    """ipykernel, with no user site-packages (a .pth in HOME/.local would run at every start) and
    without the working folder on sys.path while it loads: `-m ipykernel_launcher` would run a
    planted ipykernel_launcher.py. IPython puts the folder back for the code it runs (-P would
    keep it out for good)."""
    start = ("import sys; del sys.path[0]; import runpy; "
             "runpy.run_module(sys.argv.pop(1), run_name='__main__', alter_sys=True)")
    # History would write a sqlite file per kernel; the caller keeps its own record.
    return [sys.executable, "-s", "-c", start, "ipykernel_launcher", *argv,
            "--HistoryManager.enabled=False"]


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
    network_off = settings.get(PREFIX + "NETWORK", "1") == "0"
    if settings.get(PREFIX + "CONFINE") == "1":
        status["confined"] = True
        status["network"] = not network_off  # bubblewrap's --unshare-net
        status["bwrap"] = settings.get(PREFIX + "BWRAP") or shutil.which("bwrap", path=env.get("PATH")) or ""
        status["disable_userns"] = settings.get(PREFIX + "DISABLE_USERNS", "1") != "0"
        status["tmp_mb"] = int(settings.get(PREFIX + "TMP_MB") or TMP_MB)
        if not status["bwrap"]:  # fail closed: never fall back to an unconfined kernel
            raise SystemExit("nbreason sandbox: confinement was asked for, but bubblewrap (bwrap) "
                             "is not installed; install the Debian package bubblewrap")
        pids = int(settings.get(PREFIX + "PIDS") or 0)
        if pids > 0:
            status["pids_cgroup"], problem = limit_pids(pids)
            status["pids_max"] = pids if status["pids_cgroup"] else 0
            if problem:
                status["pids_problem"] = problem
        # In its own PID namespace the kernel's parent is pid 1, which ipykernel's parent
        # poller takes for "owner gone"; "1" turns the poller off (and its console banner):
        # bubblewrap's --die-with-parent (its parent is this launcher, which watches the owner)
        # does that job instead.
        env["JPY_PARENT_PID"] = "1"
    else:
        if network_off:
            problem = drop_network()
            status["network"] = bool(problem) and "network dropped" not in problem
            if status["network"]:  # fail closed: never run with the network it was asked to cut
                raise SystemExit(f"nbreason sandbox: the network cannot be cut here: {problem}")
            if problem:
                status["network_problem"] = problem
        status["privileges"] = harden()  # after unshare, which needs CAP_SYS_ADMIN as root
    status["keyring"] = own_keyring()
    # Last: limit_pids and unshare above still run unfiltered. Confined, bubblewrap inherits it.
    problem = forbid_setid_files()
    status["setid_filter"] = not problem
    if problem:
        status["setid_problem"] = problem
    env[PREFIX + "STATUS"] = json.dumps(status)
    return env, status


def kernel_connection(connection_file: str, ipc: str) -> str:
    """A copy of the connection file beside it whose ipc sockets are at `ipc`: the owner listens
    at the original ones, through its relay. Returns the copy's path."""
    with open(connection_file) as fh:
        info = json.load(fh)
    if info.get("transport") != "ipc":
        return connection_file
    info["ip"] = ipc
    path = os.path.join(os.path.dirname(connection_file), "kernel-connection.json")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(info, fh)
    return path


def main(argv: list[str]) -> None:
    kernel_ipc = os.environ.get(PREFIX + "KERNEL_IPC", "")
    env, status = apply(dict(os.environ))
    at = argv.index("-f") + 1
    connection_file = os.path.abspath(argv[at])
    runtime = os.path.dirname(connection_file)
    if kernel_ipc:
        connection_file = argv[at] = kernel_connection(connection_file, kernel_ipc)
    env["IPYTHONDIR"] = fresh_ipython_dir(runtime)
    env["PYTHONNOUSERSITE"] = "1"  # for the Pythons it starts too
    args = kernel_argv(argv)
    if status.get("confined"):
        bwrap = status["bwrap"]
        home = os.environ.get(PREFIX + "HOME", "")
        hidden = hidden_folders(home, runtime)
        # Shown again from hidden folders, besides the interpreter's own: a PYTHONPATH entry or an
        # editable install in a home folder is readable to the kernel, files beside its code too
        prefixes = [os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)]
        status["shown_again"] = [p for p in shown_again(["/tmp", *hidden]) if not _inside(p, prefixes)]
        env[PREFIX + "STATUS"] = json.dumps(status)
        # A cache under a hidden home would be an empty read-only folder: use the private /tmp.
        if _inside(os.path.realpath(env.get("XDG_CACHE_HOME", "/")), hidden):
            env["XDG_CACHE_HOME"] = "/tmp/.cache"
        writable = tuple(p for p in (ipc_folder(connection_file), env["IPYTHONDIR"]) if p)
        args = confine_argv(bwrap, status["workdir"], runtime, status["network"], home,
                            status["disable_userns"], writable=writable,
                            tmp_mb=status["tmp_mb"]) + args
        sys.exit(stay_as_parent(bwrap, args, env))
    os.execve(sys.executable, args, env)


def stay_as_parent(program: str, args: list[str], env: dict) -> int:
    """Run bubblewrap as our child and wait for it, passing on the signals we get; end as it
    ended. Its --die-with-parent follows the *thread* that started it (PR_SET_PDEATHSIG): exec'd
    in our place, its parent was the owner's thread that launched the kernel, and a notebook runs
    a cell on a thread of its own when its loop is busy: the kernel died when that cell ended."""
    child = os.fork()
    if child == 0:
        try:
            os.execve(program, args, env)
        finally:
            os._exit(127)
    def forward(number, _frame):
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, number)
    for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(number, forward)
    owner = os.getppid()
    while True:  # and end with the owner process, whichever of its threads started us
        try:
            done, status = os.waitpid(child, os.WNOHANG)
        except ChildProcessError:
            return 1
        if done:
            break
        if os.getppid() != owner:
            forward(signal.SIGKILL, None)
        time.sleep(0.2)
    if os.WIFSIGNALED(status):  # ended by a signal: so do we, so the owner reads the same reason
        number = os.WTERMSIG(status)
        signal.signal(number, signal.SIG_DFL)
        os.kill(os.getpid(), number)
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    main(sys.argv[1:])
