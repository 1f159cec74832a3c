"""The typed events a run emits, in order.

The reasoning loop is the only thing that creates events; renderers (rich console,
widgets, HTML) and the trace writer only read them. Every event carries the run id,
the step it belongs to and its time since the run started, so a trace alone is enough
to rebuild what the user saw.
"""

from __future__ import annotations

import dataclasses
import functools
import time
import types
import typing
from dataclasses import dataclass, field
from typing import Any, ClassVar

SCHEMA_VERSION = 1


@dataclass
class Usage:
    """Token use of one model call, or a sum of calls."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    calls: int = 0
    cost: float | None = 0.0  # None: the price of this model is unknown

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: "Usage") -> "Usage":
        cost = None if self.cost is None or other.cost is None else self.cost + other.cost
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.reasoning_tokens + other.reasoning_tokens,
            self.calls + other.calls,
            cost,
        )

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


@dataclass
class Event:
    """Base of every event. `elapsed` is seconds since the run started."""

    kind: ClassVar[str] = "event"
    run_id: str = ""
    step: int = 0
    attempt: int = 0  # 0: the run itself; 1..N: one of several attempts (see nbreason/attempts.py)
    elapsed: float = 0.0
    timestamp: float = field(default_factory=time.time)

    def to_json(self) -> dict:
        data = {"kind": self.kind}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            data[f.name] = value.to_json() if hasattr(value, "to_json") else value
        return data


@dataclass
class RunStarted(Event):
    kind: ClassVar[str] = "run_started"
    question: str = ""
    context: str = ""
    config: dict = field(default_factory=dict)  # secrets removed
    versions: dict = field(default_factory=dict)


@dataclass
class ModelDelta(Event):
    """A piece of streamed model text; renderers show it live, the trace may skip it."""

    kind: ClassVar[str] = "model_delta"
    text: str = ""


@dataclass
class ModelCall(Event):
    """One finished model request: what was sent (size), what came back, what it cost."""

    kind: ClassVar[str] = "model_call"
    model: str = ""
    response_text: str = ""
    reasoning_text: str = ""
    tool_calls: list = field(default_factory=list)
    finish_reason: str = ""
    messages_sent: int = 0
    usage: Usage = field(default_factory=Usage)
    duration: float = 0.0


@dataclass
class Retry(Event):
    """The model API failed transiently; the call is retried after `wait` seconds."""

    kind: ClassVar[str] = "retry"
    number: int = 0  # which retry of this call (1, 2, …)
    wait: float = 0.0
    reason: str = ""


@dataclass
class Plan(Event):
    kind: ClassVar[str] = "plan"
    text: str = ""


@dataclass
class Code(Event):
    kind: ClassVar[str] = "code"
    code: str = ""
    language: str = "python"


@dataclass
class Observation(Event):
    """What the sandbox returned for one code cell.

    `execution` is an e2b-style `Execution.to_json()`-like dict (stdout, stderr,
    results with their MIME data, error); `summary` is the text the model sees.
    """

    kind: ClassVar[str] = "observation"
    execution: dict = field(default_factory=dict)
    summary: str = ""
    duration: float = 0.0
    ok: bool = True
    cut_chars: int = 0  # characters left out of `summary` for the model


@dataclass
class Signal:
    """One reward signal: a name, a value in [0, 1] and why."""

    name: str
    value: float
    reason: str = ""
    weight: float = 1.0

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


@dataclass
class Check(Event):
    """The reward policy's verdict on the evidence so far."""

    kind: ClassVar[str] = "check"
    reward: float = 0.0
    signals: list[Signal] = field(default_factory=list)
    answer: str | None = None

    def to_json(self) -> dict:
        data = super().to_json()
        data["signals"] = [s.to_json() for s in self.signals]
        return data


@dataclass
class Decision(Event):
    """What the loop does next: `continue`, `revise` or `final`."""

    kind: ClassVar[str] = "decision"
    action: str = "continue"
    reason: str = ""


@dataclass
class BudgetUpdate(Event):
    kind: ClassVar[str] = "budget"
    spent: dict = field(default_factory=dict)
    limits: dict = field(default_factory=dict)
    usage: Usage = field(default_factory=Usage)


@dataclass
class Error(Event):
    """Something failed. `fatal` errors end the run; others are recovered from."""

    kind: ClassVar[str] = "error"
    message: str = ""
    source: str = ""  # model | sandbox | policy | user | trace
    fatal: bool = False


@dataclass
class Stopped(Event):
    """The run was stopped from outside (Stop button, Ctrl-C)."""

    kind: ClassVar[str] = "stopped"
    reason: str = "stopped by user"


@dataclass
class Vote(Event):
    """Several attempts answered; how their answers were counted and which one won."""

    kind: ClassVar[str] = "vote"
    strategy: str = ""  # vote | wvote | adaptive
    answers: list = field(default_factory=list)  # [{attempt, answer, reward, verified, tokens, stop_reason}]
    tally: dict = field(default_factory=dict)  # normalised answer -> votes (or summed reward)
    winner: str | None = None
    winner_attempt: int = 0
    why: str = ""
    stopped_early: str = ""  # why sampling stopped before the maximum (adaptive)


@dataclass
class FinalAnswer(Event):
    """Always the last event of a run, whatever ended it."""

    kind: ClassVar[str] = "final"
    answer: str | None = None
    stop_reason: str = ""  # answered | budget:steps | budget:tokens | ... | stopped by user | error
    reward: float = 0.0
    verified: bool | None = None
    usage: Usage = field(default_factory=Usage)
    steps: int = 0
    code: list[str] = field(default_factory=list)  # the code cells that ran without error


EVENT_TYPES: dict[str, type[Event]] = {
    cls.kind: cls
    for cls in (
        RunStarted, ModelDelta, ModelCall, Retry, Plan, Code, Observation,
        Check, Decision, BudgetUpdate, Error, Stopped, Vote, FinalAnswer,
    )
}


def event_from_json(data: dict) -> Event:
    """Rebuild a typed event from `Event.to_json()` output (used by the trace reader).

    ValueError when `data` is not an event this version knows: no or an unknown `kind`, or a
    field of the wrong type (so a damaged or hand-edited trace cannot reach the views).
    Fields this version does not know are ignored."""
    if not isinstance(data, dict):
        raise ValueError(f"an event is a JSON object, not {type(data).__name__}")
    kind = data.get("kind")
    cls = EVENT_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ValueError(f"unknown event kind {kind!r}")
    return _build(cls, {k: v for k, v in data.items() if k != "kind"})


def _build(cls: type, data: dict) -> Any:
    hints = _hints(cls)
    kwargs = {}
    for name, value in data.items():
        if name not in hints:
            continue
        hint = hints[name]
        if not _conforms(value, hint):
            raise ValueError(f"{cls.__name__}.{name}: unexpected {type(value).__name__} {str(value)[:40]!r}")
        nested = _dataclass_in(hint)
        if nested is not None and isinstance(value, dict):
            value = _build(nested, value)
        elif nested is not None and isinstance(value, list):
            value = [_build(nested, item) for item in value]
        kwargs[name] = value
    try:
        return cls(**kwargs)
    except TypeError as exc:  # a required field is missing
        raise ValueError(f"{cls.__name__}: {exc}") from None


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    resolved = typing.get_type_hints(cls)
    return {f.name: resolved[f.name] for f in dataclasses.fields(cls) if f.init}


def _dataclass_in(hint: Any) -> type | None:
    """Usage for `usage: Usage`, Signal for `signals: list[Signal]`, else None."""
    for candidate in (hint, *typing.get_args(hint)):
        if dataclasses.is_dataclass(candidate):
            return candidate
    return None


def _conforms(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_conforms(value, arg) for arg in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is Any:
        return True
    if dataclasses.is_dataclass(hint):
        return isinstance(value, dict)
    if origin is list or hint is list:
        args = typing.get_args(hint)
        return isinstance(value, list) and (not args or all(_conforms(v, args[0]) for v in value))
    if origin is dict or hint is dict:
        return isinstance(value, dict)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(hint, type):
        return isinstance(value, hint)
    return True
