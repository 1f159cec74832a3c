"""Two runs side by side: their events aligned, and the first point where they part ways.

Pure functions of events, so a comparison is the same every time it is drawn (widgets,
terminal, HTML report). Events are aligned by what they are, not by when they happened:
the same kind of event in the same step (and attempt) of each run is one *moment*. Timing,
token counts and budget updates always differ between two runs and never count as a
divergence; the code, what it printed, the check, the decision, errors and the answer do.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from .events import (
    BudgetUpdate, Check, Code, Decision, Error, Event, FinalAnswer, ModelCall, ModelDelta, Observation, Plan,
    Retry, RunStarted, Stopped, Vote,
)
from .execution import ExecutionRecord

# What never counts as a difference: when, how long, how many tokens.
UNCOMPARED = (BudgetUpdate, Retry, ModelCall, Plan, RunStarted)
# Events of a run's own closing (after every attempt), aligned with the other run's closing.
CLOSING = (Vote, FinalAnswer)


@dataclass(frozen=True)
class Row:
    """One moment: the event each run had there (None: that run has no such moment)."""

    key: tuple
    left: Event | None
    right: Event | None
    differs: str | None = None  # what differs here (a `Divergence.kind`); None: nothing that counts

    @property
    def step(self) -> int:
        return whole((self.left or self.right).step)

    @property
    def attempt(self) -> int:
        return whole((self.left or self.right).attempt)


@dataclass(frozen=True)
class Divergence:
    """Where the runs first part ways: the row, what differs there, said in one sentence."""

    row: int
    kind: str  # code | output | check | decision | error | answer | only-left | only-right
    step: int
    attempt: int
    what: str


@dataclass(frozen=True)
class RunEnd:
    """How one run ended: what a class compares at the end."""

    answer: str | None
    reward: float | None
    verified: bool | None
    stop_reason: str
    steps: int
    tokens: int
    cost: float | None
    seconds: float
    finished: bool = True  # False: the trace stops before the run's final answer


@dataclass(frozen=True)
class Comparison:
    rows: list[Row]
    first: Divergence | None
    ends: tuple[RunEnd, RunEnd]
    settings: list[tuple[str, object, object]] = field(default_factory=list)  # (name, left, right) that differ
    questions: tuple[str, str] = ("", "")


# --- alignment ---------------------------------------------------------------------------

def whole(value) -> int:
    """A step or attempt number as an int (a hand-crafted trace may put anything there: 0)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _section(event: Event) -> int:
    """The run itself first, then each attempt in turn, then the run's own closing (vote, answer):
    attempts run in parallel and interleave in a trace, differently in every run."""
    if whole(event.attempt) == 0 and isinstance(event, CLOSING):
        return 1 << 30
    return whole(event.attempt)


def moments(events: list[Event]) -> list[tuple[tuple, Event]]:
    """Each event with its key: (attempt, step, kind, how many of that kind came before in that step).
    A run's start and its closing events are keyed without a step: they meet whatever the step count."""
    keyed, seen = [], {}
    ordered = sorted((e for e in events if not isinstance(e, ModelDelta)), key=_section)  # sort is stable
    for event in ordered:
        if isinstance(event, (RunStarted, *CLOSING)):
            base = (whole(event.attempt), event.kind)
        else:
            base = (whole(event.attempt), whole(event.step), event.kind)
        count = seen.get(base, 0)
        seen[base] = count + 1
        keyed.append((base + (count,), event))
    return keyed


def align(left: list[Event], right: list[Event]) -> list[Row]:
    """Both runs as one list of rows, in order; a moment only one run had gets a row with a gap."""
    a, b = moments(left), moments(right)
    matcher = difflib.SequenceMatcher(None, [k for k, _ in a], [k for k, _ in b], autojunk=False)
    rows: list[Row] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            rows += [Row(ka, ea, eb, difference(ea, eb)) for (ka, ea), (_, eb) in zip(a[i1:i2], b[j1:j2])]
        else:  # different moments: each run's own, the left run's first
            rows += [Row(k, e, None, _only("only-left", e)) for k, e in a[i1:i2]]
            rows += [Row(k, None, e, _only("only-right", e)) for k, e in b[j1:j2]]
    return rows


def _only(kind: str, event: Event) -> str | None:
    return None if isinstance(event, (BudgetUpdate, Retry)) else kind


# --- what differs --------------------------------------------------------------------------

def _lines(text) -> str:
    text = text if isinstance(text, str) else "" if text is None else str(text)
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


def output_text(observation: Observation) -> str:
    """What the code showed, as text: printed output, displayed values, the error's name and message.
    (Tracebacks are left out: they number cells differently in every kernel.)"""
    execution = observation.execution if isinstance(observation.execution, ExecutionRecord) else ExecutionRecord()
    parts = [execution.stdout_text, execution.stderr_text]
    parts += [str(result.text or "") for result in execution.results]
    if execution.error is not None:
        parts.append(execution.error.headline)
    return _lines("\n".join(p.strip("\n") for p in parts if p.strip("\n")))


def _answer(value) -> str:
    return "" if value is None else " ".join(str(value).split())


def _reward(value) -> object:
    return round(value, 2) if isinstance(value, (int, float)) and not isinstance(value, bool) else value


def difference(left: Event, right: Event) -> str | None:
    """What differs between two events of the same moment (None: nothing that matters)."""
    if type(left) is not type(right):  # cannot happen for aligned rows (the key holds the kind)
        return "event"
    if isinstance(left, UNCOMPARED):
        return None
    if isinstance(left, Code):
        return "code" if _lines(left.code) != _lines(right.code) else None
    if isinstance(left, Observation):
        same = left.ok == right.ok and output_text(left) == output_text(right)
        return None if same else "output"
    if isinstance(left, Check):
        same = _reward(left.reward) == _reward(right.reward) and _answer(left.answer) == _answer(right.answer)
        return None if same else "check"
    if isinstance(left, Decision):
        return "decision" if left.action != right.action else None
    if isinstance(left, Error):
        return "error" if left.message != right.message else None
    if isinstance(left, Stopped):
        return None
    if isinstance(left, Vote):
        return "answer" if _answer(left.winner) != _answer(right.winner) else None
    if isinstance(left, FinalAnswer):
        same = _answer(left.answer) == _answer(right.answer) and left.verified == right.verified
        return None if same else "answer"
    return None


def _where(row: Row) -> str:
    step = f"step {row.step}" if row.step else "the start"
    return f"attempt {row.attempt}, {step}" if row.attempt else step


def _short(value, limit: int = 40) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe(row: Row, labels: tuple[str, str] = ("A", "B"), last_steps: tuple[int, int] | None = None) -> str:
    """One sentence for a row that differs, e.g. "step 2: the check differs (reward 1.00 vs 0.33)".
    `last_steps`: each run's last step (in the row's attempt), to say when the other run had stopped."""
    a, b = labels
    left, right = row.left, row.right
    where = _where(row)
    if row.differs in ("only-left", "only-right"):
        (mine, other), (event, other_last) = ((a, b), (left, last_steps and last_steps[1])) \
            if row.differs == "only-left" else ((b, a), (right, last_steps and last_steps[0]))
        if other_last is not None and row.step > other_last:
            return f"{where}: only {mine} went on to this step; {other} stopped after step {other_last}"
        return f"{where}: only {mine} has a {event.kind} event here"
    if row.differs == "code":
        return f"{where}: the two runs wrote different code"
    if row.differs == "output":
        return (f"{where}: the code printed different output "
                f"({_short(output_text(left)) or 'nothing'} vs {_short(output_text(right)) or 'nothing'})")
    if row.differs == "check":
        return (f"{where}: the check differs (reward {_num(left.reward)} for {_short(left.answer)!s} vs "
                f"{_num(right.reward)} for {_short(right.answer)!s})")
    if row.differs == "decision":
        return f"{where}: {a} decided {left.action}, {b} decided {right.action}"
    if row.differs == "error":
        return f"{where}: different errors ({_short(left.message)} vs {_short(right.message)})"
    if row.differs == "answer":
        return f"different final answers: {_short(_answer_of(left))} vs {_short(_answer_of(right))}"
    return f"{where}: different events ({left.kind} vs {right.kind})"


def _answer_of(event: Event) -> str:
    value = event.winner if isinstance(event, Vote) else getattr(event, "answer", None)
    return "no answer" if value is None else str(value)


def _num(value) -> str:
    return f"{value:.2f}" if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


def _last_step(rows: list[Row], side: str, attempt: int) -> int:
    events = (getattr(row, side) for row in rows)
    return max((whole(e.step) for e in events if e is not None and whole(e.attempt) == attempt), default=0)


def first_divergence(rows: list[Row], labels: tuple[str, str] = ("A", "B")) -> Divergence | None:
    for index, row in enumerate(rows):
        if row.differs:
            last = (_last_step(rows, "left", row.attempt), _last_step(rows, "right", row.attempt))
            return Divergence(index, row.differs, row.step, row.attempt, describe(row, labels, last))
    return None


# --- the ends ------------------------------------------------------------------------------

def run_end(events: list[Event]) -> RunEnd:
    final = next((e for e in reversed(events) if isinstance(e, FinalAnswer) and whole(e.attempt) == 0), None)
    if final is None:  # a trace cut short: what it got to
        steps = max((whole(e.step) for e in events if whole(e.attempt) == 0), default=0)
        last = max((e.elapsed for e in events if isinstance(e.elapsed, (int, float))), default=0.0)
        return RunEnd(None, None, None, "unfinished", steps, 0, None, last, finished=False)
    return RunEnd(final.answer, final.reward, final.verified, final.stop_reason, final.steps,
                  final.usage.total_tokens, final.usage.cost, final.elapsed)


def setting_differences(left: list[Event], right: list[Event]) -> list[tuple[str, object, object]]:
    """The run settings that differ (the trace file name aside: it always does)."""
    def config(events):
        started = next((e for e in events if isinstance(e, RunStarted)), None)
        return started.config if started is not None and isinstance(started.config, dict) else {}

    a, b = config(left), config(right)
    return [(name, a.get(name), b.get(name)) for name in sorted(set(a) | set(b), key=str)
            if name != "trace" and a.get(name) != b.get(name)]


def _question(events: list[Event]) -> str:
    return next((e.question for e in events if isinstance(e, RunStarted)), "")


def compare(left: list[Event], right: list[Event], labels: tuple[str, str] = ("A", "B")) -> Comparison:
    """`compare(read_trace("a.jsonl"), read_trace("b.jsonl"))`."""
    rows = align(left, right)
    return Comparison(rows, first_divergence(rows, labels), (run_end(left), run_end(right)),
                      setting_differences(left, right), (_question(left), _question(right)))
