"""A local stand-in for E2B: its control plane, envd and code-interpreter server in one.

The real `e2b` SDK talks to it unchanged (`api_url=` and `sandbox_url=` both point
here), and code runs in a real local Jupyter kernel, so tests exercise the SDK's own
request, streaming and error handling. It mirrors what the code-interpreter server
does that callers can see: NDJSON lines on `POST /execute`, quotes stripped from
string results, tracebacks joined into one string, an interrupt when the client goes
away, `ContextRestarting` when a kernel dies. Faults are switched on by attributes.

It runs on its own event loop in a background thread, so one server outlives the
per-test event loops of pytest-asyncio.
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import shutil
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field

import tornado.iostream
import tornado.netutil
import tornado.web
from tornado.httpserver import HTTPServer
from jupyter_client.manager import AsyncKernelManager

# MIME type -> the field name the code-interpreter server uses in its result lines.
RESULT_FIELDS = {
    "text/plain": "text", "text/html": "html", "text/markdown": "markdown",
    "image/svg+xml": "svg", "image/png": "png", "image/jpeg": "jpeg",
    "application/pdf": "pdf", "text/latex": "latex", "application/json": "json",
    "application/javascript": "javascript", "e2b/data": "data", "e2b/chart": "chart",
}


@dataclass
class Faults:
    """What to break. Each applies to every request until reset."""

    reject_key: bool = False  # 401 on create
    rate_limited: bool = False  # 429 on create
    create_delay: float = 0.0  # seconds before answering create
    execute_delay: float = 0.0  # seconds before /execute answers at all
    drop_after_lines: int | None = None  # close the /execute connection after n lines
    die_after_lines: int | None = None  # the whole sandbox dies after n lines
    endless_download: bool = False  # a file download streams zeros without end (a link to /dev/zero)
    trickle_download: float = 0.0  # seconds between the bytes of a download, sent one at a time


class _Anything:
    """Stands in for IPython in a kernel-less context: accepts whatever the sandbox's setup code
    does to `get_ipython()`."""

    def __getattr__(self, name):
        return _Anything()

    def __getitem__(self, key):
        return _Anything()

    def __call__(self, *args, **kwargs):
        return _Anything()


class InlineRunner:
    """A kernel-less context for measuring what surrounds the sandbox (many sandboxes at once, no
    kernel per sandbox): code runs with `exec` in one namespace; `%` lines are skipped; stdout is
    captured. Not an isolation boundary and not a Jupyter kernel: benchmarks only."""

    def __init__(self) -> None:
        self.namespace: dict = {"get_ipython": _Anything}

    def run(self, code: str) -> list[dict]:
        import contextlib
        import io
        import traceback

        out = io.StringIO()
        source = "\n".join(line for line in code.splitlines() if not line.lstrip().startswith("%"))
        try:
            with contextlib.redirect_stdout(out):
                exec(compile(source, "<cell>", "exec"), self.namespace)
        except Exception as exc:
            lines = [{"type": "stdout", "text": out.getvalue(), "timestamp": time.time_ns()}] if out.getvalue() else []
            return lines + [{"type": "error", "name": type(exc).__name__, "value": str(exc),
                             "traceback": traceback.format_exc()}, {"type": "end_of_execution"}]
        lines = [{"type": "stdout", "text": out.getvalue(), "timestamp": time.time_ns()}] if out.getvalue() else []
        return lines + [{"type": "end_of_execution"}]


class Context:
    """One code context: a real ipykernel (or, for benchmarks, an `InlineRunner`), its working
    folder and a lock (one run at a time)."""

    def __init__(self, cwd: str, env: dict, kernel: bool = True):
        self.id = uuid.uuid4().hex
        self.cwd = cwd
        self.env = env
        self.lock = asyncio.Lock()
        self.km: AsyncKernelManager | None = None
        self.kc = None
        self.inline = None if kernel else InlineRunner()

    async def start(self) -> None:
        if self.inline is not None:
            return
        self.km = AsyncKernelManager(kernel_name="python3")
        await self.km.start_kernel(cwd=self.cwd, env=self.env)
        await self._connect()

    async def _connect(self) -> None:
        self.kc = self.km.client()
        self.kc.start_channels()
        await self.kc.wait_for_ready(timeout=60)

    async def restart(self) -> None:
        if self.inline is not None:
            self.inline = InlineRunner()
            return
        self.kc.stop_channels()
        await self.km.restart_kernel(now=True)
        await self._connect()

    async def stop(self) -> None:
        if self.kc is not None:
            self.kc.stop_channels()
        if self.km is not None and self.km.has_kernel:
            await self.km.shutdown_kernel(now=True)

    def json(self) -> dict:
        return {"id": self.id, "language": "python", "cwd": self.cwd}


@dataclass
class VM:
    """One fake sandbox: a folder standing in for its disk, and its code contexts."""

    id: str
    root: str
    env: dict
    contexts: dict[str, Context] = field(default_factory=dict)
    default: Context | None = None
    dead: bool = False
    kernels: bool = True  # False: contexts run code inline (benchmarks of what surrounds the sandbox)
    expiry: asyncio.TimerHandle | None = None

    @property
    def home(self) -> str:
        return os.path.join(self.root, "home", "user")

    async def new_context(self, cwd: str | None = None) -> Context:
        ctx = Context(cwd or self.home, self.env, kernel=self.kernels)
        await ctx.start()
        self.contexts[ctx.id] = ctx
        return ctx

    async def die(self) -> None:
        self.dead = True
        if self.expiry:
            self.expiry.cancel()
        for ctx in list(self.contexts.values()):
            await ctx.stop()
        self.contexts.clear()
        shutil.rmtree(self.root, ignore_errors=True)


def kernel_env(envs: dict) -> dict:
    """Only what a fresh VM would have, plus the variables the caller asked for."""
    base = {k: os.environ[k] for k in ("PATH", "LANG", "LC_ALL", "PYTHONPATH") if k in os.environ}
    return {**base, "HOME": "/tmp", **envs}


def result_line(msg_type: str, data: dict) -> dict:
    line: dict = {"type": "result", "is_main_result": msg_type == "execute_result"}
    extra = {}
    for mime, value in data.items():
        name = RESULT_FIELDS.get(mime)
        if name is None:
            extra[mime] = value
        else:
            line[name] = value
    text = line.get("text")
    if isinstance(text, str) and len(text) >= 2 and text.startswith("'") and text.endswith("'"):
        line["text"] = text[1:-1]  # what the real server does to string results
    if extra:
        line["extra"] = extra
    return line


class FakeE2B:
    """Start with `start()`, point the SDK at `url`, stop with `stop()`."""

    def __init__(self, api_key: str = "e2b_test_key", *, kernels: bool = True):
        self.api_key = api_key
        self.kernels = kernels
        self.faults = Faults()
        self.vms: dict[str, VM] = {}
        self.created: list[dict] = []  # request bodies of create calls
        self.killed: list[str] = []  # sandbox ids killed through the API
        self.timeouts: list[tuple[str, int]] = []  # set_timeout calls
        self.create_attempts = 0
        self.url = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._tmp = tempfile.mkdtemp(prefix="fake-e2b-")

    # -- lifecycle, called from the test thread --

    def start(self) -> "FakeE2B":
        ready = threading.Event()

        def serve() -> None:
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
            sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
            server = HTTPServer(self._app())
            server.add_sockets(sockets)
            self.url = f"http://127.0.0.1:{sockets[0].getsockname()[1]}"
            ready.set()
            self._loop.run_forever()
            server.stop()
            self._loop.close()

        self._thread = threading.Thread(target=serve, name="fake-e2b", daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        self.call(self._kill_all())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        shutil.rmtree(self._tmp, ignore_errors=True)

    def call(self, coro, timeout: float = 60):
        """Run a coroutine on the server's loop and wait for it."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def options(self) -> dict:
        """Keyword arguments for `AsyncSandbox.create` that lead the SDK here."""
        return {"api_url": self.url, "sandbox_url": self.url}

    def reset(self) -> None:
        self.faults = Faults()

    def alive(self, sandbox_id: str) -> bool:
        vm = self.vms.get(sandbox_id)
        return vm is not None and not vm.dead

    def kill(self, sandbox_id: str) -> None:
        """The sandbox dies from outside (E2B reaped it, the host failed)."""
        self.call(self.vms[sandbox_id].die())

    async def _kill_all(self) -> None:
        for vm in self.vms.values():
            if not vm.dead:
                await vm.die()

    # -- HTTP --

    def _app(self) -> tornado.web.Application:
        kw = {"fake": self}
        return tornado.web.Application([
            (r"/v2/sandboxes", CreateHandler, kw),
            (r"/sandboxes/([^/]+)", KillHandler, kw),
            (r"/sandboxes/([^/]+)/timeout", TimeoutHandler, kw),
            (r"/health", HealthHandler, kw),
            (r"/files", FilesHandler, kw),
            (r"/filesystem.Filesystem/Stat", StatHandler, kw),
            (r"/contexts", ContextsHandler, kw),
            (r"/contexts/([^/]+)", ContextHandler, kw),
            (r"/contexts/([^/]+)/restart", RestartHandler, kw),
            (r"/execute", ExecuteHandler, kw),
        ])

    def _expire_later(self, vm: VM, seconds: float) -> None:
        if vm.expiry:
            vm.expiry.cancel()
        vm.expiry = self._loop.call_later(seconds, lambda: asyncio.ensure_future(vm.die()))


class Handler(tornado.web.RequestHandler):
    def initialize(self, fake: FakeE2B) -> None:
        self.fake = fake

    def check_xsrf_cookie(self) -> None:  # an API, not a form
        pass

    def answer(self, status: int, body=None) -> None:
        self.set_status(status)
        if body is not None:
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps(body))
        else:
            self.finish()

    def body_json(self) -> dict:
        return json.loads(self.request.body or b"{}")

    def vm(self) -> VM | None:
        """The sandbox this request is for, from the header the SDK sends; answers 502
        the way E2B's proxy does when it is gone."""
        sandbox_id = self.request.headers.get("E2b-Sandbox-Id", "")
        vm = self.fake.vms.get(sandbox_id)
        if vm is None or vm.dead:
            self.answer(502, {"code": 502, "message": f"The sandbox {sandbox_id} was not found"})
            return None
        return vm


class CreateHandler(Handler):
    async def post(self) -> None:
        fake = self.fake
        fake.create_attempts += 1
        if fake.faults.create_delay:
            await asyncio.sleep(fake.faults.create_delay)
        if fake.faults.reject_key or self.request.headers.get("X-API-KEY") != fake.api_key:
            return self.answer(401, {"code": 401, "message": "Invalid API key"})
        if fake.faults.rate_limited:
            self.set_header("Retry-After", "0")
            return self.answer(429, {"code": 429, "message": "You have reached the maximum number of concurrent sandboxes"})
        body = self.body_json()
        fake.created.append(body)
        vm_id = "sbx" + uuid.uuid4().hex[:12]
        vm = VM(vm_id, os.path.join(fake._tmp, vm_id), kernel_env(body.get("envVars") or {}), kernels=fake.kernels)
        os.makedirs(vm.home)
        fake.vms[vm_id] = vm
        fake._expire_later(vm, body.get("timeout", 300))
        self.answer(201, {
            "templateID": body.get("templateID", "code-interpreter-v1"),
            "sandboxID": vm_id, "clientID": "fake", "envdVersion": "0.6.7",
        })


class KillHandler(Handler):
    async def delete(self, sandbox_id: str) -> None:
        vm = self.fake.vms.get(sandbox_id)
        if vm is None or vm.dead:
            return self.answer(404, {"code": 404, "message": "not found"})
        self.fake.killed.append(sandbox_id)
        await vm.die()
        self.answer(204)


class TimeoutHandler(Handler):
    async def post(self, sandbox_id: str) -> None:
        vm = self.fake.vms.get(sandbox_id)
        if vm is None or vm.dead:
            return self.answer(404, {"code": 404, "message": "not found"})
        seconds = self.body_json()["timeout"]
        self.fake.timeouts.append((sandbox_id, seconds))
        self.fake._expire_later(vm, seconds)
        self.answer(204)


class HealthHandler(Handler):
    async def get(self) -> None:
        if self.vm():
            self.answer(204)


class FilesHandler(Handler):
    async def post(self) -> None:
        vm = self.vm()
        if not vm:
            return
        path = self.get_query_argument("path", None)
        if self.request.headers.get("Content-Type", "").startswith("application/octet-stream"):
            uploads = [(path, self.request.body)]
        else:
            uploads = [(path or f.filename, f.body) for files in self.request.files.values() for f in files]
        written = []
        for name, data in uploads:
            target = on_disk(vm, name)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "wb") as fh:
                fh.write(data)
            written.append({"name": os.path.basename(target), "type": "file", "path": target})
        self.answer(200, written)


    async def get(self) -> None:
        """A download, streamed in chunks as envd sends it."""
        vm = self.vm()
        if not vm:
            return
        target = on_disk(vm, self.get_query_argument("path", ""))
        if not os.path.isfile(target):
            self.answer(404, {"code": 404, "message": f"path '{target}' does not exist"})
            return
        self.set_header("Content-Type", "application/octet-stream")
        try:
            if self.fake.faults.endless_download:
                while True:  # until the client goes away
                    self.write(b"\0" * (1 << 16))
                    await self.flush()
            trickle = self.fake.faults.trickle_download
            with open(target, "rb") as fh:
                while chunk := fh.read(1 if trickle else 1 << 16):
                    self.write(chunk)
                    await self.flush()
                    if trickle:
                        await asyncio.sleep(trickle)
        except tornado.iostream.StreamClosedError:
            return
        self.finish()


def on_disk(vm: VM, path: str) -> str:
    """Where a path in the sandbox lies on this VM's folder."""
    target = path if os.path.isabs(path) else os.path.join(vm.home, path)
    if not os.path.abspath(target).startswith(vm.root):
        target = os.path.join(vm.root, path.lstrip("/"))
    return target


class StatHandler(Handler):
    """envd's Stat, a Connect unary call with the JSON codec the SDK uses."""

    async def post(self) -> None:
        vm = self.vm()
        if not vm:
            return
        path = self.body_json().get("path", "")
        target = on_disk(vm, path)
        if not os.path.lexists(target):
            self.answer(404, {"code": "not_found", "message": f"no such file or directory: {path}"})
            return
        info = os.stat(target)
        kind = "FILE_TYPE_DIRECTORY" if os.path.isdir(target) else "FILE_TYPE_FILE"
        self.answer(200, {"entry": {"name": os.path.basename(target), "type": kind, "path": path,
                                    "size": str(info.st_size), "mode": info.st_mode & 0o777,
                                    "isSymlink": os.path.islink(target)}})


class ContextsHandler(Handler):
    async def post(self) -> None:
        vm = self.vm()
        if vm:
            ctx = await vm.new_context(self.body_json().get("cwd"))
            self.answer(200, ctx.json())

    async def get(self) -> None:
        vm = self.vm()
        if vm:
            self.answer(200, [c.json() for c in vm.contexts.values()])


class ContextHandler(Handler):
    async def delete(self, context_id: str) -> None:
        vm = self.vm()
        if vm:
            ctx = vm.contexts.pop(context_id, None)
            if ctx is None:
                return self.answer(404, {"message": f"context {context_id} not found"})
            await ctx.stop()
            self.answer(204)


class RestartHandler(Handler):
    async def post(self, context_id: str) -> None:
        vm = self.vm()
        if vm:
            ctx = vm.contexts.get(context_id)
            if ctx is None:
                return self.answer(404, {"message": f"context {context_id} not found"})
            async with ctx.lock:
                await ctx.restart()
            self.answer(204)


class ExecuteHandler(Handler):
    gone = False  # the client went away

    def on_connection_close(self) -> None:
        self.gone = True

    async def post(self) -> None:
        vm = self.vm()
        if not vm:
            return
        body = self.body_json()
        if body.get("context_id"):
            ctx = vm.contexts.get(body["context_id"])
            if ctx is None:
                return self.answer(404, {"message": f"context {body['context_id']} not found"})
        else:
            if vm.default is None:
                vm.default = await vm.new_context()
            ctx = vm.default
        if self.fake.faults.execute_delay:
            await asyncio.sleep(self.fake.faults.execute_delay)
        self.set_header("Content-Type", "application/x-ndjson")
        async with ctx.lock:
            await self._run(vm, ctx, body["code"])

    async def _send(self, line: dict) -> None:
        if self.gone:
            return
        try:
            self.write(json.dumps(line) + "\n")
            await self.flush()
        except tornado.iostream.StreamClosedError:
            self.gone = True

    def _drop(self) -> None:
        self.gone = True
        self.request.connection.stream.close()

    async def _run(self, vm: VM, ctx: Context, code: str) -> None:
        faults = self.fake.faults
        if ctx.inline is not None:
            for line in ctx.inline.run(code):
                await self._send(line)
            return
        msg_id = ctx.kc.execute(code, store_history=True, allow_stdin=False, stop_on_error=True)
        sent = 0
        while True:
            if self.gone:
                return await self._stop_abandoned(ctx, msg_id)
            try:
                msg = await ctx.kc.get_iopub_msg(timeout=0.2)
            except queue.Empty:
                if not await ctx.km.is_alive():
                    await ctx.restart()
                    await self._send({"type": "error", "name": "ContextRestarting",
                                      "value": "Context was restarted", "traceback": ""})
                    await self._send({"type": "end_of_execution"})
                    return
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            line = self._translate(msg)
            if line is None:
                continue
            await self._send(line)
            if line["type"] == "end_of_execution":
                return
            sent += 1
            if faults.die_after_lines is not None and sent >= faults.die_after_lines:
                self._drop()
                await vm.die()
                return
            if faults.drop_after_lines is not None and sent >= faults.drop_after_lines:
                self._drop()

    @staticmethod
    def _translate(msg: dict) -> dict | None:
        kind, content = msg["msg_type"], msg["content"]
        now = time.time_ns()
        if kind == "execute_input":
            return {"type": "number_of_executions", "execution_count": content["execution_count"]}
        if kind == "stream":
            return {"type": content["name"], "text": content["text"], "timestamp": now}
        if kind in ("display_data", "execute_result"):
            return result_line(kind, dict(content["data"]))
        if kind == "error":
            return {"type": "error", "name": content["ename"], "value": content["evalue"],
                    "traceback": "".join(content["traceback"])}
        if kind == "status" and content["execution_state"] == "idle":
            return {"type": "end_of_execution"}
        return None

    async def _stop_abandoned(self, ctx: Context, msg_id: str) -> None:
        """The client left mid-run: interrupt, as the real server does, so the context
        is free for the next request; restart if the code ignores the interrupt."""
        if not await ctx.km.is_alive():
            return await ctx.restart()
        await ctx.km.interrupt_kernel()
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            try:
                msg = await ctx.kc.get_iopub_msg(timeout=0.2)
            except queue.Empty:
                continue
            if (msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "status"
                    and msg["content"]["execution_state"] == "idle"):
                return
        await ctx.restart()


if __name__ == "__main__":  # handy for poking at it by hand
    fake = FakeE2B().start()
    print(fake.url, file=sys.stderr)
    try:
        threading.Event().wait()
    finally:
        fake.stop()
