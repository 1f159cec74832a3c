"""The run's two kinds of call to the outside world, each streamed as events: one model call and
one code execution. Both end early, cleanly, when Stop is pressed.

`Calls` is the part of the loop (nbreason/loop.py) that talks to the model and the sandbox; it
decides nothing. It uses the loop's `model`, `sandbox`, `config`, `budget`, `history`,
`protocol`, `evidence`, `stop`, `queue` and `ev`.
"""

from __future__ import annotations

import asyncio
import time
from typing import AsyncIterator

from . import actions, policy, prompts
from .events import Error, Event, ModelCall, ModelDelta, Observation, Retry, ToolCall
from .models.base import Completion, ContextTooLong, ModelError
from .sandboxes.base import Sandbox
from .execution import ExecutionRecord
from .sandboxes.results import summarize


class StopRequested(Exception):
    pass


class Calls:
    async def _pump(self, task: asyncio.Future) -> AsyncIterator[Event]:
        """Yield events queued by `task` (stream deltas, retries) until it ends or Stop is pressed."""
        stop_wait = asyncio.ensure_future(self.stop.wait())
        try:
            while True:
                while not self.queue.empty():
                    yield self.queue.get_nowait()
                if task.done():
                    return
                getter = asyncio.ensure_future(self.queue.get())
                done, _ = await asyncio.wait({task, getter, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
                if getter in done:
                    yield getter.result()
                else:
                    getter.cancel()
                if stop_wait in done and not task.done():
                    raise StopRequested
        finally:
            stop_wait.cancel()

    async def _reply(self) -> AsyncIterator[Event | Completion]:
        """The model's reply for one step of the run, drawn again when `policy.redraw` says so (the
        first draw stays in the trace)."""
        completion: Completion | None = None
        async for item in self._call_model():
            if isinstance(item, Completion):
                completion = item
            else:
                yield item
        for draw in range(policy.REDRAWS):
            repeated = actions.from_completion(completion).code
            sample = policy.redraw(repeated, self.stall, within_budget=self.budget.exceeded() is None,
                                   temperature=self.config.temperature, seed=self.config.seed, step=self.step, draw=draw)
            if sample is None:
                break
            told = [prompts.changed(self.stall.error_of(repeated))] if draw else None  # sampling alone did not do it
            async for item in self._redraw("the reply repeats a program that already failed; drawing another, sampled"
                                           + (", told what must change" if told else ""), sample, extra=told):
                if isinstance(item, Completion):
                    completion = item
                else:
                    yield item
        yield completion

    async def _redraw(self, why: str, sample: policy.Sampling, fresh: list[dict] | None = None,
                      extra: list[dict] | None = None) -> AsyncIterator[Event | Completion]:
        """A reply drawn again (`why` is said first, so every redraw shows in the trace), sampled
        as `sample` says; `fresh` and `extra` as for `_call_model`."""
        yield self.ev(Error, message=why, source="model")
        async for item in self._call_model(fresh, temperature=sample.temperature, seed=sample.seed, extra=extra):
            yield item

    async def _call_model(self, fresh: list[dict] | None = None, temperature: float | None = None,
                          seed: int | None = None, extra: list[dict] | None = None) -> AsyncIterator[Event | Completion]:
        """One model call, streamed: `fresh` messages, else the run's history (fitted to the context);
        `extra` messages are sent after them once, never kept in the history."""
        tools = prompts.TOOLS if self.protocol == "tools" and fresh is None else None
        options = {"temperature": self.config.temperature if temperature is None else temperature,
                   "max_tokens": self.config.max_tokens}
        if seed is not None or self.config.seed is not None:
            options["seed"] = seed if seed is not None else self.config.seed
        for _ in range(3):
            messages = prompts.followed_by([dict(m) for m in (fresh if fresh is not None else self.history.fit())],
                                           extra or [])

            def on_delta(text: str) -> None:
                self.queue.put_nowait(self.ev(ModelDelta, text=text))

            def on_retry(n: int, wait: float, why: str) -> None:
                self.queue.put_nowait(self.ev(Retry, number=n, wait=wait, reason=why))

            started = time.monotonic()
            task = asyncio.ensure_future(self.model.complete(messages, tools=tools, on_delta=on_delta,
                                                             on_retry=on_retry, deadline=self.budget.deadline(),
                                                             **options))
            try:
                async for event in self._pump(task):
                    yield event
                completion = task.result()
            except StopRequested:
                task.cancel()
                raise
            except ContextTooLong as exc:
                if fresh is not None:
                    raise ModelError(f"{exc}: the question alone does not fit the model's context window") from exc
                self.history.shrink()
                yield self.ev(Error, message=f"{exc}; older steps were shortened and the call retried", source="model")
                continue
            except ModelError as exc:
                if tools and getattr(self.model, "supports_tools", None) is False:
                    # The server refused tool calls: fall back to the text protocol for this run.
                    self.protocol, tools = "text", None
                    self.history.messages[0] = prompts.system("text")
                    yield self.ev(Error, message=f"tool calls are not supported here ({exc}); using the text protocol",
                                  source="model")
                    continue
                raise
            finally:
                if not task.done():
                    task.cancel()
            completion.duration = completion.duration or time.monotonic() - started
            self.budget.charge(completion.usage)
            yield self.ev(ModelCall, model=completion.model or getattr(self.model, "name", ""),
                          response_text=completion.text, reasoning_text=completion.reasoning,
                          tool_calls=[ToolCall(c.id, c.name, c.arguments) for c in completion.tool_calls],
                          finish_reason=completion.finish_reason,
                          messages_sent=len(messages), usage=completion.usage, duration=round(completion.duration, 3))
            yield completion
            return
        raise ModelError("the prompt does not fit the model's context window even after shortening the history")

    async def _restore_variables(self) -> AsyncIterator[Event]:
        """Put the passed variables back; if the sandbox will not take them, say so and go on."""
        try:
            if self.restore_variables is not None:
                await self.restore_variables()
        except Exception as exc:  # the session's own code may have broken it: not a reason to end the run
            yield self.ev(Error, message=f"the passed variables could not be put back: {exc}", source="sandbox")

    async def _execute(self, code: str, run_as: str | None = None, record: bool = True) -> AsyncIterator[Event | tuple]:
        """Run `code` (or `run_as`, code that wraps it); yields its events, then (execution,
        summary). `record`: clean code joins the run's code (what is exported and replayed)."""
        timeout = self.config.exec_timeout
        left = self.budget.seconds_left()
        if left is not None:  # near the deadline, still give code a second (but never more than asked)
            timeout = min(timeout, max(1.0, left))
        started = time.monotonic()
        task = asyncio.ensure_future(self.sandbox.run_code(run_as or code, timeout=timeout))
        try:
            async for event in self._pump(task):
                yield event
        except StopRequested:
            await _interrupt(self.sandbox, task)
            raise
        execution = ExecutionRecord.of(task.result())
        summary, cut_chars = summarize(task.result(), self.config.observation_chars)
        ok = execution.ok
        self.evidence.last_execution = execution
        if ok:
            if record:
                self.evidence.code.append(code)
            self.evidence.outputs.append(execution.printed)
        yield self.ev(Observation, execution=execution, summary=summary, duration=round(time.monotonic() - started, 3),
                      ok=ok, cut_chars=cut_chars)
        yield (execution, summary)


async def _interrupt(sandbox: Sandbox, task: asyncio.Future) -> None:
    """Stop running code: interrupt, give it a moment, then abandon the call."""
    try:
        await asyncio.wait_for(sandbox.interrupt(), timeout=5)
    except Exception:
        pass
    try:
        await asyncio.wait_for(asyncio.shield(task), timeout=5)
    except BaseException:
        task.cancel()
