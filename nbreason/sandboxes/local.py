"""LocalSandbox: a Jupyter kernel on this machine, started from nbreason's own kernelspec.
Containment, not a security boundary (same user, same files); see docs/sandboxes-local.md."""

from __future__ import annotations

import ast
import asyncio
import atexit
import contextlib
import json
import logging
import os
import queue
import signal
import subprocess
import tempfile
import time
import weakref
from pathlib import Path
from typing import Any

import zmq
import zmq.asyncio
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager

from . import applied, relay

from .base import Execution, OutputHandler, ResultHandler, SandboxError
from .iopub import POLL_SECONDS, UNDECODABLE, collect, parent_id as _parent_id
from .ingest import KERNEL_SETUP
from .cleanup import remove_cgroup as _remove_cgroup, remove_setid_files as _remove_setid_files, \
    remove_tree as _remove_tree
from .files import read_inside as _read_inside, write_inside
from .kernel_log import KernelLog
from .kernelspec import (CONFINED_KERNEL_NAME, KERNEL_NAME, PIDS_MAX, find_bwrap, find_kernel_dir,
                         load_launcher, probe_bubblewrap)

log = logging.getLogger(__name__)

# Tracebacks without ANSI codes (IPython 8 and 9); lone surrogates sent escaped, not lost.
SETUP_CODE = "%colors nocolor\n" + KERNEL_SETUP
# Read in the kernel right after setup, before any model code: what it runs with.
PRIVILEGES = ("__import__('json').dumps({k: v.split()[0] for k, _, v in "
              "(line.partition(':') for line in open('/proc/self/status')) "
              "if k in ('CapEff', 'CapBnd', 'NoNewPrivs')})")


def _expression(reply: dict, name: str) -> dict:
    """A user expression whose value is a JSON string, as a dict ({} if absent or unreadable)."""
    value = reply["content"].get("user_expressions", {}).get(name, {})
    raw = value.get("data", {}).get("text/plain", "None")
    try:
        return json.loads(ast.literal_eval(raw)) if raw != "None" else {}  # the repr of a str
    except (ValueError, SyntaxError):
        return {}


# Kernels still running at interpreter exit are killed (best effort; JPY_PARENT_PID covers crashes).
_live: "weakref.WeakSet[LocalSandbox]" = weakref.WeakSet()


@atexit.register
def _kill_leftovers() -> None:
    for sandbox in list(_live):
        sandbox._kill_now()


class LocalSandbox:
    """A stateful Python kernel on this machine. Use `async with LocalSandbox() as sb:`."""

    name = "local"

    def __init__(
        self,
        *,
        workdir: str | os.PathLike | None = None,
        memory_mb: int = 4096,
        network: bool = True,
        timeout: float = 60.0,
        env: dict[str, str] | None = None,
        fsize_mb: int = 1024,
        nofile: int = 1024,
        max_output_chars: int = 1_000_000,
        max_images: int = 50,
        max_results: int = 200,
        grace: float = 2.0,
        start_timeout: float = 30.0,
        confine: bool = False,
        bwrap: str | None = None,
    ):
        self.requested_workdir = Path(workdir) if workdir else None
        self.memory_mb = memory_mb
        self.network = network
        self.timeout = timeout
        self.env = dict(env or {})  # explicit extra variables for the kernel
        self.fsize_mb = fsize_mb
        self.nofile = nofile
        self.max_output_chars = max_output_chars
        self.max_images = max_images
        self.max_results = max_results
        self.grace = grace
        self.start_timeout = start_timeout
        self.confine = confine
        self.bwrap = bwrap  # the bubblewrap executable for confine (default: bwrap on PATH)
        self.confined = False  # whether the running kernel is confined
        self.workdir: Path | None = None
        self.status: dict = {}  # what the launcher applied (limits, network)
        self.warnings: list[str] = []  # limits that could not be enforced, for headers and traces
        self._km: AsyncKernelManager | None = None
        self._kc = None
        self._relay: relay.Relay | None = None  # every message from the kernel passes through it
        self._relay_died = ""  # why the kernel was stopped: its relay was gone
        self._context: zmq.asyncio.Context | None = None
        self._runtime: str | None = None
        self._started_at: float | None = None
        self._log: KernelLog | None = None
        self._own_workdir = False
        self._lock = asyncio.Lock()

    @classmethod
    def from_config(cls, config: Any, **overrides: Any) -> "LocalSandbox":
        """Build from a RunConfig (exec_timeout, network, memory_mb, workdir, confine)."""
        options = dict(timeout=config.exec_timeout, network=config.network,
                       memory_mb=config.memory_mb, workdir=config.workdir,
                       confine=getattr(config, "confine", False))
        options.update(overrides)
        return cls(**options)

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        if self._km is not None:
            return
        kernels = find_kernel_dir()
        launcher = load_launcher(kernels)
        bubblewrap = None
        if self.confine:  # asked for confinement: fail closed, never run a plain kernel instead
            bubblewrap = await asyncio.to_thread(probe_bubblewrap, self.bwrap or find_bwrap())
            problem = bubblewrap.problem
            if not problem and not (kernels / CONFINED_KERNEL_NAME / "kernel.json").is_file():
                problem = f"the {CONFINED_KERNEL_NAME} kernelspec is missing from {kernels}"
            if problem:
                raise SandboxError(
                    f"confinement was asked for but is not available: {problem}. Install the Debian "
                    "package bubblewrap (and let it create namespaces), or drop --confine (confine=False)")
        if self._started_at is None:  # a setuid link made since then is the sandbox's (see _clean_up)
            self._started_at = time.time()
        self._runtime = tempfile.mkdtemp(prefix="nbreason-")  # connection file, ipc sockets, log
        # The kernel's sockets get a folder of their own: the only part a confined kernel may
        # write. The relay listens in another, for us.
        os.mkdir(os.path.join(self._runtime, "ipc"), 0o700)
        os.mkdir(os.path.join(self._runtime, "owner"), 0o700)
        self._kernel_ipc = os.path.join(self._runtime, "ipc", "k")  # where the kernel binds; relay.py connects
        self._log = KernelLog(self._runtime)
        if self.requested_workdir:
            self.workdir = self.requested_workdir.resolve()
            self.workdir.mkdir(parents=True, exist_ok=True)
        else:
            self.workdir = Path(tempfile.mkdtemp(prefix="nbreason-work-")).resolve()
            self._own_workdir = True

        settings = {
            "NBREASON_SANDBOX_WORKDIR": str(self.workdir),
            "NBREASON_SANDBOX_MEMORY_MB": str(self.memory_mb or 0),
            "NBREASON_SANDBOX_FSIZE_MB": str(self.fsize_mb or 0),
            "NBREASON_SANDBOX_NOFILE": str(self.nofile),
            "NBREASON_SANDBOX_NETWORK": "1" if self.network else "0",
            "NBREASON_SANDBOX_EXTRA_ENV": ",".join(self.env),
        }
        kernel_name = KERNEL_NAME
        if bubblewrap is not None:
            kernel_name = CONFINED_KERNEL_NAME
            settings.update(NBREASON_SANDBOX_CONFINE="1", NBREASON_SANDBOX_PIDS=str(PIDS_MAX),
                            NBREASON_SANDBOX_HOME=os.path.expanduser("~"),
                            NBREASON_SANDBOX_BWRAP=bubblewrap.path,
                            NBREASON_SANDBOX_DISABLE_USERNS="1" if bubblewrap.disable_userns else "0",
                            NBREASON_SANDBOX_TMP_MB="" if bubblewrap.tmpfs_size else "0")
        settings["NBREASON_SANDBOX_KERNEL_IPC"] = self._kernel_ipc
        # start_kernel(env=) replaces the environment; the launcher filters it once more.
        env = launcher.sandbox_env({**os.environ, **self.env, **settings}, tuple(self.env))

        # Our sockets queue few messages: with the relay's size limit, a bounded amount.
        self._context = zmq.asyncio.Context()
        self._context.setsockopt(zmq.RCVHWM, relay.QUEUE)
        km = AsyncKernelManager(
            kernel_name=kernel_name,
            kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels)]),
            transport="ipc",  # unix sockets: faster, and they work across a network namespace
            ip=os.path.join(self._runtime, "owner", "k"),  # the relay's; the kernel's are in ipc/
            connection_file=os.path.join(self._runtime, "connection.json"),
            context=self._context,
        )
        km.shutdown_wait_time = 1.0
        self._km = km
        _live.add(self)
        try:
            # Never our stdin, stdout or stderr (a terminal, `>> results.jsonl`): /dev/null and a
            # private log. jupyter-client already starts the kernel in its own session.
            await km.start_kernel(env=env, stdin=subprocess.DEVNULL, stdout=self._log.writer,
                                  stderr=self._log.writer)
            await self._start_relay()
            self._kc = km.client(context=self._context)
            self._kc.start_channels()
            await self._ready()
        except Exception as exc:
            await self.close()
            raise SandboxError(f"the local kernel did not start: {exc}") from exc

    async def _start_relay(self) -> None:
        """The relay between our sockets and the kernel's (nbreason/sandboxes/relay.py), listening
        when this returns."""
        self._stop_relay()
        km = self._km
        ports = {channel: getattr(km, f"{channel}_port") for channel in ("shell", "iopub", "stdin", "control", "hb")}
        try:
            self._relay = await relay.Relay.start(km.ip, self._kernel_ipc, ports, km.session.key.decode(),
                                                  km.session.signature_scheme, self._log.writer, self.start_timeout)
        except RuntimeError as exc:
            said = self._log.last_line() if self._log else ""
            raise SandboxError(f"the kernel's message relay did not start ({said or exc})") from None
        self._relay_died = ""

    def _stop_relay(self) -> None:
        running, self._relay = self._relay, None
        if running is not None:
            running.stop()

    async def alive(self) -> bool:
        """Whether the kernel runs and its messages reach us. A relay that is gone (it dies at its
        memory limit: the kernel sent more than it may) stops the kernel: it is restarted as a
        kernel that died."""
        if self._km is None or not await self._km.is_alive():
            return False  # a kernel that died ends its relay too: the kernel's exit is the reason
        code = self._relay.ended() if self._relay is not None else None
        if code is not None and not self._relay_died:
            self._relay_died = "the relay of its messages stopped: " + (
                "its connection broke: the kernel sent more than it takes in at once" if code == relay.BROKEN
                else _signal_text(code))
            log.warning("local sandbox: %s", self._relay_died)
            process = getattr(self._km.provisioner, "process", None)
            if process is not None and process.poll() is None:
                with contextlib.suppress(OSError, subprocess.TimeoutExpired):
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(timeout=5)
            return False
        return not self._relay_died

    async def _ready(self) -> None:
        """Wait for the kernel, then configure it and read what the launcher applied. A kernel
        without the confinement or the network cut it was asked for is shut down (fail closed)."""
        await self._wait_for_kernel_info()
        msg_id = self._kc.execute(
            SETUP_CODE, silent=True, store_history=False, allow_stdin=False,
            user_expressions={"status": "__import__('os').environ.get('NBREASON_SANDBOX_STATUS')",
                              "privileges": PRIVILEGES})
        reply = await self._shell_reply(msg_id, self.start_timeout)
        self.status = _expression(reply, "status")
        self.status["kernel_privileges"] = privileges = _expression(reply, "privileges")
        self.warnings = []
        self.confined = bool(self.status.get("confined"))
        problem = applied.refusal(self.status, privileges, confine=self.confine, network=self.network)
        if problem:
            await self.close()
            raise SandboxError(problem)
        self.warnings = applied.warnings(self.status, privileges)
        for warning in self.warnings:
            log.warning("local sandbox: %s", warning)

    async def _wait_for_kernel_info(self) -> None:
        """Like jupyter-client's wait_for_ready, without its fixed 0.2 s iopub flush (a fifth
        of the start time): stale iopub messages are harmless because we filter by msg_id."""
        deadline = time.monotonic() + self.start_timeout
        while True:
            msg_id = self._kc.kernel_info()
            try:
                await self._shell_reply(msg_id, min(1.0, max(0.0, deadline - time.monotonic())))
            except SandboxError:
                if not await self.alive():
                    why, said = self._exit_reason(), self._log.last_line() if self._log else ""
                    raise SandboxError(f"the kernel exited while starting ({why}{': ' + said if said else ''})") from None
                if time.monotonic() > deadline:
                    raise SandboxError(f"the kernel did not answer in {self.start_timeout:g} s") from None
                continue
            if await self._iopub_answers(msg_id, 0.5):
                return

    async def _iopub_answers(self, msg_id: str, timeout: float) -> bool:
        """Whether iopub delivers a message of request `msg_id` (its busy/idle) within `timeout`:
        only then is the channel connected to this kernel. After a restart the old kernel's last
        messages are still queued, and taking one of them for the new kernel's lost the first
        output printed after the restart."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                msg = await self._kc.get_iopub_msg(timeout=left)
            except queue.Empty:
                return False
            except UNDECODABLE:  # a dead kernel's leftover, signed with another key
                continue
            if msg.get("parent_header", {}).get("msg_id") == msg_id:
                return True
        return False

    async def _shell_reply(self, msg_id: str, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise SandboxError("the kernel did not reply")
            try:
                msg = await self._kc.get_shell_msg(timeout=min(left, POLL_SECONDS))
            except queue.Empty:
                if not await self.alive():
                    raise SandboxError("the kernel died while starting") from None
                continue
            except UNDECODABLE:
                continue
            if _parent_id(msg) == msg_id and isinstance(msg.get("content"), dict):
                return msg

    async def _await_reply(self, msg_id: str) -> dict:
        """The execute_reply to `msg_id` on the shell channel, however long it takes (cancel it)."""
        while True:
            try:
                msg = await self._kc.get_shell_msg(timeout=POLL_SECONDS)
            except (queue.Empty, *UNDECODABLE):
                continue
            if _parent_id(msg) == msg_id:
                return msg

    async def restart(self) -> None:
        """A fresh kernel in the same working folder (files stay, variables are lost)."""
        if self._km is None:
            return await self.start()
        cgroup = self.status.get("pids_cgroup")
        # jupyter-client reuses an existing connection file, which a plain kernel can rewrite:
        # written again from our own values instead.
        self._km.cleanup_connection_file()
        self._stop_relay()  # it would end when the kernel's connections drop
        await self._km.restart_kernel(now=True)
        await self._start_relay()
        _remove_cgroup(cgroup)
        if self._log is not None:
            self._log.trim(force=True)
        await self._ready()

    async def interrupt(self) -> None:
        if self._km is not None:
            await self._km.interrupt_kernel()

    async def close(self) -> None:
        km, kc, self._km, self._kc = self._km, self._kc, None, None
        _live.discard(self)
        try:
            if kc is not None:
                kc.stop_channels()
            if km is not None and km.has_kernel:
                await km.shutdown_kernel(now=True)
        finally:
            self._stop_relay()
            if self._context is not None:
                self._context.destroy(linger=0)
                self._context = None
            if self._log is not None:
                self._log.close()
                self._log = None
            # In a thread (a working folder of 200,000 files held the notebook's loop for 1.5 s), and
            # shielded: close() runs under a timeout, and a cut-short clean-up left folders behind
            runtime, self._runtime = self._runtime, None
            await asyncio.shield(asyncio.to_thread(self._clean_up, runtime))

    def _clean_up(self, runtime: str | None) -> None:
        """The runtime folder, an own working folder (a kept one: the setuid links code made in it)
        and the pids cgroup."""
        _remove_cgroup(self.status.get("pids_cgroup"))
        if runtime:
            _remove_tree(runtime)
        if self._own_workdir and self.workdir:
            _remove_tree(self.workdir)
        elif self.workdir and os.path.isdir(self.workdir):
            for path in _remove_setid_files(self.workdir, since=self._started_at):
                log.warning("local sandbox: removed %s from the kept working folder: a setuid or setgid "
                            "program linked there while the sandbox ran", path)

    def _kill_now(self) -> None:
        """Synchronous last resort at interpreter exit."""
        km = self._km
        process = getattr(getattr(km, "provisioner", None), "process", None)
        if process is not None and process.poll() is None:
            try:  # the kernel leads its own session: take its subprocesses too
                os.killpg(process.pid, signal.SIGKILL)
            except OSError:
                process.kill()
        if self._relay is not None:
            self._relay.stop()
        if self._runtime:
            _remove_tree(self._runtime)
        if self._own_workdir and self.workdir:
            _remove_tree(self.workdir)

    async def __aenter__(self) -> "LocalSandbox":
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    @property
    def pid(self) -> int | None:
        process = getattr(getattr(self._km, "provisioner", None), "process", None)
        return process.pid if process is not None else None

    # --- files -------------------------------------------------------------------------------

    async def upload(self, name: str, data: bytes) -> str:
        if self.workdir is None:
            await self.start()
        # The kernel may have planted links in its folder: written without following any.
        return str(await asyncio.to_thread(write_inside, self.workdir, name, data))

    async def download(self, name: str, *, limit: int) -> bytes:
        """The bytes of `name` in the working folder, at most `limit` (ValueError past it).

        The sandbox writes these files: each part of the path is opened without following a
        symbolic link, so a link it planted cannot make us read a file outside its folder."""
        if self.workdir is None:
            raise ValueError("the sandbox has not started")
        return await asyncio.to_thread(_read_inside, self.workdir, name, limit)

    # --- running code ------------------------------------------------------------------------

    async def run_code(
        self,
        code: str,
        *,
        timeout: float | None = None,
        on_stdout: OutputHandler | None = None,
        on_stderr: OutputHandler | None = None,
        on_result: ResultHandler | None = None,
    ) -> Execution:
        async with self._lock:  # one execution at a time; their messages would interleave
            if self._km is None:
                await self.start()
            notes: list[str] = []
            if not await self.alive():
                why = self._exit_reason()
                await self.restart()
                notes.append(f"[the kernel had died ({why}); it was restarted and earlier variables are lost]\n")
            try:
                return await collect(self, code, timeout or self.timeout, on_stdout, on_stderr, on_result, notes)
            except asyncio.CancelledError:
                # The caller gave up (Stop button, Ctrl-C): stop the code too, or the next call
                # would queue behind it.
                if self._km is not None:
                    await asyncio.shield(self.interrupt())
                raise

    def _exit_reason(self) -> str:
        if self._relay_died:
            return self._relay_died
        process = getattr(getattr(self._km, "provisioner", None), "process", None)
        code = process.poll() if process is not None else None
        return "no exit status" if code is None else _signal_text(code)


def _signal_text(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"

