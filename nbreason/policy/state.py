"""What the policy decides from, and what it decides: typed, immutable, free of I/O.

The loop gathers the facts of a step (what the model replied, what the code did, what the reward
signals say) into a `RunState`; `policy.decide(state)` returns a `Choice`; the loop carries it out
and emits it as a `Decision` event. Nothing here knows about kernels, models or events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ..events import Signal
from .verification import Verification

Action = Literal["continue", "revise", "verify", "backtrack", "final"]
Phase = Literal["step", "check"]


@dataclass(frozen=True)
class Reply:
    """What one step produced: the model's reply and, if it wrote code, how the code ran."""

    refusal: str = ""  # the model declined and said nothing else
    code: bool = False  # the reply had code, and it ran
    error: str | None = None  # "Name: value" when the code failed
    answer: str | None = None  # the answer the model stated (FINAL ANSWER: / final_answer)
    printed: str | None = None  # the one short line the code printed, if that is all it printed
    stalled: str | None = None  # the stall detector's verdict on this step's code


@dataclass(frozen=True)
class Judgement:
    """The reward policy's verdict on the answer proposed this step."""

    answer: str
    reward: float
    signals: tuple[Signal, ...] = ()

    @property
    def weak(self) -> tuple[str, ...]:
        """Why the reward is not higher: the reasons of every signal below 1."""
        return tuple(s.reason for s in self.signals if s.value < 1.0)


@dataclass(frozen=True)
class Settings:
    """The run's configuration, as far as stopping is concerned."""

    threshold: float = 0.7
    self_check: str = "off"  # off | methods | verify | recompute (auto is resolved first: see self_check_mode)
    backtrack: bool = True
    answers_by_printing: bool = False
    recompute_max: int = 3  # recompute: further independent solutions, at most


@dataclass(frozen=True)
class RunState:
    """Everything a stopping rule may look at, at one decision point.

    `phase` is "step" after a step of the run itself and "check" after an independent solution
    of a running verification."""

    phase: Phase = "step"
    settings: Settings = field(default_factory=Settings)
    reply: Reply = field(default_factory=Reply)
    judged: Judgement | None = None  # the answer proposed this step and its reward
    steps_left: int | None = None  # None: no step limit
    idle_replies: int = 0  # replies in a row with neither code nor an answer, this one included
    backtracks: int = 0  # backtracks already made
    last_good_step: int = 0  # the last step whose code ran cleanly (0: none): where a backtrack returns
    has_run_code: bool = False  # some code has run in this run (changes what the model is asked for)
    rejections: int = 0  # times this step's answer was already sent back
    verifying: str | None = None  # the answer whose model-written check (verify mode) ran this step
    self_checked: bool = False  # this step's answer already passed or failed such a check
    verification: Verification | None = None  # the independent re-solving check, once started


@dataclass(frozen=True)
class Choice:
    """What the loop does next, and why (the `Decision` event shows `action` and `reason`)."""

    action: Action
    reason: str
    answer: str | None = None  # final: the answer given; verify: the answer under check
    verified: bool | None = None  # final: whether the answer passed every check the run asked for
    outcome: str = ""  # final: the stop reason ("answered", "answered (unverified)", "stalled: …")
    message: str | None = None  # revise/verify: what the model is told next
    check: str | None = None  # verify: which check runs next ("methods", "verify", "recompute", or "repair":
    # the failed program of the latest solution is repaired)
    ruled_out: str | None = None  # verify: why the answer under check cannot be right (it supports nothing)

    @property
    def ends(self) -> bool:
        return self.action == "final"
