"""The result of a run, and the one fold of its events into steps.

Every view of a finished or running run (the static HTML, the live widgets, the exported
notebook, `RunResult`) reads the same `RunFold`: events folded into `Step`s keyed by
(attempt, step), since the events of parallel attempts interleave and each attempt numbers its
steps from 1, plus each attempt's run-level parts and the vote. `RunFold.add` takes one event at
a time, so the live view folds as events arrive and ends up with what a replay of the trace folds.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from typing import Any

from .events import (AttemptAnswer, SolutionRow, BudgetUpdate, Check, Code, Continues, Decision, Error, Event,
                     FinalAnswer, ModelCall, ModelDelta, Observation, Plan, Rebuilt, Retry, RunStarted, Stopped, Usage,
                     Vote)
from .execution import ExecutionRecord
from .policy.verification import solutions_text


@dataclass
class Step:
    """What one step of one attempt (0: the run itself) did, filled in by `RunFold`."""

    attempt: int
    step: int
    plan: str = ""
    code: str | None = None
    observation: Observation | None = None
    check: Check | None = None  # the last verdict of the step
    decision: Decision | None = None
    errors: list[Error] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    start: float | None = None  # `elapsed` of its first event
    end: float = 0.0  # `elapsed` of its last event

    @property
    def key(self) -> tuple[int, int]:
        return self.attempt, self.step

    @property
    def execution(self) -> ExecutionRecord | None:
        return self.observation.execution if self.observation else None

    @property
    def summary(self) -> str:
        """The output as the model saw it."""
        return self.observation.summary if self.observation else ""

    @property
    def failed(self) -> bool:
        """Its code ran and failed."""
        return self.observation is not None and (not self.observation.ok or self.observation.execution.error is not None)

    @property
    def seconds(self) -> float:
        return max(0.0, self.end - (self.start or 0.0))

    def to_json(self) -> dict:
        execution = self.execution
        return {"attempt": self.attempt, "step": self.step, "plan": self.plan, "code": self.code,
                "execution": execution.to_json() if execution else None, "summary": self.summary,
                "check": self.check.to_json() if self.check else None,
                "decision": self.decision.action if self.decision else None,
                "errors": [e.message for e in self.errors], "usage": self.usage.to_json(), "seconds": self.seconds}


@dataclass
class RunPart:
    """The parts of a run, or of one of its attempts, that belong to no step."""

    attempt: int
    started: RunStarted | None = None
    budget: BudgetUpdate | None = None  # the latest
    stopped: Stopped | None = None
    final: FinalAnswer | None = None
    errors: list[Error] = field(default_factory=list)  # errors outside any step (setup, sandbox warnings)
    rebuilt: Rebuilt | None = None  # a follow-up whose earlier state was rebuilt


class RunFold:
    """A run's events folded into steps keyed by (attempt, step) and run-level parts.

    `add` one event at a time; `fold(events)` folds a whole list. The run itself is attempt 0;
    `started`, `final`, `budget`, `stopped` and `errors` are its parts, `part(n)` those of attempt n.
    """

    def __init__(self) -> None:
        self.steps: dict[tuple[int, int], Step] = {}
        self.parts: dict[int, RunPart] = {}
        self.vote: Vote | None = None

    def add(self, event: Event) -> Step | None:
        """Fold one event in; return the step it belongs to (None: a run-level event)."""
        part = self._part(event.attempt)
        if isinstance(event, RunStarted):
            part.started = event
        elif isinstance(event, BudgetUpdate):
            part.budget = event
        elif isinstance(event, FinalAnswer):
            part.final = event
        elif isinstance(event, Stopped):
            part.stopped = event
        elif isinstance(event, Vote):
            self.vote = event
        elif isinstance(event, Rebuilt):
            part.rebuilt = event
        elif isinstance(event, Retry):
            pass  # a transient wait, shown live only
        elif event.step > 0:
            return self._add_to_step(event)
        elif isinstance(event, Error):
            part.errors.append(event)
        return None

    def _add_to_step(self, event: Event) -> Step:
        key = (event.attempt, event.step)
        step = self.steps.get(key)
        if step is None:
            step = self.steps[key] = Step(event.attempt, event.step)
        if isinstance(event, ModelDelta):
            return step  # the live view shows the text streaming in; the step itself is unchanged
        if step.start is None:
            step.start = event.elapsed
        step.end = max(step.end, event.elapsed)
        if isinstance(event, Plan):
            step.plan = event.text
        elif isinstance(event, Code):
            step.code = event.code
        elif isinstance(event, Observation):
            step.observation = event
        elif isinstance(event, Check):
            step.check = event
        elif isinstance(event, Decision):
            step.decision = event
        elif isinstance(event, ModelCall):
            step.usage = step.usage + event.usage
        elif isinstance(event, Error):
            step.errors.append(event)
        return step

    def _part(self, attempt: int) -> RunPart:
        if attempt not in self.parts:
            self.parts[attempt] = RunPart(attempt)
        return self.parts[attempt]

    # --- reading -----------------------------------------------------------------------------
    def part(self, attempt: int = 0) -> RunPart:
        return self.parts.get(attempt) or RunPart(attempt)

    def steps_of(self, attempt: int = 0) -> list[Step]:
        """One attempt's steps, in order."""
        return sorted((s for s in self.steps.values() if s.attempt == attempt), key=lambda s: s.step)

    @property
    def attempts(self) -> list[int]:
        """The numbers of the attempts that emitted anything (empty for a run of one attempt)."""
        return sorted({n for n in self.parts if n > 0} | {a for a, _ in self.steps if a > 0})

    @property
    def winner(self) -> int:
        """The attempt whose answer the run gave: the vote's winner, else the run itself (0)."""
        return self.vote.winner_attempt if self.vote else 0

    @property
    def started(self) -> RunStarted | None:
        return self.part(0).started

    @property
    def final(self) -> FinalAnswer | None:
        return self.part(0).final

    @property
    def budget(self) -> BudgetUpdate | None:
        return self.part(0).budget

    @property
    def stopped(self) -> Stopped | None:
        return self.part(0).stopped

    @property
    def errors(self) -> list[Error]:
        return self.part(0).errors


def fold(events) -> RunFold:
    """Fold a run's events (all its attempts') into steps and run-level parts."""
    run = RunFold()
    for event in events:
        run.add(event)
    return run


@dataclass
class RunResult:
    question: str
    answer: str | None = None
    stop_reason: str = ""
    reward: float = 0.0
    verified: bool | None = None
    steps: list[Step] = field(default_factory=list)  # the winning attempt's, with several
    usage: Usage = field(default_factory=Usage)
    trace_path: str | None = None
    events: list[Event] = field(default_factory=list, repr=False)
    config: dict = field(default_factory=dict, repr=False)
    attempts: list[AttemptAnswer] = field(default_factory=list)  # several attempts: each one's answer and reward
    vote_why: str = ""
    confidence: float | None = None  # how likely the answer is right; `verified` means above the cut-off
    solutions: list[SolutionRow] = field(default_factory=list)  # the answer's check: which method gave which value
    returned: dict[str, Any] = field(default_factory=dict, repr=False)  # --return: the values, by name
    # The run's sandbox, left open for a follow-up (reason(..., keep_sandbox=True)); `close()` closes it.
    sandbox: Any = field(default=None, repr=False, compare=False)

    @classmethod
    def from_events(cls, events: list[Event], trace_path: str | None = None) -> "RunResult":
        run = fold(events)
        started, final, vote = run.started, run.final, run.vote
        result = cls(question=started.question if started else "", events=list(events),
                     config=started.config if started else {}, trace_path=trace_path,
                     steps=run.steps_of(run.winner))
        if vote:
            result.attempts, result.vote_why = list(vote.answers), vote.why
        if final:
            result.answer, result.stop_reason = final.answer, final.stop_reason
            result.reward, result.verified, result.usage = final.reward, final.verified, final.usage
            result.confidence, result.solutions = final.confidence, list(final.solutions)
        return result

    @property
    def continues(self) -> Continues | None:
        """The earlier run this one followed, if it was a follow-up."""
        started = next((e for e in self.events if isinstance(e, RunStarted) and e.attempt == 0), None)
        return started.continues if started else None

    async def close(self) -> None:
        """Close the sandbox kept for a follow-up (a follow-up of this run then rebuilds its state)."""
        sandbox, self.sandbox = self.sandbox, None
        if sandbox is not None:
            await sandbox.close()

    @property
    def competing(self) -> str:
        """Which method gave which value, when the check saw more than one ("program: 10.0 · prose: 30")."""
        from .answers import key

        if len({key(s.answer) for s in self.solutions if s.answer is not None}) < 2 and \
                not any(s.ruled_out for s in self.solutions):  # or ruled one out: "52 (cannot be right)"
            return ""
        return solutions_text(self.solutions)

    @property
    def final(self) -> FinalAnswer | None:
        return next((e for e in reversed(self.events) if isinstance(e, FinalAnswer) and e.attempt == 0), None)

    def solution_code(self) -> str:
        """The code that ran cleanly, in order: rerunning it reproduces the answer without nbreason."""
        final = self.final
        cells = final.code if final else [s.code for s in self.steps if s.code]
        return "\n\n".join(cells)

    def export_cells(self) -> list:
        from .export import cells_from_result
        return cells_from_result(self)

    def to_json(self) -> dict:
        return {"question": self.question, "answer": self.answer, "stop_reason": self.stop_reason,
                "reward": self.reward, "verified": self.verified, "confidence": self.confidence,
                "solutions": [asdict(row) for row in self.solutions], "competing": self.competing,
                "usage": self.usage.to_json(),
                "steps": [s.to_json() for s in self.steps], "trace_path": self.trace_path,
                "attempts": [asdict(a) for a in self.attempts], "vote": self.vote_why, "config": self.config,
                "continues": asdict(self.continues) if self.continues else None, "returned": sorted(self.returned)}

    def __str__(self) -> str:
        return f"{self.answer} ({self.stop_reason}, {len(self.steps)} steps, {self.usage.total_tokens} tokens)"

    def _repr_html_(self) -> str:
        from .views.html import render_result
        return render_result(self)

    def _repr_markdown_(self) -> str:
        # Front ends without HTML show this: the model's answer must stay text, not markup.
        from .views.safe import markdown_text

        return f"**Answer:** {markdown_text(self.answer)}  \n*{markdown_text(self.stop_reason)} after " \
               f"{len(self.steps)} steps, {self.usage.total_tokens} tokens*"

    def dumps(self) -> str:
        return json.dumps(self.to_json(), default=str)
