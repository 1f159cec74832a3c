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
import os
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from . import datafiles, followup, returns as returns_mod
from . import variables as variables_mod
from .config import RunConfig
from .events import Error, Event, FinalAnswer, Rebuilt, clean_text
from .loop import Loop, run_cost_ceiling
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
            "or give the file with `nbreason run --with PATH` (in a notebook, a variable with "
            "%%reason --with NAME): data goes to the sandbox, not into the prompt.")
    return clean_text(question)  # as the context, file names and model text are: U+FFFD, the same everywhere


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


async def _load_variables(sandbox, values: dict[str, object]) -> None:
    """Define each value in the sandbox under its name (again after a backtrack: the description
    is not made again)."""
    for name, value in values.items():
        path = await sandbox.upload(variables_mod.pickle_name(name), variables_mod.dump(name, value))
        execution = await sandbox.run_code(variables_mod.load_code(name, path), timeout=60)
        if execution.error:
            raise variables_mod.VariableError(
                f"--with {name}: could not load it in the sandbox ({execution.error.name}: {execution.error.value})")


async def _place_variables(sandbox, values: dict[str, object]) -> str:
    """Load the values into the sandbox; what the model is told about them."""
    await _load_variables(sandbox, values)
    return variables_mod.context([variables_mod.describe(name, value) for name, value in values.items()],
                                 list(values))


@dataclass
class Extras:
    """What a run brings beyond the question (follow-ups, data files, variables to take back),
    checked before anything starts; and what the run hands back besides its events."""

    follows: Any = None  # the earlier RunResult (or Continues, or trace path) a follow-up continues
    continues: Any = None  # events.Continues of `follows`
    files: list = dataclasses.field(default_factory=list)  # datafiles.DataFile
    returns: list[str] = dataclasses.field(default_factory=list)
    keep_sandbox: bool = False
    kept: Any = None  # the sandbox left open for a follow-up
    returned: dict = dataclasses.field(default_factory=dict)

    @classmethod
    def check(cls, config: RunConfig, follows, files, returns, keep_sandbox: bool) -> "Extras":
        extras = cls(follows=follows, keep_sandbox=keep_sandbox and config.attempts == 1)
        if returns:
            extras.returns = returns_mod.check_names(returns)
            if config.attempts > 1:
                raise returns_mod.ReturnError("--return needs one attempt: several attempts each end in a "
                                              "sandbox of their own")
        if follows is not None:
            if config.attempts > 1:
                raise followup.FollowupError("--continue needs one attempt: several attempts each run in a "
                                             "sandbox of their own")
            extras.continues = followup.continues_of(follows)
        extras.files = [_named_cleanly(f if isinstance(f, datafiles.DataFile) else datafiles.describe(f))
                        for f in files or ()]
        datafiles.check_names(extras.files)  # after cleaning: two names may have become one
        earlier = extras.continues.trace if extras.continues is not None else None
        read = [f.path for f in extras.files] + ([earlier] if earlier else [])
        for path in read if config.trace else ():
            if _same_file(config.trace, path):  # the trace is opened for writing: it would be emptied
                raise datafiles.DataFileError(f"--trace {config.trace}: this run also reads that file ({path}); "
                                              "write the trace to another file")
        return extras


def _same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist yet: not the same file
        return False


async def reason(question: str, *, config: RunConfig, subscribers: Iterable[Subscriber] = (),
                 stop: asyncio.Event | None = None, variables: dict[str, object] | None = None,
                 context: str = "", model=None, sandbox=None,
                 check: Callable[[Any], Any] | None = None,
                 on_progress: OnProgress | None = None, follows: Any = None, files: Iterable[Any] | None = None,
                 returns: Iterable[str] | str | None = None, keep_sandbox: bool = False) -> RunResult:
    """Run one question to its final answer. Always returns a result, whatever ended the run.

    `on_progress` hears how preparing the model goes (assembling the embedded model's weights,
    starting its server), before the first event; nbreason.progress_display shows it.

    A follow-up: `follows` is the earlier run (its RunResult; or its trace file), whose sandbox it
    continues in when that run was kept open (`keep_sandbox=True`; close it with
    `await result.close()`), else rebuilds (nbreason/followup.py). `files`: data files copied into
    the sandbox and described to the model (nbreason/datafiles.py). `returns`: names whose values
    come back in `RunResult.returned` (nbreason/returns.py).

    Input that cannot be used is refused before anything starts, with a one-line message:
    QuestionError (empty, too long), VariableError (a `variables` value that cannot be sent),
    TraceInUse (another run is writing `config.trace`), FollowupError, DataFileError, ReturnError."""
    question = clean_question(question)
    context = clean_text(context) if isinstance(context, str) else context  # like the question: sent as JSON
    run_id = uuid.uuid4().hex[:12]
    if variables:
        for name, value in variables.items():  # fail before anything starts
            variables_mod.dump(name, value)
    extras = Extras.check(config, follows, files, returns, keep_sandbox)
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
                                        check, run_id, own_model, own_sandbox, on_progress, extras))
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
    result = RunResult.from_events(fan.events, trace_path=str(writer.path) if writer else None)
    result.sandbox, result.returned = extras.kept, extras.returned
    return result


async def _drive(question, config, fan, stop, variables, context, model, sandbox, check, run_id,
                 own_model, own_sandbox, on_progress=None, extras: Extras | None = None) -> None:
    started = time.monotonic()
    extras = extras or Extras()
    try:
        if model is None:
            model = await make_model(config, on_progress=on_progress)
        if config.attempts > 1:
            await _drive_attempts(question, config, fan, stop, variables, context, model, check, run_id, started,
                                  extras.files)
            return
        why = ""
        if sandbox is None and extras.continues is not None:
            sandbox, why = await _earlier_sandbox(extras)
        if sandbox is None:
            sandbox = make_sandbox(config)
        await sandbox.start()
        if variables:
            described = await _place_variables(sandbox, variables)
            context = f"{context}\n{described}".strip()
        followup.given(f.path for f in extras.files)
        for file in extras.files:
            await datafiles.place(sandbox, file)
        context = "\n".join(part for part in (context, *(f.description for f in extras.files)) if part.strip())
        preface: tuple[Event, ...] = ()
        if why:
            preface = (Rebuilt(**await followup.rebuild(
                sandbox, extras.continues, why, timeout=config.exec_timeout,
                given_files=_shown_paths(extras.files), given_variables=list(variables))),)
        loop = Loop(question, config=config, model=model, sandbox=sandbox, context=context, stop=stop,
                    check=check, run_id=run_id, preface=preface, returns=tuple(extras.returns),
                    earlier=followup.digest(extras.continues) if extras.continues else "",
                    started={"continues": extras.continues, "variables": list(variables),
                             "files": _shown_paths(extras.files), "returns": list(extras.returns)},
                    restore_variables=(lambda: _load_variables(sandbox, variables)) if variables else None,
                    variables=variables,
                    earlier_code=_earlier_code(extras.continues, variables) if extras.continues else ())
        loop.t0 = started
        async for event in loop.run():
            if isinstance(event, FinalAnswer) and event.attempt == 0 and extras.returns:
                await _take_back(sandbox, extras, config, fan, loop)  # before the final answer: it is the last event
            fan(event)
    except Exception as exc:  # setting up failed: still end with a final answer event
        fan(Error(run_id=run_id, source=_source(exc), fatal=True, message=_message(exc)))
        fan(FinalAnswer(run_id=run_id, stop_reason="error", elapsed=round(time.monotonic() - started, 3)))
    finally:
        if sandbox is not None and own_sandbox and extras.keep_sandbox:
            # Marked for a follow-up; a kept sandbox that cannot be marked is closed.
            if await followup.mark(sandbox, run_id):
                extras.kept, own_sandbox = sandbox, False
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


def _named_cleanly(file: datafiles.DataFile) -> datafiles.DataFile:
    """A data file whose name and description (what the model and the events see) are text that
    encodes: a name with bytes that are not UTF-8 arrives with lone surrogates. Its path stays the
    real one, to read it by; the copy in the sandbox takes the clean name the model is told."""
    return dataclasses.replace(file, name=clean_text(file.name), description=clean_text(file.description))


def _shown_paths(files) -> list[str]:
    """The data files' paths as events carry them (traces are UTF-8)."""
    return [clean_text(str(f.path)) for f in files]


def _earlier_code(continues, given: dict) -> list[str]:
    """What rebuilds a follow-up's session after a backtrack restarts it: the chain's variables not
    given again, from the pickles still in the working folder, then the chain's clean code."""
    loads = [variables_mod.load_code(name, variables_mod.pickle_name(name))
             for name in continues.variables if name not in given]
    return [*loads, *continues.setup, *continues.code]


async def _earlier_sandbox(extras: Extras):
    """(the sandbox a follow-up runs in, why its earlier state must be rebuilt: '' when it holds it)."""
    kept = followup.take_sandbox(extras.follows)
    if kept is None:
        return None, followup.gone_reason(extras.follows)
    if await followup.holds(kept, extras.continues.run_id):
        return kept, ""
    try:
        await asyncio.wait_for(kept.close(), timeout=10)
    except Exception:
        pass
    return None, "the earlier run's sandbox lost its state (its kernel restarted or expired)"


async def _take_back(sandbox, extras: Extras, config: RunConfig, fan: Fanout, loop: Loop) -> None:
    """Bring the `--return` names back; a note (an Error every view shows) for each that did not come."""
    back = await returns_mod.fetch(sandbox, extras.returns, timeout=max(60.0, config.exec_timeout))
    extras.returned = back.values
    for note in back.notes:
        fan(Error(run_id=loop.run_id, source="returns", message=note,
                  elapsed=round(time.monotonic() - loop.t0, 3)))


async def _drive_attempts(question, config, fan, stop, variables, context, model, check, run_id, started,
                          files=()) -> None:
    """Several attempts, each a whole run of its own (nbreason/attempts.py), their events forwarded
    into this run's stream tagged with their attempt number, then the vote and the final answer."""
    from . import attempts
    from .events import RunStarted

    fan(RunStarted(run_id=run_id, question=question, context=context, config=config.public() | {
        "model": getattr(model, "name", config.model), "sandbox": config.sandbox,
        "attempts": config.attempts, "strategy": config.strategy,
        "cost_ceiling": _times(run_cost_ceiling(config, model, len(question) + len(context)), config.attempts)},
        variables=list(variables or ()), files=_shown_paths(files)))
    began: dict[int, float] = {}

    def forward(attempt: int, event) -> None:
        offset = began.setdefault(attempt, time.monotonic() - started - event.elapsed)
        fan(dataclasses.replace(event, run_id=run_id, attempt=attempt, elapsed=round(event.elapsed + offset, 3)))

    outcome = await attempts.run(question, config=config, solve=reason, stop=stop, forward=forward, model=model,
                                 variables=variables or None, context=context, check=check, files=list(files) or None)
    vote = attempts.vote_event(outcome, config.strategy, run_id, round(time.monotonic() - started, 3))
    fan(vote)
    fan(attempts.overall_final(vote, attempts.attempt_finals(fan.events), stop.is_set()))


def _source(exc: Exception) -> str:
    module = type(exc).__module__
    if "sandbox" in module:
        return "sandbox"
    if "model" in module:
        return "model"
    if isinstance(exc, (variables_mod.VariableError, datafiles.DataFileError)):
        return "user"
    return "nbreason"


def _message(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text if "Error" in type(exc).__name__ and "model" in type(exc).__module__ else f"{type(exc).__name__}: {text}"


def _times(ceiling: float | None, attempts: int) -> float | None:
    """Each attempt is a run with the run's limits."""
    return None if ceiling is None else ceiling * attempts
