"""The result of a run: answer, steps, usage and trace, rebuilt from the event stream."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from .events import (AttemptAnswer, Check, Code, Event, FinalAnswer, ModelCall, Observation, Plan, RunStarted,
                     Usage, Vote)
from .execution import ExecutionRecord


@dataclass
class StepRecord:
    step: int
    plan: str = ""
    code: str | None = None
    execution: ExecutionRecord | None = None
    summary: str = ""
    check: Check | None = None
    usage: Usage = field(default_factory=Usage)
    duration: float = 0.0

    def to_json(self) -> dict:
        return {"step": self.step, "plan": self.plan, "code": self.code,
                "execution": self.execution.to_json() if self.execution else None,
                "summary": self.summary, "check": self.check.to_json() if self.check else None,
                "usage": self.usage.to_json(), "duration": self.duration}


def steps_from_events(events: list[Event], attempt: int = 0) -> list[StepRecord]:
    steps: dict[int, StepRecord] = {}
    for event in events:
        if event.step <= 0 or event.attempt != attempt:
            continue
        record = steps.setdefault(event.step, StepRecord(event.step))
        if isinstance(event, ModelCall):
            record.usage = record.usage + event.usage
            record.duration += event.duration
        elif isinstance(event, Plan):
            record.plan = event.text
        elif isinstance(event, Code):
            record.code = event.code
        elif isinstance(event, Observation):
            record.execution, record.summary = event.execution, event.summary
            record.duration += event.duration
        elif isinstance(event, Check):
            record.check = event
    return [steps[k] for k in sorted(steps)]


@dataclass
class RunResult:
    question: str
    answer: str | None = None
    stop_reason: str = ""
    reward: float = 0.0
    verified: bool | None = None
    steps: list[StepRecord] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    trace_path: str | None = None
    events: list[Event] = field(default_factory=list, repr=False)
    config: dict = field(default_factory=dict, repr=False)
    attempts: list[AttemptAnswer] = field(default_factory=list)  # several attempts: each one's answer and reward
    vote_why: str = ""

    @classmethod
    def from_events(cls, events: list[Event], trace_path: str | None = None) -> "RunResult":
        started = next((e for e in events if isinstance(e, RunStarted)), None)
        final = next((e for e in reversed(events) if isinstance(e, FinalAnswer) and e.attempt == 0), None)
        vote = next((e for e in reversed(events) if isinstance(e, Vote)), None)
        result = cls(question=started.question if started else "", events=list(events),
                     config=started.config if started else {}, trace_path=trace_path,
                     steps=steps_from_events(events, vote.winner_attempt if vote else 0))
        if vote:
            result.attempts, result.vote_why = list(vote.answers), vote.why
        if final:
            result.answer, result.stop_reason = final.answer, final.stop_reason
            result.reward, result.verified, result.usage = final.reward, final.verified, final.usage
        return result

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
                "reward": self.reward, "verified": self.verified, "usage": self.usage.to_json(),
                "steps": [s.to_json() for s in self.steps], "trace_path": self.trace_path,
                "attempts": [asdict(a) for a in self.attempts], "vote": self.vote_why, "config": self.config}

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
