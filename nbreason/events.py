"""The typed events a run emits, in order.

The reasoning loop is the only thing that creates events; renderers (rich console,
widgets, HTML) and the trace writer only read them. Every event carries the run id,
the step it belongs to and its time since the run started, so a trace alone is enough
to rebuild what the user saw.
"""

from __future__ import annotations

import dataclasses
import re
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .execution import ExecutionRecord

# The JSON of every event is the form schema 1 has always had: the typed records below are
# written as the dicts and lists earlier versions wrote, and read back from them.
SCHEMA_VERSION = 1

_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_text(text: str) -> str:
    """`text` with every lone surrogate replaced by U+FFFD, so it always encodes as UTF-8.

    Lone surrogates come from undecodable bytes (surrogateescape: file names, argv), from JSON's
    "\\ud800", and from a pair split across two streamed pieces. A high and low surrogate that
    meet again (the pieces joined) become the one character they spell."""
    if not _SURROGATE.search(text):
        return text
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def clean_strings(value: Any) -> Any:
    """A JSON value with `clean_text` applied to every string in it, keys included."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(k) if isinstance(k, str) else k: clean_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean_strings(v) for v in value]
    return value


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
class ToolCall:
    """One native tool call in a model reply (models fill it in as the reply streams)."""

    id: str
    name: str
    arguments: str  # raw JSON text as the model produced it


@dataclass
class Limits:
    """What a run may spend; None: unlimited."""

    steps: int | None = 8
    tokens: int | None = 40_000  # prompt + completion, all calls
    seconds: float | None = 600.0
    cost: float | None = None  # USD

    def to_json(self) -> dict:
        return {"steps": self.steps, "tokens": self.tokens, "seconds": self.seconds, "cost": self.cost}


@dataclass(frozen=True)
class Spent:
    """What a run has spent so far."""

    steps: int = 0
    tokens: int = 0  # prompt + completion, all calls
    seconds: float = 0.0
    cost: float | None = 0.0  # USD; None: the price of this model is unknown


@dataclass(frozen=True)
class AttemptAnswer:
    """One attempt's outcome, as a vote counted it."""

    attempt: int
    answer: str | None = None
    reward: float = 0.0
    verified: bool | None = None
    tokens: int = 0
    stop_reason: str = ""


@dataclass(frozen=True)
class SolutionRow:
    """One solution of an answer's check: which method gave which value."""

    method: str  # "program" for the run's own answer, else the method's name ("prose", "simulation", …)
    answer: str | None = None
    family: str = ""  # methods of one family share their failure modes
    sampled: bool = False  # a repeat of a route already used, drawn at the sampling temperature
    ruled_out: str | None = None  # why its answer cannot be right (a plausibility veto): it supported nothing
    repaired: bool = False  # its program failed, and this is the answer of its one repair
    repeats: bool = False  # its program only ran the run's own statements again: no route of its own
    code: str | None = None  # a program route's program (the run's own is in its steps)


@dataclass(frozen=True)
class TallyEntry:
    """The votes one answer got: a count, or the summed reward of its attempts."""

    key: str  # the normalised answer (policy.voting.answer_key): "1,000" and "1000.0" are one key
    votes: float


def _tally_to_json(entries: list[TallyEntry]) -> dict:
    return {entry.key: entry.votes for entry in entries}  # a mapping, as traces have always held it


def _tally_from_json(data: Any) -> list[TallyEntry]:
    from .event_json import _conforms  # the reader's half lives with the reader

    if not isinstance(data, dict):
        raise ValueError(f"a tally is a JSON object, not {type(data).__name__}")
    if not all(_conforms(v, float) for v in data.values()):
        raise ValueError("a tally's votes are numbers")
    return [TallyEntry(key, votes) for key, votes in data.items()]


def _limits_from_json(data: Any) -> Limits | None:
    # `{}` is what a BudgetUpdate without limits wrote before they were typed: not known, so not
    # Limits' defaults (which are a new run's budget, not what that run had).
    if data is None or data == {}:
        return None
    if not isinstance(data, dict):
        raise ValueError(f"limits are a JSON object, not {type(data).__name__}")
    from .event_json import _build

    return _build(Limits, data)


def json_form(write, read) -> dict:
    """Field metadata: how a field is written to the trace and read back, when not as itself."""
    return {"json": (write, read)}


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
            form = f.metadata.get("json")
            data[f.name] = form[0](value) if form else _to_json(value)
        return data


def _to_json(value: Any) -> Any:
    """A record as plain JSON data: its own `to_json`, else field by field."""
    if hasattr(value, "to_json"):
        return value.to_json()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [_to_json(v) for v in value]
    return value


@dataclass
class Continues:
    """The earlier run a follow-up continues (nbreason/followup.py): what the model is reminded of,
    and what rebuilds that run's state in a new sandbox when its own is gone."""

    run_id: str = ""
    question: str = ""
    answer: str | None = None
    trace: str | None = None  # the earlier run's trace file, where it had one
    code: list[str] = field(default_factory=list)  # the earlier run's code that ran cleanly
    setup: list[str] = field(default_factory=list)  # code the earlier run's own session started from
    variables: list[str] = field(default_factory=list)  # notebook variables the chain was given (--with NAME)
    files: list[str] = field(default_factory=list)  # data files the chain was given (--with PATH)


@dataclass
class RunStarted(Event):
    kind: ClassVar[str] = "run_started"
    question: str = ""
    context: str = ""
    config: dict = field(default_factory=dict)  # secrets removed
    versions: dict = field(default_factory=dict)
    continues: Continues | None = None  # a follow-up: the run it continues
    variables: list[str] = field(default_factory=list)  # names passed from the notebook (--with NAME)
    files: list[str] = field(default_factory=list)  # data files copied into the sandbox (--with PATH)
    returns: list[str] = field(default_factory=list)  # names to bring back into the notebook (--return)


@dataclass
class Rebuilt(Event):
    """A follow-up's earlier sandbox was gone, so its state was rebuilt by re-running its clean code
    in this run's sandbox. `failed` says which block failed and how ('' when all ran)."""

    kind: ClassVar[str] = "rebuilt"
    why: str = ""  # why the earlier sandbox could not be reused
    blocks: int = 0  # code blocks to re-run
    ran: int = 0  # blocks that ran cleanly
    failed: str = ""
    notes: list[str] = field(default_factory=list)  # inputs that could not be given again

    @property
    def message(self) -> str:
        text = f"{self.why}: its state was rebuilt by re-running its {self.blocks} code block" \
               f"{'s' if self.blocks != 1 else ''}"
        if self.failed:
            text = f"{self.why}: rebuilding its state stopped at block {self.ran + 1} of {self.blocks} ({self.failed})"
        return "; ".join([text, *self.notes])


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
    tool_calls: list[ToolCall] = field(default_factory=list)
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

    `execution` is the typed record of it (results with their MIME data, stdout, stderr, error);
    `summary` is the text the model sees.
    """

    kind: ClassVar[str] = "observation"
    execution: ExecutionRecord = field(default_factory=ExecutionRecord)
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


@dataclass
class Decision(Event):
    """What the loop does next: `continue`, `revise` or `final`."""

    kind: ClassVar[str] = "decision"
    action: str = "continue"
    reason: str = ""


@dataclass
class BudgetUpdate(Event):
    kind: ClassVar[str] = "budget"
    spent: Spent = field(default_factory=Spent)
    limits: Limits | None = field(default=None, metadata=json_form(_to_json, _limits_from_json))
    # limits None: not known (the views fall back to the run's config)
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
    answers: list[AttemptAnswer] = field(default_factory=list)  # one per attempt, in attempt order
    tally: list[TallyEntry] = field(default_factory=list, metadata=json_form(_tally_to_json, _tally_from_json))
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
    confidence: float | None = None  # how likely the answer is right (policy/confidence.py); verified above its cut-off
    solutions: list[SolutionRow] = field(default_factory=list)  # the check's solutions: which method gave which value
    features: dict = field(default_factory=dict)  # what `confidence` was computed from (policy/confidence.py)


EVENT_TYPES: dict[str, type[Event]] = {
    cls.kind: cls
    for cls in (
        RunStarted, ModelDelta, ModelCall, Retry, Plan, Code, Observation,
        Check, Decision, BudgetUpdate, Error, Stopped, Vote, FinalAnswer, Rebuilt,
    )
}
