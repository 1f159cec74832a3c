"""Running a question end to end: build the model and sandbox, drive the loop, hand every
event to the subscribers, and keep the result.

    result = await reason("What is 2**100?", config=load(), subscribers=[console])

Subscribers are callables taking each `Event`; they render or save, never decide. Every
event is redacted first (nbreason.redact: API keys, URL credentials), in the fan-out, so no
subscriber (console, widgets, trace, RunResult) ever sees a secret. A subscriber that raises
is reported once (as an Error event) and dropped, so a broken renderer or a full disk cannot
end the run. `stop` is an `asyncio.Event`: set it (Stop button, Ctrl-C) and the run ends with
stop_reason "stopped by user", keeping everything.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from typing import Any, Callable, Iterable

from . import variables as variables_mod
from .config import RunConfig
from .events import Error, Event
from .loop import Loop
from .models import OnProgress, make_model
from .redact import Redactor
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
            "Put large data in a file and name the file in the question (the code can read it), "
            "or in a notebook pass a variable with %%reason --with NAME: data goes to the sandbox, "
            "not into the prompt.")
    return question.encode("utf-8", "replace").decode("utf-8")


class Fanout:
    """Deliver events to subscribers, redacted; isolate the subscribers' failures."""

    def __init__(self, subscribers: Iterable[Subscriber], run_id: str, redactor: Redactor | None = None):
        self.subscribers = list(subscribers)
        self.run_id = run_id
        self.redactor = redactor or Redactor()
        self.events: list[Event] = []

    def __call__(self, event: Event) -> None:
        event = self.redactor.event(event)  # the one place secrets are removed: before anyone sees it
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
    return "\n".join(lines)


async def reason(question: str, *, config: RunConfig, subscribers: Iterable[Subscriber] = (),
                 stop: asyncio.Event | None = None, variables: dict[str, object] | None = None,
                 context: str = "", model=None, sandbox=None,
                 check: Callable[[Any], Any] | None = None,
                 on_progress: OnProgress | None = None) -> RunResult:
    """Run one question to its final answer. Always returns a result, whatever ended the run.

    `on_progress` hears how preparing the model goes (assembling the embedded model's weights,
    starting its server), before the first event; nbreason.progress_display shows it.

    Input that cannot be used is refused before anything starts, with a one-line message:
    QuestionError (empty, too long), VariableError (a `variables` value that cannot be sent),
    TraceInUse (another run is writing `config.trace`)."""
    question = clean_question(question)
    run_id = uuid.uuid4().hex[:12]
    if variables:
        for name, value in variables.items():  # fail before anything starts
            variables_mod.dump(name, value)
    fan = Fanout(subscribers, run_id, Redactor.for_config(config))
    stop = stop or asyncio.Event()
    writer = None
    if config.trace:
        try:
            writer = TraceWriter(config.trace)  # TraceInUse (another run writes it) ends this one here
            fan.subscribers.append(writer)
        except OSError as exc:
            fan(Error(run_id=run_id, source="trace", message=f"cannot write the trace to {config.trace}: {exc}"))
    own_model, own_sandbox = model is None, sandbox is None
    task = asyncio.ensure_future(_drive(question, config, fan, stop, variables or {}, context, model, sandbox,
                                        check, run_id, own_model, own_sandbox, on_progress))
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
                 own_model, own_sandbox, on_progress=None) -> None:
    started = time.monotonic()
    try:
        if model is None:
            model = await make_model(config, on_progress=on_progress)
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
    """Several attempts, each a whole run of its own (nbreason/attempts.py), their events forwarded
    into this run's stream tagged with their attempt number, then the vote and the final answer."""
    from . import attempts
    from .events import RunStarted

    fan(RunStarted(run_id=run_id, question=question, context=context, config=config.public() | {
        "model": getattr(model, "name", config.model), "sandbox": config.sandbox,
        "attempts": config.attempts, "strategy": config.strategy}))
    began: dict[int, float] = {}

    def forward(attempt: int, event) -> None:
        offset = began.setdefault(attempt, time.monotonic() - started - event.elapsed)
        fan(dataclasses.replace(event, run_id=run_id, attempt=attempt, elapsed=round(event.elapsed + offset, 3)))

    outcome = await attempts.run(question, config=config, solve=reason, stop=stop, forward=forward, model=model,
                                 variables=variables or None, context=context, check=check)
    vote = attempts.vote_event(outcome, config.strategy, run_id, round(time.monotonic() - started, 3))
    fan(vote)
    fan(attempts.overall_final(vote, attempts.attempt_finals(fan.events), stop.is_set()))


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
