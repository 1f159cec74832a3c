"""Between the owner and a local kernel: every message the kernel sends passes through a process
of its own, held to a memory limit, before it reaches the notebook.

zmq takes in whatever a peer sends, whether or not anyone reads it, and a message of many parts
has no size limit (ZMQ_MAXMSGSIZE is per part; the high-water mark counts whole messages). A
kernel that sent one 32 MiB buffer, zero-copy, as 48 parts of one message put 1.6 GB in the
notebook while it waited for the model. Here such a message lands in the relay, which dies at its
limit (the owner then treats the kernel as dead and restarts it). What the relay passes on is at
most MESSAGE_BYTES a message (a larger output message becomes a note on stderr), and every socket,
the owner's included, queues at most QUEUE messages: the owner holds a bounded amount.

Started by `start()` with its settings on stdin (the key is no one's to read in a command line):
it binds the owner's ipc sockets at OWNER-<port>, connects to the kernel's at KERNEL-<port>,
prints "ready" and relays until its parent (the owner) is gone.
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import time

MESSAGE_BYTES = 16 << 20  # the owner keeps at most 10 M characters of pictures an execution anyway
KEEP = 1_000_000  # characters kept at each end of a longer stream message: the owner keeps fewer
QUEUE = 4  # messages queued by zmq per socket, the owner's included
HELD_MESSAGES, HELD_BYTES = 2000, 64 << 20  # what the relay itself holds per socket it sends on
MEMORY = 512 << 20  # the relay's address space beyond its imports
DELIMITER = b"<IDS|MSG>"
BROKEN = 3  # the exit code when a connection to the kernel broke


def _sockets(zmq):
    # channel -> (the owner's side, bound here; the kernel's side, connected to its socket)
    return {"shell": (zmq.ROUTER, zmq.DEALER), "control": (zmq.ROUTER, zmq.DEALER),
            "stdin": (zmq.ROUTER, zmq.DEALER), "hb": (zmq.ROUTER, zmq.DEALER), "iopub": (zmq.XPUB, zmq.XSUB)}


def _die_with_parent() -> None:
    try:
        import ctypes
        import signal

        ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _size(frames) -> int:
    return sum(len(frame) for frame in frames)


def main(settings: dict) -> None:
    owner, kernel, ports = settings["owner"], settings["kernel"], settings["ports"]
    key, scheme = settings["key"], settings["signature_scheme"]
    parent = os.getppid()
    _die_with_parent()
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
        poller = zmq.Poller()
        for monitor in monitors:
            poller.register(monitor, zmq.POLLIN)
        for socket, (other, _, _) in pairs.items():
            flags = (zmq.POLLIN if held[other].room() else 0) | (zmq.POLLOUT if held[socket] else 0)
            if flags:
                poller.register(socket, flags)
        for socket, event in poller.poll(1000):
            if socket in monitors:
                sys.stderr.write("relay: the kernel's connection broke\n")
                os._exit(BROKEN)
            if event & zmq.POLLOUT and not held[socket].send(zmq, socket):
                time.sleep(0.005)  # another peer of this socket had room, not this one: wait, not spin
            other, channel, from_kernel = pairs[socket]
            while event & zmq.POLLIN and held[other].room():
                try:
                    frames = socket.recv_multipart(copy=False, flags=zmq.NOBLOCK)
                except zmq.Again:
                    break
                if from_kernel and _size(frames) > MESSAGE_BYTES:
                    if channel != "iopub":
                        continue
                    frames = _shortened(session, frames)
                held[other].append(frames)
            if held[other]:
                held[other].send(zmq, other)


class Held(collections.deque):
    """Messages waiting for a socket whose peer does not read yet: a burst of output, as the
    kernel's and the owner's queues held it before there was a relay, within HELD_BYTES."""

    size = 0

    def room(self) -> bool:
        return len(self) < HELD_MESSAGES and self.size < HELD_BYTES

    def append(self, frames) -> None:
        super().append(frames)
        self.size += _size(frames)

    def send(self, zmq, socket) -> bool:
        """Send what the socket takes now; False if it took nothing."""
        sent = False
        while self:
            if not _send(zmq, socket, self[0]):
                return sent
            self.size -= _size(self.popleft())
            sent = True
        return sent


def _json(frame) -> dict:
    try:
        value = json.loads(frame.bytes)
    except (ValueError, MemoryError):
        return {}
    return value if isinstance(value, dict) else {}


def _parts(frames) -> tuple[dict, dict, dict]:
    """The header, parent header and (for a stream) content of a signed message; {} if unreadable."""
    try:
        at = [len(f) == len(DELIMITER) and f.bytes == DELIMITER for f in frames].index(True)
        header, parent = _json(frames[at + 2]), _json(frames[at + 3])
        return header, parent, _json(frames[at + 5]) if header.get("msg_type") == "stream" else {}
    except (ValueError, IndexError):
        return {}, {}, {}


def _shortened(session, frames) -> list:
    """An output message past MESSAGE_BYTES, as one the owner can take: a stream's text keeps its
    head and tail (as the owner keeps them), anything else becomes a note that it was dropped."""
    size = _size(frames)
    header, parent, content = _parts(frames)
    text = content.get("text")
    if isinstance(text, str) and content.get("name") in ("stdout", "stderr") and len(text) > 2 * KEEP:
        dropped = len(text) - 2 * KEEP
        new = {"name": content["name"],
               "text": f"{text[:KEEP]}\n[… {dropped} characters of output dropped …]\n{text[-KEEP:]}"}
    else:
        new = {"name": "stderr", "text": f"[a message of {size:,} bytes from the kernel was dropped: the limit "
                                         f"is {MESSAGE_BYTES:,}]\n"}
    return session.serialize(session.msg("stream", new, parent=parent), ident=[b"stream"])


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


def start(owner: str, kernel: str, ports: dict, key: str, scheme: str, log) -> subprocess.Popen:
    """The relay process for one kernel, its sockets bound when this returns ("ready" read by
    the caller from its stdout). `log`: where its stderr goes."""
    from .. import bounded

    process = subprocess.Popen([sys.executable, "-s", "-c", RUN, os.path.abspath(__file__)], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=log, env=bounded.child_env() | {"MALLOC_ARENA_MAX": "2"})
    settings = {"owner": owner, "kernel": kernel, "ports": ports, "key": key, "signature_scheme": scheme}
    process.stdin.write(json.dumps(settings).encode() + b"\n")
    process.stdin.close()
    return process


if __name__ == "__main__":
    main(json.loads(sys.stdin.readline()))
