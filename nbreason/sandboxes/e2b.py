"""E2BSandbox: the code runs in an E2B cloud micro-VM (a code-interpreter sandbox).

The VM is created on first use, reused for every step of a run and killed by `close()`.
If nobody closes it, three things stop the bill: a finalizer kills it when the object is
collected or the interpreter exits, and E2B itself kills it `lifetime` seconds after its
last use (the sandbox timeout, pushed forward as steps run).

E2B returns e2b-code-interpreter's own types, built from what the code in the VM printed and
displayed: they pass through `ingest` (as the local kernel's messages do), so text is text,
images are valid base64 and no lone surrogate gets further. What differs from the local kernel
is smoothed over here or in a few lines of setup code run in the VM's kernel, so results
compare equal across sandboxes: string results keep their quotes, tracebacks are one
string joined with newlines and without colour codes, a timeout is an `ExecutionError`
named `TimeoutError`, a kernel crash one named `KernelDied`.

Nothing from this machine's environment reaches the VM: it gets only the variables the
caller names in `envs`. The E2B key comes from `api_key` or E2B_API_KEY, never from the
model's key.
"""

from __future__ import annotations

import asyncio
import errno
import os
import posixpath
import time
import weakref
from typing import Any

import httpx
from e2b import (
    AuthenticationException,
    FileNotFoundException,
    RateLimitException,
    SandboxException,
    SandboxNotFoundException,
    SandboxNotRunningException,
    ServiceBusyException,
    TimeoutException,
)
from e2b_code_interpreter import AsyncSandbox

from .base import Execution, ExecutionError, OutputHandler, ResultHandler, SandboxError
from .ingest import KERNEL_SETUP, clean_execution, clean_lines, clean_result
from .e2b_errors import E2BAuthError, E2BConnectionLost, E2BRateLimited, E2BSandboxLost, E2BStartTimeout
from .results import strip_ansi

KEYS_URL = "https://e2b.dev/dashboard?tab=keys"

# Run once in every fresh kernel of the VM (after start, restart and crashes).
SETUP_CODE = r'''%colors nocolor
def _nbreason_setup():
    ip = get_ipython()
    # E2B's server strips one pair of single quotes from text/plain ('abc' -> abc);
    # add a pair so callers see the repr the local kernel shows.
    plain = ip.display_formatter.formatters["text/plain"]
    class QuotedPlainText(type(plain)):
        def __call__(self, obj):
            text = super().__call__(obj)
            if isinstance(text, str) and len(text) >= 2 and text[0] == text[-1] == "'":
                text = "'" + text + "'"
            return text
    plain.__class__ = QuotedPlainText
    # E2B joins traceback parts with "", Jupyter frontends with "\n".
    show = ip._showtraceback
    def showtraceback(etype, evalue, stb):
        return show(etype, evalue, [part + "\n" for part in stb[:-1]] + stb[-1:])
    ip._showtraceback = showtraceback
_nbreason_setup()
del _nbreason_setup
''' + KERNEL_SETUP


def _kill_quietly(sandbox_id: str, api_key: str, connection: dict) -> None:
    """Kill a VM with the synchronous client: runs from a finalizer, maybe at interpreter
    exit when no event loop is left. Best effort; the VM's lifetime is the backstop."""
    try:
        from e2b import Sandbox

        Sandbox.kill(sandbox_id, api_key=api_key, **{**connection, "request_timeout": 10})
    except Exception:
        pass


class E2BSandbox:
    """A stateful Python kernel in an E2B VM. Use `async with E2BSandbox() as sb:`."""

    name = "e2b"

    def __init__(
        self,
        *,
        api_key: str | None = None,
        timeout: float = 60.0,
        lifetime: float = 900.0,
        network: bool = True,
        envs: dict[str, str] | None = None,
        template: str | None = None,
        start_timeout: float = 60.0,
        grace: float = 3.0,
        connection: dict[str, Any] | None = None,
    ):
        self.api_key = api_key
        self.timeout = timeout  # default seconds per execution
        self.lifetime = lifetime  # seconds the VM outlives its last use
        self.network = network
        self.envs = dict(envs or {})  # the only variables the VM gets
        self.template = template  # None: E2B's code-interpreter template
        self.start_timeout = start_timeout
        self.grace = grace  # how long an interrupted execution may take to stop
        # Extra AsyncSandbox.create options (domain, api_url, sandbox_url, request_timeout):
        # for self-hosted E2B, and for tests against a local stand-in.
        self.connection = dict(connection or {})
        self._sandbox: AsyncSandbox | None = None
        self._context = None
        self._finalizer: weakref.finalize | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()  # one execution at a time
        self._start_lock = asyncio.Lock()
        self._request: asyncio.Task | None = None
        self._interrupted = False

    @classmethod
    def from_config(cls, config: Any, **overrides: Any) -> "E2BSandbox":
        """Build from a RunConfig (exec_timeout, network). `config.api_key` is the model's
        key and is deliberately not used."""
        options = dict(timeout=config.exec_timeout, network=config.network)
        options.update(overrides)
        return cls(**options)

    @property
    def sandbox_id(self) -> str | None:
        return self._sandbox.sandbox_id if self._sandbox else None

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        async with self._start_lock:
            if self._sandbox is None:
                await self._create()

    async def _create(self) -> None:
        key = self.api_key or os.environ.get("E2B_API_KEY")
        if not key:
            raise E2BAuthError(
                f"E2B_API_KEY is not set: create a key at {KEYS_URL} and export it, "
                "or use the local sandbox (--sandbox local)")
        try:
            async with asyncio.timeout(self.start_timeout):
                sandbox = await AsyncSandbox.create(
                    template=self.template, timeout=int(self.lifetime), envs=dict(self.envs),
                    allow_internet_access=self.network, api_key=key,
                    **{"request_timeout": self.start_timeout, **self.connection})
        except (TimeoutError, TimeoutException, httpx.TimeoutException) as exc:
            raise E2BStartTimeout(
                f"E2B did not start a sandbox within {self.start_timeout:g} s; "
                "try again, or raise start_timeout") from exc
        except AuthenticationException as exc:
            raise E2BAuthError(
                f"E2B rejected the API key (401): check E2B_API_KEY against {KEYS_URL}") from exc
        except RateLimitException as exc:
            raise E2BRateLimited(
                "E2B refused to start another sandbox (429): too many requests or all "
                "concurrent sandboxes of your plan are in use; close other sandboxes or "
                "wait a little") from exc
        except (SandboxException, ServiceBusyException, httpx.HTTPError) as exc:
            raise SandboxError(f"could not start an E2B sandbox: {exc}") from exc

        self._sandbox = sandbox
        self._expires_at = time.monotonic() + self.lifetime
        self._finalizer = weakref.finalize(
            self, _kill_quietly, sandbox.sandbox_id, key, dict(self.connection))
        try:
            self._context = await sandbox.create_code_context()
            await self._setup()
        except BaseException:
            await self._discard()
            raise

    async def _setup(self) -> None:
        execution = await self._sandbox.run_code(
            SETUP_CODE, context=self._context, timeout=self.start_timeout)
        if execution.error:
            raise SandboxError(f"could not prepare the E2B kernel: {execution.error.name}: "
                               f"{execution.error.value}")

    async def restart(self) -> None:
        """A fresh kernel in the same VM (files stay, variables are lost)."""
        if self._sandbox is None:
            return await self.start()
        try:
            await self._sandbox.restart_code_context(self._context)
            await self._setup()
        except Exception as exc:
            raise await self._translate(exc) from exc

    async def interrupt(self) -> None:
        """E2B has no interrupt call: drop the request; the server interrupts the kernel
        when its client goes away."""
        if self._request is not None and not self._request.done():
            self._interrupted = True
            self._request.cancel()

    async def close(self) -> None:
        await self.interrupt()
        await self._discard()

    async def _discard(self) -> None:
        sandbox, self._sandbox, self._context = self._sandbox, None, None
        finalizer, self._finalizer = self._finalizer, None
        if sandbox is None:
            return
        try:
            await sandbox.kill()
        except Exception:
            return  # keep the finalizer: it tries again at exit
        if finalizer is not None:
            finalizer.detach()

    async def __aenter__(self) -> "E2BSandbox":
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    # --- files -------------------------------------------------------------------------------

    async def upload(self, name: str, data: bytes) -> str:
        await self.start()
        base = self._context.cwd.rstrip("/")
        target = posixpath.normpath(posixpath.join(base, name))
        if not target.startswith(base + "/"):
            raise ValueError(f"{name!r} is outside the sandbox's working folder")
        try:
            info = await self._sandbox.files.write(target, data)
        except Exception as exc:
            raise await self._translate(exc) from exc
        return info.path

    async def download(self, name: str, *, limit: int) -> bytes:
        await self.start()
        base = self._context.cwd.rstrip("/")
        target = posixpath.normpath(posixpath.join(base, name))
        if not target.startswith(base + "/"):
            raise ValueError(f"{name!r} is outside the sandbox's working folder")
        try:
            info = await self._sandbox.files.get_info(target)
            if (info.size or 0) > limit:
                raise ValueError(f"{name} is {info.size:,} bytes, over the limit of {limit:,}")
            # Streamed, and stopped past the limit: the file may grow, or be swapped for a link to
            # /dev/zero, after the size was read; it must not fill the notebook's memory.
            stream = await self._sandbox.files.read(target, format="stream")
            chunks, size = [], 0
            try:
                async for chunk in stream:
                    size += len(chunk)
                    if size > limit:
                        raise ValueError(f"{name} grew past the limit of {limit:,} bytes while it was read")
                    chunks.append(chunk)
            finally:
                await stream.aclose()
        except ValueError:
            raise
        except FileNotFoundException as exc:  # a missing file, said as the local sandbox says it
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", name) from exc
        except Exception as exc:
            raise await self._translate(exc) from exc
        return b"".join(chunks)

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
        async with self._lock:
            await self.start()
            timeout = timeout or self.timeout
            try:
                await self._keep_alive(timeout)
            except Exception as exc:
                raise await self._translate(exc) from exc
            return await self._execute(code, timeout, on_stdout, on_stderr, on_result)

    async def _execute(self, code, timeout, on_stdout, on_stderr, on_result) -> Execution:
        # What arrived so far, kept by our own handlers: a timeout or an interrupt
        # cancels the request and the SDK's Execution with it.
        seen = Execution()

        # Cleaned as they arrive, so handlers and a cut-short execution get clean data too;
        # what is dropped leaves a note, as on the final execution.
        def stream(message, name: str, handler) -> None:
            lines, notes = clean_lines([message.line], name)
            getattr(seen.logs, name).extend(lines)
            seen.logs.stderr.extend(notes)
            if handler and lines:
                handler(lines[0])

        def result(value) -> None:
            value, notes = clean_result(value)
            seen.logs.stderr.extend(notes)
            if value is None:
                return
            seen.results.append(value)
            if on_result:
                on_result(value)

        self._interrupted = False
        # The SDK's own deadline is a backstop; ours fires first and is handled below.
        self._request = asyncio.ensure_future(self._sandbox.run_code(
            code, context=self._context, on_stdout=lambda m: stream(m, "stdout", on_stdout),
            on_stderr=lambda m: stream(m, "stderr", on_stderr), on_result=result,
            timeout=timeout + self.grace))
        try:
            async with asyncio.timeout(timeout):
                execution = clean_execution(await self._request)
        except TimeoutError:
            return await self._after_timeout(seen, timeout)
        except asyncio.CancelledError:
            if self._interrupted and not asyncio.current_task().cancelling():
                seen.error = ExecutionError("KeyboardInterrupt", "", "KeyboardInterrupt")
                return seen
            raise
        except Exception as exc:
            raise await self._translate(exc) from exc
        finally:
            self._request = None
        return await self._smooth(execution)

    async def _smooth(self, execution: Execution) -> Execution:
        error = execution.error
        if error is None:
            return execution
        if error.name == "ContextRestarting":  # the server restarted a crashed kernel
            await self._setup()
            execution.error = ExecutionError(
                "KernelDied", "the kernel died while running this code; it was restarted "
                "and all variables are lost", "")
        else:
            error.traceback = strip_ansi(error.traceback or "")
        return execution

    async def _after_timeout(self, seen: Execution, timeout: float) -> Execution:
        """Leaving the request made the server interrupt the code. If the kernel does not
        answer within the grace period, the code ignores interrupts: restart it."""
        try:
            async with asyncio.timeout(self.grace):
                await self._sandbox.run_code("None", context=self._context, timeout=self.grace + 5)
            value = f"execution exceeded {timeout:g} s and was interrupted; variables are kept"
        except (TimeoutError, TimeoutException):
            await self.restart()
            value = (f"execution exceeded {timeout:g} s and did not stop when interrupted; "
                     "the kernel was restarted and all variables are lost")
        except Exception as exc:
            raise await self._translate(exc) from exc
        seen.error = ExecutionError("TimeoutError", value, "")
        return seen

    async def _keep_alive(self, timeout: float) -> None:
        """Push E2B's kill time forward so it stays `lifetime` past the latest use, with
        room for this execution. Calls E2B at most once per half lifetime."""
        now = time.monotonic()
        needed = timeout + self.grace + 60
        if self._expires_at - now < max(needed, self.lifetime / 2):
            seconds = int(max(self.lifetime, needed))
            await self._sandbox.set_timeout(seconds)
            self._expires_at = now + seconds

    async def _translate(self, exc: Exception) -> Exception:
        """An SDK or transport error as a SandboxError that says what happened."""
        text = str(exc)
        # The SDK reports a vanished VM as these, or as a TimeoutException whose message
        # (from a 502 of E2B's proxy, or a failed health check) says so.
        if isinstance(exc, (SandboxNotFoundException, SandboxNotRunningException)) or (
                isinstance(exc, TimeoutException) and ("killed" in text or "sandbox timeout" in text)):
            await self._discard()
            return E2BSandboxLost(
                "the E2B sandbox stopped (killed, or idle longer than its lifetime of "
                f"{self.lifetime:g} s); a new one starts on the next call, variables and "
                "files are lost")
        if isinstance(exc, AuthenticationException):
            return E2BAuthError(f"E2B rejected the request (401): {text}")
        if isinstance(exc, RateLimitException):
            return E2BRateLimited(f"E2B is rate limiting requests (429): {text}")
        if isinstance(exc, (httpx.TransportError, TimeoutException)):
            return E2BConnectionLost(
                "the connection to the E2B sandbox dropped during the request; the code was "
                "probably interrupted, variables are kept")
        if isinstance(exc, SandboxError):
            return exc
        return SandboxError(f"E2B sandbox error: {text}")
