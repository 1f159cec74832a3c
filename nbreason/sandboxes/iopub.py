"""Reading what a local kernel sends for one execution: streams, results and errors for our request
only, within the sandbox's limits (output size, images, results), with the deadline enforced
(interrupt, then restart) and a dead kernel noticed. Everything the kernel sends is untrusted:
messages that cannot be decoded are dropped and counted, and an execution ends only after its own
reply, once the kernel has answered one more request (code can forge a reply's idle status, and
the reply can overtake the last outputs).
"""

from __future__ import annotations

import asyncio
import inspect
import queue
import time
from typing import Any

from .base import Execution, ExecutionError, Logs
from .capped import Capped
from .ingest import Kept, error_from_content, result_from_message, stream_text
from .results import has_image, strip_ansi

POLL_SECONDS = 0.5  # one iopub read; also how often deadlines and liveness are checked
BARRIER_SECONDS = 5.0  # how long an idle kernel may take to answer the request that ends a reading

# What a message the kernel sent could not be decoded with: bad JSON, nesting too deep for the
# parser, a bad signature, missing header fields. Code in the kernel can send any of these.
UNDECODABLE = (ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError)


def parent_id(msg: Any) -> Any:
    parent = msg.get("parent_header") if isinstance(msg, dict) else None
    return parent.get("msg_id") if isinstance(parent, dict) else None


async def _call(handler, value) -> None:
    if handler is not None:
        outcome = handler(value)
        if inspect.isawaitable(outcome):
            await outcome


async def _stop(task: asyncio.Future) -> None:
    """Cancel `task` and wait until it has stopped (without taking its cancellation for ours)."""
    task.cancel()
    await asyncio.wait({task})


async def collect(sandbox, code, timeout, on_stdout, on_stderr, on_result, notes) -> Execution:
    """Run `code` in the sandbox's kernel and gather what it sends for this request, within the
    sandbox's limits; see LocalSandbox.run_code for what the result means."""
    limit = sandbox.max_output_chars
    streams = {"stdout": Capped(limit), "stderr": Capped(limit)}
    handlers = {"stdout": on_stdout, "stderr": on_stderr}
    results, error, count = [], None, None
    images = skipped = undecodable = 0
    kept = Kept(limit)  # all the results' pictures, text and JSON together

    async def note(text: str) -> None:
        streams["stderr"].add(text)
        await _call(on_stderr, text)

    for text in notes:
        await note(text)

    msg_id = sandbox._kc.execute(code, allow_stdin=False, stop_on_error=False)
    # The kernel sends its execute_reply (shell) just before its idle status (iopub). Code in
    # the kernel can publish a status of its own, so idle alone does not end the execution.
    reply = asyncio.ensure_future(sandbox._await_reply(msg_id))
    idle = reply_late = False
    barrier, barrier_at = None, 0.0
    started = time.monotonic()
    interrupted_at: float | None = None
    try:
        while True:
            if idle and not reply.done() and not reply_late:
                await asyncio.wait({reply}, timeout=POLL_SECONDS)
                reply_late = not reply.done()  # a forged idle: keep reading, in short slices
            if reply.done() and barrier is None:
                # The reply can overtake outputs still queued on iopub, and an idle status can be
                # forged by the code, so neither ends the reading. The kernel answers another request
                # only after the execution's outputs (iopub is ordered): that request's status does.
                barrier, barrier_at = sandbox._kc.kernel_info(), time.monotonic()
            if barrier is not None and time.monotonic() - barrier_at > BARRIER_SECONDS:
                break  # a kernel that does not answer: what arrived is the execution's output
            now = time.monotonic()
            if interrupted_at is None and now - started > timeout:
                await sandbox.interrupt()
                interrupted_at = now
            elif interrupted_at is not None and now - interrupted_at > sandbox.grace:
                # The code ignores SIGINT (or is stuck in C): only a restart stops it.
                await _stop(reply)  # it would read the restarted kernel's replies
                await sandbox.restart()
                error = ExecutionError(
                    "TimeoutError",
                    f"execution exceeded {timeout:g} s and did not stop when interrupted; "
                    "the kernel was restarted and all variables are lost", "")
                break
            if sandbox._log is not None:
                sandbox._log.trim()
            try:
                msg = await sandbox._kc.get_iopub_msg(timeout=0.05 if idle else POLL_SECONDS)
            except queue.Empty:
                if not await sandbox.alive():
                    if reply.done():  # it finished first: the next execution meets the dead kernel
                        break
                    why = sandbox._exit_reason()
                    await _stop(reply)
                    await sandbox.restart()
                    error = ExecutionError(
                        "KernelDied",
                        f"the kernel died while running this code ({why}); it was restarted "
                        "and all variables are lost", "")
                    break
                continue
            except UNDECODABLE:
                undecodable += 1
                continue
            if barrier is not None and parent_id(msg) == barrier:
                break
            if parent_id(msg) != msg_id:
                continue
            kind, content = msg.get("msg_type"), msg.get("content")
            if not isinstance(content, dict):
                undecodable += 1
                continue
            if kind == "status":
                idle = idle or content.get("execution_state") == "idle"
            elif kind == "execute_input":
                value = content.get("execution_count")
                count = value if isinstance(value, int) and not isinstance(value, bool) else count
            elif kind == "stream":
                name, text, dropped = stream_text(content)
                for text_note in dropped:
                    await note(text_note)
                if not text:
                    continue
                stream = streams[name]
                shown = stream.add(text)
                if shown:  # handlers see the head live; the tail arrives with the result
                    await _call(handlers[name], shown)
                    if stream.full:
                        await _call(handlers[name], "\n[… further output is not shown live …]\n")
            elif kind in ("execute_result", "display_data"):
                result, dropped = result_from_message(content.get("data"), is_main_result=kind == "execute_result",
                                                      limit=limit)
                for text_note in dropped:
                    await note(text_note)
                if result is None:
                    continue
                image = has_image(result)
                if len(results) >= sandbox.max_results or (image and images >= sandbox.max_images):
                    skipped += 1
                    continue
                dropped = kept.admit(result)
                if dropped:
                    await note(dropped)
                    continue
                images += image
                results.append(result)
                await _call(on_result, result)
            elif kind == "error":
                error = error_from_content(content, limit)
                error.traceback = strip_ansi(error.traceback)
    finally:
        reply.cancel()
        if sandbox._log is not None:
            sandbox._log.trim(force=True)

    if interrupted_at is not None and (error is None or error.name == "KeyboardInterrupt"):
        error = ExecutionError(
            "TimeoutError",
            f"execution exceeded {timeout:g} s and was interrupted; variables are kept",
            error.traceback if error else "")
    if skipped:
        streams["stderr"].add(f"[{skipped} display outputs dropped: more than "
                              f"{sandbox.max_images} images or {sandbox.max_results} outputs]\n")
    if undecodable:
        streams["stderr"].add(f"[{undecodable} malformed messages from the kernel were dropped]\n")
    return Execution(results=results,
                     logs=Logs(stdout=streams["stdout"].chunks(), stderr=streams["stderr"].chunks()),
                     error=error, execution_count=count)

