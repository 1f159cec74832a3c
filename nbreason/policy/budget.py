"""Budget: what a run may spend, and what it has spent so far.

Limits are checked before each model call and after each step; the first one reached
names the stop reason ("budget:steps", "budget:tokens", "budget:seconds", "budget:cost").
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from ..events import Limits, Spent, Usage  # Limits and Spent live with the events that carry them

__all__ = ["Budget", "Limits", "Spent", "cost_ceiling", "last_step_tokens"]


@dataclass
class Budget:
    limits: Limits = field(default_factory=Limits)
    usage: Usage = field(default_factory=Usage)
    steps: int = 0
    started: float = field(default_factory=time.monotonic)

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.started

    def charge(self, usage: Usage) -> None:
        self.usage = self.usage + usage

    def spent(self) -> Spent:
        return Spent(steps=self.steps, tokens=self.usage.total_tokens, seconds=round(self.seconds, 2),
                     cost=self.usage.cost)  # cost None: unknown price

    def exceeded(self) -> str | None:
        """The first limit reached, as a stop reason, or None."""
        lim = self.limits
        if lim.steps is not None and self.steps >= lim.steps:
            return "budget:steps"
        if lim.tokens is not None and self.usage.total_tokens >= lim.tokens:
            return "budget:tokens"
        if lim.seconds is not None and self.seconds >= lim.seconds:
            return "budget:seconds"
        if lim.cost is not None and self.usage.cost is not None and self.usage.cost >= lim.cost:
            return "budget:cost"
        return None

    def deadline(self) -> float | None:
        """When the time budget runs out, on the `time.monotonic()` clock; None without one."""
        return None if self.limits.seconds is None else self.started + self.limits.seconds

    def seconds_left(self) -> float | None:
        if self.limits.seconds is None:
            return None
        return max(0.0, self.limits.seconds - self.seconds)


def cost_ceiling(limits: Limits, input_price: float | None, output_price: float | None,
                 last_step_tokens: int = 0) -> float | None:
    """The most a run can spend in USD, said before it starts, for a priced model: every token the
    budget allows, or the cost limit, whichever binds first, billed at the dearer of the two prices.
    Limits are checked between steps, so the last step may go past them by its own calls (at most
    `last_step_tokens`, prompts and replies); that is included. None for an unknown price or a run
    with neither a token nor a cost limit."""
    if input_price is None or output_price is None:
        return None
    per_token = max(input_price, output_price) / 1_000_000
    over = last_step_tokens * per_token
    bounds = [limit for limit in (limits.tokens * per_token if limits.tokens is not None else None,
                                  limits.cost) if limit is not None]
    return min(bounds) + over if bounds else None


def last_step_tokens(context_chars: int, prompt_chars: int, max_tokens: int) -> int:
    """The most one step's calls can spend past a limit: a reply and its redraw, each prompt at most
    the history kept plus the question, its context and the system prompt (`prompt_chars`), at two
    characters a token to be safe, and each reply at most `max_tokens`."""
    return 2 * ((context_chars + prompt_chars) // 2 + max_tokens)
