"""Running a question end to end: build the model and sandbox, drive the loop, hand every
event to the subscribers, and keep the result.

    result = await reason("What is 2**100?", config=load(), subscribers=[console])

Subscribers are callables taking each `Event`; they render or save, never decide. A
subscriber that raises is reported once (as an Error event) and dropped, so a broken
renderer or a full disk cannot end the run. `stop` is an `asyncio.Event`: set it (Stop
button, Ctrl-C) and the run ends with stop_reason "stopped by user", keeping everything.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any, Callable, Iterable

from . import variables as variables_mod
from .config import RunConfig
from .events import Error, Event
from .loop import Loop
from .models import make_model
from .result import RunResult
from .sandboxes import make_sandbox
from .trace import TraceWriter

Subscriber = Callable[[Event], None]

MAX_QUESTION_CHARS = 100_000


class QuestionError(ValueError):
    """The question cannot be asked as given (empty, or too long to send)."""


def clean_question(question: str) -> str:
    """Refuse empty or oversized questions; replace characters no JSON body can carry
    (lone surrogates from undecodable bytes) so the request cannot fail on encoding."""
    if not isinstance(question, str) or not question.strip():
        raise QuestionError("the question is empty: write it in the cell (or pass it to `nbreason run`)")
    if len(question) > MAX_QUESTION_CHARS:
        raise QuestionError(
            f"the question is {len(question):,} characters; the limit is {MAX_QUESTION_CHARS:,}. "
            "Pass large data with --with NAME (it goes to the sandbox, not into the prompt).")
    return question.encode("utf-8", "replace").decode("utf-8")


class Fanout:
    """Deliver events to subscribers; isolate their failures."""

    def __init__(self, subscribers: Iterable[Subscriber], run_id: str):
        self.subscribers = list(subscribers)
        self.run_id = run_id
        self.events: list[Event] = []

    def __call__(self, event: Event) -> None:
        self.events.append(event)
        for sub in list(self.subscribers):
            try:
                sub(event)
            except Exception as exc:
                self.subscribers.remove(sub)
                name = getattr(sub, "__qualname__", type(sub).__name__)
                self(Error(run_id=self.run_id, step=event.step, elapsed=event.elapsed, source="renderer",
                           message=f"{name} failed and was detached: {type(exc).__name__}: {exc}"))


async def _place_variables(sandbox, values: dict[str, object]) -> str:
    lines = []
    for name, value in values.items():
        data = variables_mod.dump(name, value)
        path = await sandbox.upload(f".nbreason_{name}.pkl", data)
        execution = await sandbox.run_code(variables_mod.load_code(name, path), timeout=60)
        if execution.error:
            raise variables_mod.VariableError(
                f"--with {name}: could not load it in the sandbox ({execution.error.name}: {execution.error.value})")
        lines.append(variables_mod.describe(name, value))
    return variables_mod.context(lines, list(values))


async def reason(question: str, *, config: RunConfig, subscribers: Iterable[Subscriber] = (),
                 stop: asyncio.Event | None = None, variables: dict[str, object] | None = None,
                 context: str = "", model=None, sandbox=None,
                 check: Callable[[Any], Any] | None = None) -> RunResult:
    """Run one question to its final answer. Always returns a result, whatever ended the run."""
    question = clean_question(question)
    run_id = uuid.uuid4().hex[:12]
    fan = Fanout(subscribers, run_id)
    stop = stop or asyncio.Event()
    writer = None
    if config.trace:
        try:
            writer = TraceWriter(config.trace)
            fan.subscribers.append(writer)
        except OSError as exc:
            fan(Error(run_id=run_id, source="trace", message=f"cannot write the trace to {config.trace}: {exc}"))
    if variables:
        for name, value in variables.items():  # fail before anything starts
            variables_mod.dump(name, value)
    own_model, own_sandbox = model is None, sandbox is None
    task = asyncio.ensure_future(_drive(question, config, fan, stop, variables or {}, context, model, sandbox,
                                        check, run_id, own_model, own_sandbox))
    try:
        await asyncio.shield(task)
    except (asyncio.CancelledError, KeyboardInterrupt):
        # Interrupted from outside (Ctrl-C, kernel interrupt): stop cleanly, keep the trace.
        stop.set()
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout=15)
        except BaseException:
            task.cancel()
        raise
    finally:
        if writer:
            writer.close()
    return RunResult.from_events(fan.events, trace_path=str(writer.path) if writer else None)


async def _drive(question, config, fan, stop, variables, context, model, sandbox, check, run_id,
                 own_model, own_sandbox) -> None:
    started = time.monotonic()
    try:
        if model is None:
            model = await make_model(config)
        if config.attempts > 1:
            await _drive_attempts(question, config, fan, stop, variables, context, model, check, run_id, started)
            return
        if sandbox is None:
            sandbox = make_sandbox(config)
        await sandbox.start()
        if variables:
            described = await _place_variables(sandbox, variables)
            context = f"{context}\n{described}".strip()
        loop = Loop(question, config=config, model=model, sandbox=sandbox, context=context, stop=stop,
                    check=check, run_id=run_id)
        if variables:
            loop.restore_variables = lambda: _place_variables(sandbox, variables)
        loop.t0 = started
        async for event in loop.run():
            fan(event)
    except Exception as exc:  # setting up failed: still end with a final answer event
        from .events import FinalAnswer
        fan(Error(run_id=run_id, source=_source(exc), fatal=True, message=_message(exc)))
        fan(FinalAnswer(run_id=run_id, stop_reason="error", elapsed=round(time.monotonic() - started, 3)))
    finally:
        if own_sandbox and sandbox is not None:
            try:
                await asyncio.wait_for(sandbox.close(), timeout=10)
            except Exception:
                pass
        if own_model and model is not None:
            try:
                await model.close()
            except Exception:
                pass


async def _drive_attempts(question, config, fan, stop, variables, context, model, check, run_id, started) -> None:
    from .attempts import attempt_finals, overall_final, run_attempts
    from .events import RunStarted

    fan(RunStarted(run_id=run_id, question=question, context=context, config=config.public() | {
        "model": getattr(model, "name", config.model), "sandbox": config.sandbox,
        "attempts": config.attempts, "strategy": config.strategy}))

    async def place(sandbox) -> str:
        return await _place_variables(sandbox, variables) if variables else ""

    await run_attempts(question, config=config, model=model, fan=fan, stop=stop, place_variables=place,
                       context=context, check=check, run_id=run_id, t0=started)
    fan(overall_final(fan.events[-1], attempt_finals(fan.events), stop.is_set()))


def _source(exc: Exception) -> str:
    module = type(exc).__module__
    if "sandbox" in module:
        return "sandbox"
    if "model" in module:
        return "model"
    if isinstance(exc, variables_mod.VariableError):
        return "user"
    return "nbreason"


def _message(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text if "Error" in type(exc).__name__ and "model" in type(exc).__module__ else f"{type(exc).__name__}: {text}"
