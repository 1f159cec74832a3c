"""One sampling scheme for every independent sample: attempts that vote and the fresh solutions
of a verification. Samples must differ from the greedy first answer and from each other, so each
is drawn at `SAMPLE_TEMPERATURE` (or the run's own, if higher) with a seed of its own."""

from __future__ import annotations

from dataclasses import dataclass

SAMPLE_TEMPERATURE = 0.7
SOLUTION_SEEDS = 1000  # a verification's solutions take seeds from here on, apart from attempts'
REVISION_SEEDS = 2000  # redrawn replies of a run's own steps
REDRAW_SEEDS = 500  # a step's second redraw, apart from its first
REDRAW_WARMER = 0.3  # each redraw after the first is this much warmer


@dataclass(frozen=True)
class Sampling:
    temperature: float
    seed: int


def attempt_sampling(temperature: float, seed: int | None, attempt: int) -> Sampling:
    """Attempt `attempt` (1, 2, …) of several that vote."""
    return Sampling(max(temperature, SAMPLE_TEMPERATURE), (seed or 0) + attempt)


def solution_sampling(temperature: float, seed: int | None, solution: int) -> Sampling:
    """Independent solution `solution` (0, 1, …) of a verification."""
    return Sampling(max(temperature, SAMPLE_TEMPERATURE), (seed or 0) + SOLUTION_SEEDS + solution)


def revision_sampling(temperature: float, seed: int | None, step: int, draw: int = 0) -> Sampling:
    """A step's reply drawn again (`draw` 0, 1, …) because it repeats a program that already failed:
    greedy decoding rewrites a failing program byte for byte, so the redraw is sampled, and a
    second one warmer (at 0.7 the 1.5B model drew the same 86-token program again)."""
    return Sampling(max(temperature, SAMPLE_TEMPERATURE) + REDRAW_WARMER * draw,
                    (seed or 0) + REVISION_SEEDS + step + REDRAW_SEEDS * draw)
