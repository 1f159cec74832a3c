"""Between the owner and a local kernel: every message the kernel sends passes through a process
of its own, held to a memory limit, before it reaches the notebook.

zmq takes in whatever a peer sends, whether or not anyone reads it, and a message of many parts
has no size limit (ZMQ_MAXMSGSIZE is per part; the high-water mark counts whole messages). A
kernel that sent one 32 MiB buffer, zero-copy, as 48 parts of one message put 1.6 GB in the
notebook while it waited for the model. Here such a message lands in the relay, which dies at its
limit (the owner then treats the kernel as dead and restarts it). What the relay passes on is at
most MESSAGE_BYTES a message, counting what it decodes to (a larger one is shortened, see
`_shortened`), and the owner's sockets queue at most QUEUE messages: it holds a bounded amount.

Started by `start()` with its settings on stdin (the key is no one's to read in a command line):
it binds the owner's ipc sockets at OWNER-<port>, connects to the kernel's at KERNEL-<port>,
prints "ready" and relays until its parent (the owner process) is gone.
"""

from __future__ import annotations

import collections
import json
import math
import os
import re
import subprocess
import sys
import time

MESSAGE_BYTES = 16 << 20  # the owner keeps at most 10 M characters of pictures an execution anyway
KEEP = 1_000_000  # characters kept at each end of a longer stream message: the owner keeps fewer
QUEUE = 4  # messages queued by zmq per socket, the owner's included
# ...but handed to zmq at once toward the owner's iopub: 4 at a time, with a wait between tries
# (POLLOUT does not tell when an XPUB has room), passed 800 a second; 20,000 flushed prints to
# stdout and stderr lost half. The owner's own queue stays at QUEUE.
OUTPUT_QUEUE = 64
WAIT = (0.0005, 0.005)  # seconds between tries to send on a full socket: the first, the longest
# What the relay itself holds per socket it sends on, counting each part's Python object: a burst
# of short prints is held whole (a count of 2,000 messages lost a twentieth of 40,000).
HELD_BYTES, PART_BYTES = 64 << 20, 100
SMALL = 4096  # a part shorter is held as bytes (about 100 bytes more), not as a zmq frame (about 300)
# What the owner makes of a message counts too: a part is a Python object, and a JSON value one
# more (`{},` is 3 bytes and a 64-byte dict: one 16 MB message of them decoded to 420 MB).
DECODED_BYTES = 4 * MESSAGE_BYTES
FRAME_BYTES, VALUE_BYTES = 200, 80
SWELL = 30  # at most what one byte of JSON takes decoded (measured: 26)
# A JSON string, escapes included; one cut short ends at the end (else each escaped quote in it
# would start a new attempt: quadratic time on 16 MB of them).
STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*(?:"|\\?\Z)', re.DOTALL)
MEMORY = 512 << 20  # the relay's address space beyond its imports
DELIMITER = b"<IDS|MSG>"
BROKEN = 3  # the exit code when a connection to the kernel broke


def _sockets(zmq):
    # channel -> (the owner's side, bound here; the kernel's side, connected to its socket)
    return {"shell": (zmq.ROUTER, zmq.DEALER), "control": (zmq.ROUTER, zmq.DEALER),
            "stdin": (zmq.ROUTER, zmq.DEALER), "hb": (zmq.ROUTER, zmq.DEALER), "iopub": (zmq.XPUB, zmq.XSUB)}


def _size(frames) -> int:
    return sum(len(frame) for frame in frames)


def _held(frames) -> int:
    return _size(frames) + PART_BYTES * len(frames)


def _values(data: bytes) -> int:
    """About how many values a JSON text decodes to: its commas, braces and brackets outside strings."""
    bare = STRING.sub(b"", data)
    return bare.count(b",") + bare.count(b"{") + bare.count(b"[")


def _decoded(data: bytes) -> int:
    """About the memory the JSON text `data` takes decoded (values counted only where it matters)."""
    if len(data) * SWELL <= DECODED_BYTES:
        return len(data) * SWELL
    return len(data) + VALUE_BYTES * _values(data)


def _too_large(frames) -> bool:
    """Whether a message from the kernel is more than the owner may take: its bytes, or what
    jupyter-client makes of it (a memoryview a part, its four JSON parts decoded)."""
    if _size(frames) > MESSAGE_BYTES:
        return True
    size = _size(frames) + FRAME_BYTES * len(frames)
    if size * SWELL <= DECODED_BYTES or size > DECODED_BYTES:
        return size > DECODED_BYTES
    at = _delimiter(frames)
    return size + sum(_decoded(frame.bytes) for frame in frames[at + 2:at + 6] if at >= 0) > DECODED_BYTES


def main(settings: dict) -> None:
    owner, kernel, ports = settings["owner"], settings["kernel"], settings["ports"]
    key, scheme = settings["key"], settings["signature_scheme"]
    # Not PR_SET_PDEATHSIG: it fires when the *thread* that started us ends (a notebook runs each
    # %%reason cell on a thread of its own), and the kernel would be restarted at the next step.
    # Its pid is given: read here, an owner gone before we started would be one we never leave.
    parent = settings.get("parent") or os.getppid()
    _bounded().hold_to(MEMORY, None, ("zmq", "jupyter_client.session"))
    import zmq
    from jupyter_client.session import Session

    session = Session(key=key.encode(), signature_scheme=scheme)
    context = zmq.Context(io_threads=1)
    pairs, monitors = {}, []
    for channel, (front_type, back_type) in _sockets(zmq).items():
        front, back = context.socket(front_type), context.socket(back_type)
        # Toward the owner zmq queues few messages; from the kernel as many as zmq's default: a
        # burst is taken in at C speed, and what does not fit in the relay's memory ends it.
        front.linger = back.linger = 0
        front.rcvhwm = front.sndhwm = back.sndhwm = QUEUE
        if front_type == zmq.XPUB:
            front.sndhwm = OUTPUT_QUEUE
        # Full queues make sends wait (EAGAIN), not drop: a burst of output is held back, and
        # the kernel's own queue fills, as it did when the owner read the kernel directly.
        front.setsockopt(zmq.XPUB_NODROP if front_type == zmq.XPUB else zmq.ROUTER_MANDATORY, 1)
        front.bind(f"ipc://{owner}-{ports[channel]}")
        back.connect(f"ipc://{kernel}-{ports[channel]}")
        pairs[front], pairs[back] = (back, channel, False), (front, channel, True)
        # A connection to the kernel that drops is not made again after a message zmq could not
        # take in (a protocol error): the channel would be silent for good. Ending here makes the
        # owner restart the kernel, as when it dies.
        monitors.append(back.get_monitor_socket(zmq.EVENT_DISCONNECTED))
    print("ready", flush=True)
    held = {socket: Held() for socket in pairs}  # what waits to be sent on each socket
    while os.getppid() == parent:
        now = time.monotonic()
        poller = zmq.Poller()
        for monitor in monitors:
            poller.register(monitor, zmq.POLLIN)
        for socket, (other, _, _) in pairs.items():
            out = held[socket] and held[socket].retry <= now
            flags = (zmq.POLLIN if held[other].room() else 0) | (zmq.POLLOUT if out else 0)
            if flags:
                poller.register(socket, flags)
        waits = [held[socket].retry - now for socket in pairs if held[socket] and held[socket].retry > now]
        for socket, event in poller.poll(math.ceil(max(0.0, min(waits, default=1.0)) * 1000)):  # whole ms
            if socket in monitors:
                sys.stderr.write("relay: the kernel's connection broke\n")
                os._exit(BROKEN)
            if event & zmq.POLLOUT:
                held[socket].send(zmq, socket)
            other, channel, from_kernel = pairs[socket]
            while event & zmq.POLLIN and held[other].room():
                try:
                    frames = socket.recv_multipart(copy=False, flags=zmq.NOBLOCK)
                except zmq.Again:
                    break
                if from_kernel and _too_large(frames):
                    frames = _shortened(session, frames, channel)
                    if frames is None:
                        continue
                held[other].append(frames)
            if held[other] and held[other].retry <= time.monotonic():
                held[other].send(zmq, other)


class Held(collections.deque):
    """Messages waiting for a socket whose peer does not read yet: a burst of output, as the
    kernel's and the owner's queues held it before there was a relay, within HELD_BYTES."""

    size = 0
    # An XPUB always says it can send (POLLOUT), and a ROUTER does when any peer can: after a
    # send that found the queue full, wait before the next try, longer each time, up to
    # WAIT[1] (a notebook that does not read costs little), meanwhile reading the kernel.
    retry, wait = 0.0, 0.0

    def room(self) -> bool:
        return self.size < HELD_BYTES

    def append(self, frames) -> None:
        frames = [getattr(frame, "bytes", frame) if len(frame) < SMALL else frame for frame in frames]
        super().append(frames)
        self.size += _held(frames)

    def send(self, zmq, socket) -> None:
        """Send what the socket takes now."""
        while self:
            if not _send(zmq, socket, self[0]):
                self.wait = min(max(self.wait * 2, WAIT[0]), WAIT[1])
                self.retry = time.monotonic() + self.wait
                return
            self.size -= _held(self.popleft())
            self.wait = 0.0


def _json(frame) -> dict:
    try:
        data = frame.bytes
        if len(data) * SWELL > DECODED_BYTES and VALUE_BYTES * _values(data) > DECODED_BYTES:
            return {}  # its values would take more than the relay's memory (a long text is fine)
        value = json.loads(data)
    except (ValueError, MemoryError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}


def _delimiter(frames) -> int:
    """The index of the frame that ends the identities, -1 if none."""
    try:
        return [len(f) == len(DELIMITER) and f.bytes == DELIMITER for f in frames].index(True)
    except ValueError:
        return -1


def _parts(frames, channel: str) -> tuple[int, dict, dict, dict]:
    """Where the delimiter is, the header, the parent header and (for a stream, an error or a
    reply) the content of a message; -1 and {} if unreadable."""
    try:
        at = _delimiter(frames)
        if at < 0:
            return -1, {}, {}, {}
        header, parent = _json(frames[at + 2]), _json(frames[at + 3])
        wanted = channel != "iopub" or header.get("msg_type") in ("stream", "error")
        return at, header, parent, _json(frames[at + 5]) if wanted else {}
    except (ValueError, IndexError):
        return -1, {}, {}, {}


def _cut(text, keep: int) -> str:
    """`text` with its head and tail, `keep` characters each, as the owner keeps them."""
    if not isinstance(text, str):
        return ""
    if len(text) <= 2 * keep:
        return text
    return f"{text[:keep]}\n[… {len(text) - 2 * keep} characters of output dropped …]\n{text[-keep:]}"


def _error(content: dict) -> dict:
    """An error's fields, cut to fit a message together (a traceback as one text, as the owner joins it)."""
    lines = content.get("traceback")
    traceback = "\n".join(line for line in lines if isinstance(line, str)) if isinstance(lines, list) else ""
    return {"ename": _cut(content.get("ename"), 1000) or "Error", "evalue": _cut(content.get("evalue"), KEEP // 2),
            "traceback": [_cut(traceback, KEEP // 2)] if traceback else []}


def _shortened(session, frames, channel: str) -> list | None:
    """A message from the kernel past MESSAGE_BYTES, as one the owner can take (None: dropped).
    An output stream keeps its head and tail and an error its fields' (as the owner keeps them);
    other output becomes a note that it was dropped. A reply still comes, with its status and
    error but without the rest (a payload, user expressions): the owner waits for it, and an
    exception with a long message made it wait until the timeout, then restart the kernel."""
    size = _size(frames)
    at, header, parent, content = _parts(frames, channel)
    kind = header.get("msg_type")
    note = (f"[a message of {size:,} bytes from the kernel was dropped: the limit is {MESSAGE_BYTES:,}]\n"
            if size > MESSAGE_BYTES else f"[a message of {size:,} bytes from the kernel was dropped: decoded, it "
            f"would take more than {DECODED_BYTES:,} bytes]\n")
    if channel == "iopub":
        ident, text = [b"stream"], content.get("text")
        if kind == "stream" and isinstance(text, str) and content.get("name") in ("stdout", "stderr") \
                and len(text) > 2 * KEEP:
            new = {"name": content["name"], "text": _cut(text, KEEP)}
        elif kind == "error" and content:
            ident, new = [b"error"], _error(content)
        else:
            kind, new = "stream", {"name": "stderr", "text": note}
    elif channel != "hb" and at >= 1 and isinstance(kind, str) and kind.endswith("_reply"):
        ident = [frames[0]]  # the owner's socket it goes to
        status = content.get("status")
        new = {"status": status if status in ("ok", "error", "aborted") else "error"}
        count = content.get("execution_count")
        if isinstance(count, int) and not isinstance(count, bool):
            new["execution_count"] = count
        if status not in ("ok", "aborted"):
            new.update(_error(content) if status == "error" else
                       {"ename": "MessageTooLarge", "evalue": note.strip("[]\n"), "traceback": []})
    else:
        return None
    msg = session.msg(kind, new)
    msg["parent_header"] = parent  # as it came: a request's header, or {}
    shortened = session.serialize(msg, ident=ident)
    return shortened if sum(len(part) for part in shortened) <= MESSAGE_BYTES else None


def _send(zmq, socket, frames) -> bool:
    """Send without waiting: False if the socket's queue is full. A message to a peer that is gone
    (an identity no one has) is dropped."""
    try:
        socket.send_multipart(frames, copy=False, flags=zmq.NOBLOCK)
    except zmq.Again:
        return False
    except zmq.ZMQError as exc:
        if exc.errno != zmq.EHOSTUNREACH:
            raise
    return True


def _bounded():
    """nbreason/bounded.py, loaded by its path: the relay runs as a script, without nbreason's
    imports (a fifth of a second and tens of megabytes at every kernel start)."""
    import importlib.util

    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bounded.py")
    spec = importlib.util.spec_from_file_location("_nbreason_bounded", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# Run as a file, without nbreason's imports; neither the current folder nor this one on sys.path
# (a zmq.py planted in either would run here).
RUN = "import sys; del sys.path[0]; import runpy; runpy.run_path(sys.argv[1], run_name='__main__')"


class Relay:
    """The owner's side: the relay process of one kernel."""

    def __init__(self, process: subprocess.Popen):
        self.process = process

    @classmethod
    async def start(cls, owner: str, kernel: str, ports: dict, key: str, scheme: str, log,
                    timeout: float) -> "Relay":
        """A relay listening when this returns (RuntimeError if it did not start within
        `timeout` seconds). `log`: where its stderr goes."""
        import asyncio

        from .. import bounded

        process = subprocess.Popen([sys.executable, "-s", "-c", RUN, os.path.abspath(__file__)],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                                   env=bounded.child_env() | {"MALLOC_ARENA_MAX": "2"})
        settings = {"owner": owner, "kernel": kernel, "ports": ports, "key": key, "signature_scheme": scheme,
                    "parent": os.getpid()}
        process.stdin.write(json.dumps(settings).encode() + b"\n")
        process.stdin.close()
        relay = cls(process)
        try:
            line = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), timeout)
        except asyncio.TimeoutError:
            line = b""
        if line.strip() != b"ready":
            relay.stop()
            raise RuntimeError(f"exit code {process.returncode}")
        return relay

    def ended(self) -> int | None:
        """Its exit code once it has ended (negative: the signal), None while it runs."""
        return self.process.poll()

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()
        self.process.stdout.close()


if __name__ == "__main__":
    main(json.loads(sys.stdin.readline()))
