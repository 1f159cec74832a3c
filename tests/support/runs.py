"""Small synthetic runs, built step by step, for comparing and replaying without a model."""

from __future__ import annotations

from nbreason.events import (
    BudgetUpdate, Check, Code, Decision, FinalAnswer, ModelCall, Observation, RunStarted, Signal, Spent, Usage,
)
from nbreason.execution import ErrorRecord, ExecutionRecord
from nbreason.trace import TraceWriter


def step(n, code="x = 1\nprint(x)", output="1\n", *, reward=1.0, answer="1", action="final", attempt=0,
         error=None, slow=False):
    """The events of one step; `slow` changes only timings and token counts."""
    t = 10.0 * n + (5 if slow else 0)
    execution = ExecutionRecord(stdout=(output,) if output else (),
                                error=ErrorRecord(**error) if error else None)
    return [
        ModelCall(step=n, attempt=attempt, elapsed=t, usage=Usage(50 + (30 if slow else 0), 20, calls=1),
                  duration=3.0 + slow),
        Code(step=n, attempt=attempt, elapsed=t + 1, code=code),
        Observation(step=n, attempt=attempt, elapsed=t + 2, execution=execution, ok=error is None),
        Check(step=n, attempt=attempt, elapsed=t + 3, reward=reward, answer=answer,
              signals=[Signal("grounded", reward, "in the output")]),
        Decision(step=n, attempt=attempt, elapsed=t + 3, action=action, reason=f"reward {reward} (n={n})"),
        BudgetUpdate(step=n, attempt=attempt, elapsed=t + 4, spent=Spent(steps=n, seconds=t + 4)),
    ]


def run(*steps, answer="1", attempt=0, stop="answered", self_check="auto"):
    events = [RunStarted(question="What is x?", config={"model": "m", "self_check": self_check,
                                                        "trace": f"{self_check}.jsonl"})]
    for s in steps:
        events += s
    last = max(e.step for e in events)
    events.append(FinalAnswer(step=last, attempt=attempt, answer=answer, stop_reason=stop, reward=1.0,
                              verified=True, steps=last, usage=Usage(100, 40, calls=last, cost=0.0), elapsed=99.0))
    return events


def attempts(*per_attempt, interleave=True):
    """A run of several attempts; `interleave`: their events mixed in time, as parallel attempts write them."""
    streams = [[e for e in s] for s in per_attempt]
    events = [RunStarted(question="What is x?", config={"model": "m", "attempts": len(streams)})]
    if interleave:
        while any(streams):
            for s in streams:
                if s:
                    events.append(s.pop(0))
    else:
        for s in streams:
            events += s
    events.append(FinalAnswer(step=1, answer="1", stop_reason="answered", reward=1.0, steps=1))
    return events


def write(events, path) -> str:
    """The events as a trace file, as a run writes it."""
    writer = TraceWriter(path)
    for event in events:
        writer(event)
    writer.close()
    return str(path)
