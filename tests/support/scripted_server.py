"""An OpenAI-compatible chat server on 127.0.0.1 that answers from a script.

Tests drive the real `openai` client over real HTTP against it:

    with ScriptedServer([Reply("hello"), rate_limited(retry_after=1), Reply("again")]) as server:
        model = OpenAIChatModel("scripted", base_url=server.base_url)
        ...
        assert server.requests[0]["messages"][0]["content"] == "hi"

Each POST /v1/chat/completions takes the next item from the queue. An item is a `Reply`
(text, reasoning, tool calls), a `Fault` (an HTTP error), `Malformed`, `Truncated`,
`Empty`, a plain string (a text reply) or a callable taking the request body and
returning one of those. An empty queue answers 500 "script exhausted", so a test that
makes more calls than it scripted fails loudly instead of hanging.

Streams use chunked transfer encoding, so closing the connection mid-stream is a
protocol error the client sees, as with a real server dying.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Union


@dataclass
class Call:
    """One tool call in a reply. `arguments` may be a dict (sent as JSON) or raw text."""

    name: str
    arguments: Union[dict, str] = field(default_factory=dict)
    id: str | None = None

    def arguments_text(self) -> str:
        return self.arguments if isinstance(self.arguments, str) else json.dumps(self.arguments)


@dataclass
class Reply:
    """A successful answer.

    `usage` entries override the word-count estimates; `reasoning_tokens` goes into
    completion_tokens_details. `delay` waits before the response headers (a slow server
    or, past the client's timeout, a read timeout); `chunk_delay` waits between stream chunks.
    """

    text: str = ""
    reasoning: str | None = None
    tool_calls: list[Call] = field(default_factory=list)
    finish_reason: str | None = None  # default: "tool_calls" if there are any, else "stop"
    usage: dict | None = None
    reasoning_tokens: int | None = None
    delay: float = 0.0
    chunk_delay: float = 0.0
    send_usage: bool = True  # False: like servers that never report usage
    refusal: str | None = None  # OpenAI's structured refusal, sent instead of content


@dataclass
class Fault:
    """An HTTP error response. `body` dict is sent as JSON, a str as is."""

    status: int
    body: Union[dict, str, None] = None
    headers: dict = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Malformed:
    """HTTP 200 whose body is not valid JSON (as a stream: one bad `data:` line)."""

    body: str = '{"id": "x", "choices": [ {"delta": '
    delay: float = 0.0


@dataclass
class Truncated:
    """Starts streaming `text`, then closes the connection after `chunks` chunks."""

    text: str = "this answer never ends because the server dies"
    chunks: int = 2
    delay: float = 0.0


@dataclass
class Empty:
    """HTTP 200 with an empty body."""

    delay: float = 0.0


Item = Union[Reply, Fault, Malformed, Truncated, Empty, str, Callable[[dict], Any]]


def tool_call(name: str, arguments: Union[dict, str] = None, *, text: str = "", **kw: Any) -> Reply:
    return Reply(text=text, tool_calls=[Call(name, arguments if arguments is not None else {})], **kw)


def _error(message: str, type_: str, code: str | None = None, param: str | None = None) -> dict:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def rate_limited(retry_after: Union[float, str, None] = None) -> Fault:
    headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
    return Fault(429, _error("Rate limit reached, slow down.", "requests", "rate_limit_exceeded"), headers)


def server_error(status: int = 500, message: str = "The server had an error while processing your request.") -> Fault:
    return Fault(status, _error(message, "server_error"))


def unauthorized() -> Fault:
    return Fault(401, _error("Incorrect API key provided: sk-***.", "invalid_request_error", "invalid_api_key"))


def context_too_long(limit: int = 4096) -> Fault:
    message = (f"This model's maximum context length is {limit} tokens. However, your messages "
               f"resulted in {limit + 1000} tokens. Please reduce the length of the messages.")
    return Fault(400, _error(message, "invalid_request_error", "context_length_exceeded", "messages"))


def model_not_found(model: str) -> Fault:
    message = f"The model `{model}` does not exist or you do not have access to it."
    return Fault(404, _error(message, "invalid_request_error", "model_not_found"))


def tools_rejected() -> Fault:
    # What vLLM says when started without tool support.
    message = '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set'
    return Fault(400, _error(message, "BadRequestError"))


def count_tokens(text: str) -> int:
    """A rough token count (words), good enough for usage assertions."""
    return len(text.split())


def _message_text(message: dict) -> str:
    content = message.get("content") or ""
    if isinstance(content, list):
        content = " ".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content)


class ScriptedServer:
    """The server, running in a background thread while the context is open."""

    def __init__(self, script: list[Item] | None = None, *, models: tuple[str, ...] = ("scripted",)):
        self.models = models
        self.requests: list[dict] = []  # JSON bodies of chat requests, in order
        self.headers: list[dict] = []  # their HTTP headers, names in lower case
        self._queue: deque = deque(script or [])
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- script --------------------------------------------------------------------
    def add(self, *items: Item) -> None:
        with self._lock:
            self._queue.extend(items)

    @property
    def remaining(self) -> int:
        with self._lock:
            return len(self._queue)

    def _next(self, body: dict) -> Item | None:
        with self._lock:
            self.requests.append(body)
            item = self._queue.popleft() if self._queue else None
        if callable(item) and not isinstance(item, (Reply, Fault, Malformed, Truncated, Empty)):
            item = item(body)
        if isinstance(item, str):
            item = Reply(item)
        return item

    # -- lifecycle -----------------------------------------------------------------
    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> "ScriptedServer":
        handler = type("Handler", (_Handler,), {"scripted": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), name="scripted-server", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._closing.set()  # wakes handlers sleeping in a delay
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> "ScriptedServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def wait(self, seconds: float) -> None:
        if seconds > 0:
            self._closing.wait(seconds)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive and chunked streams, like real servers
    disable_nagle_algorithm = True  # small stream chunks go out at once
    scripted: ScriptedServer

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass

    # -- plumbing ------------------------------------------------------------------
    def _send(self, status: int, body: Union[dict, str, bytes, None], headers: dict | None = None) -> None:
        if isinstance(body, dict):
            data, ctype = json.dumps(body).encode(), "application/json"
        else:
            data, ctype = (body.encode() if isinstance(body, str) else body or b""), "application/json"
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _event(self, payload: Union[dict, str]) -> None:
        text = payload if isinstance(payload, str) else json.dumps(payload)
        self._chunk(f"data: {text}\n\n".encode())

    def _start_stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _die(self) -> None:
        """Close the connection abruptly, as a crashing server would."""
        self.wfile.flush()
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # -- routes --------------------------------------------------------------------
    def do_GET(self) -> None:
        if self.path.rstrip("/") == "/v1/models":
            data = [{"id": m, "object": "model", "created": 0, "owned_by": "scripted"} for m in self.scripted.models]
            self._send(200, {"object": "list", "data": data})
        else:
            self._send(404, _error(f"no route GET {self.path}", "not_found"))

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._send(404, _error(f"no route POST {self.path}", "not_found"))
            return
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            self._send(400, _error("request body is not JSON", "invalid_request_error"))
            return
        self.scripted.headers.append({k.lower(): v for k, v in self.headers.items()})
        item = self.scripted._next(body)
        try:
            self._answer(item, body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout) while we were answering

    def _answer(self, item: Item | None, body: dict) -> None:
        if item is None:
            n = len(self.scripted.requests)
            self._send(500, _error(f"script exhausted: request {n} has no scripted reply", "scripted_server"))
            return
        self.scripted.wait(getattr(item, "delay", 0.0))
        stream = bool(body.get("stream"))
        if isinstance(item, Fault):
            self._send(item.status, item.body, item.headers)
        elif isinstance(item, Empty):
            self._send(200, b"")
        elif isinstance(item, Malformed):
            if stream:
                self._start_stream()
                self._chunk(f"data: {item.body}\n\n".encode())
                self._event("[DONE]")
                self._end_stream()
            else:
                self._send(200, item.body)
        elif isinstance(item, Truncated):
            self._start_stream()
            chunks = _content_chunks(body, Reply(item.text))
            for chunk in chunks[: item.chunks]:
                self._event(chunk)
            self._die()
        elif isinstance(item, Reply):
            if stream:
                self._stream(item, body)
            else:
                self._send(200, _completion(body, item))
        else:
            raise TypeError(f"unknown script item {item!r}")

    def _stream(self, reply: Reply, body: dict) -> None:
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        self._start_stream()
        for chunk in _content_chunks(body, reply):
            if include_usage:
                chunk["usage"] = None  # as OpenAI does on every chunk but the last
            self._event(chunk)
            self.scripted.wait(reply.chunk_delay)
        if include_usage and reply.send_usage:
            self._event({**_envelope(body, "chat.completion.chunk"), "choices": [], "usage": _usage(body, reply)})
        self._event("[DONE]")
        self._end_stream()


# -- response bodies ------------------------------------------------------------------
def _envelope(body: dict, obj: str) -> dict:
    return {"id": "chatcmpl-scripted", "object": obj, "created": int(time.time()), "model": body.get("model", "")}


def _finish(reply: Reply) -> str:
    return reply.finish_reason or ("tool_calls" if reply.tool_calls else "stop")


def _call_id(call: Call, i: int) -> str:
    return call.id or f"call_{i}"


def _usage(body: dict, reply: Reply) -> dict:
    prompt = sum(count_tokens(_message_text(m)) for m in body.get("messages", []))
    completion = count_tokens(reply.text) + count_tokens(reply.reasoning or "")
    completion += sum(count_tokens(c.arguments_text()) + 1 for c in reply.tool_calls)
    usage = {"prompt_tokens": prompt, "completion_tokens": completion}
    usage.update(reply.usage or {})
    usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
    if reply.reasoning_tokens is not None:
        usage["completion_tokens_details"] = {"reasoning_tokens": reply.reasoning_tokens}
    return usage


def _completion(body: dict, reply: Reply) -> dict:
    message: dict = {"role": "assistant", "content": reply.text or (None if reply.tool_calls else "")}
    if reply.reasoning is not None:
        message["reasoning_content"] = reply.reasoning
    if reply.refusal is not None:
        message["refusal"] = reply.refusal
    if reply.tool_calls:
        message["tool_calls"] = [
            {"id": _call_id(c, i), "type": "function", "function": {"name": c.name, "arguments": c.arguments_text()}}
            for i, c in enumerate(reply.tool_calls)
        ]
    data = {**_envelope(body, "chat.completion"),
            "choices": [{"index": 0, "message": message, "finish_reason": _finish(reply)}]}
    if reply.send_usage:
        data["usage"] = _usage(body, reply)
    return data


def _pieces(text: str) -> list[str]:
    """Split into word-sized pieces that join back to `text` exactly."""
    pieces, current = [], ""
    for ch in text:
        current += ch
        if ch == " ":
            pieces.append(current)
            current = ""
    if current:
        pieces.append(current)
    return pieces


def _content_chunks(body: dict, reply: Reply) -> list[dict]:
    def chunk(delta: dict, finish: str | None = None) -> dict:
        return {**_envelope(body, "chat.completion.chunk"),
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    chunks = [chunk({"role": "assistant", "content": ""})]
    chunks += [chunk({"reasoning_content": p}) for p in _pieces(reply.reasoning or "")]
    chunks += [chunk({"content": p}) for p in _pieces(reply.text)]
    chunks += [chunk({"refusal": p}) for p in _pieces(reply.refusal or "")]
    for i, call in enumerate(reply.tool_calls):
        first = {"index": i, "id": _call_id(call, i), "type": "function", "function": {"name": call.name, "arguments": ""}}
        chunks.append(chunk({"tool_calls": [first]}))
        for piece in _pieces(call.arguments_text()):
            chunks.append(chunk({"tool_calls": [{"index": i, "function": {"arguments": piece}}]}))
    chunks.append(chunk({}, _finish(reply)))
    return chunks
