"""How far a benchmark has got: what `Bench` reports as results arrive.

A benchmark runs for an hour; `nbreason bench` shows these reports as a live table (or plain
lines when its output is not a terminal). A report is a snapshot, complete in itself: every
strategy's problems done and accuracy so far, the pass running, and the time left, estimated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class StrategyScore:
    strategy: str
    done: int  # problems with a result, resumed ones included
    correct: int
    total: int

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.done if self.done else None


@dataclass(frozen=True)
class BenchProgress:
    scores: tuple[StrategyScore, ...]  # every strategy, in the order asked for
    phase: str  # the pass running ("loop", "pool of 8 loop samples"); "" once all have run
    phase_index: int  # 1-based; 0 before the first
    phases: int
    phase_done: int  # problems of this pass finished (resumed ones at once)
    phase_total: int
    elapsed: float  # seconds since the benchmark started
    # Estimated from the seconds per attempt so far (single shots and loop attempts apart),
    # times the attempts still to run; None until an attempt has finished.
    seconds_left: float | None

    @property
    def finished(self) -> bool:
        return self.phase == ""


OnBenchProgress = Callable[[BenchProgress], None]


def duration(seconds: float) -> str:
    """'45 s', '12 min', '1 h 05 min'."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def line(progress: BenchProgress) -> str:
    """The report as one plain line, for logs."""
    scores = ", ".join(f"{s.strategy} {s.done}/{s.total}" + (f" {s.accuracy:.1%}" if s.done else "")
                       for s in progress.scores)
    if progress.finished:
        return f"done after {duration(progress.elapsed)}: {scores}"
    left = f", about {duration(progress.seconds_left)} left" if progress.seconds_left is not None else ""
    return (f"[{progress.phase_index}/{progress.phases} {progress.phase}] {progress.phase_done}/"
            f"{progress.phase_total} problems; {scores}; {duration(progress.elapsed)} elapsed{left}")
