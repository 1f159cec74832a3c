"""Ways to spend compute on one question, from least to most, for `nbreason bench`.

    single-shot      one model call for one program, run once: a run of one step, no checks (the baseline)
    loop             one reason() run: plan, code, run, check, decide
    vote@N           N sampled attempts in parallel, majority vote
    wvote@N          the same, each vote weighted by its attempt's reward
    adaptive@N       sampled attempts, each with its checks, a few at a time, stopping once one is
                     verified or the leader is settled (voting.stop_check), at most N;
                     confidence-weighted vote

Every strategy runs through `runner.reason` and the attempts engine (nbreason/attempts.py), the
same code `%%reason` and `nbreason run --attempts N --strategy S` run, so the benchmark measures
what users run.

An attempt of vote/adaptive is a loop run unless the spec names another base:
"vote@8:single-shot". A loop, or a voted loop, takes run options after "+":
"loop+no-check", "vote@8+recompute" (see OPTIONS). Attempts sample (temperature `SAMPLE_TEMPERATURE`, a distinct seed
each): with greedy decoding they would all be the same attempt.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from . import attempts as engine
from .answers import key as answer_key
from .attempts import Attempt
from .config import RunConfig
from .policy.sampling import SAMPLE_TEMPERATURE  # noqa: F401  (shown in bench summaries)

SPEC = re.compile(r"^(single-shot|loop|vote|wvote|adaptive)(?:@(\d+))?(?::(single-shot|loop))?((?:\+[a-z-]+)*)$")
# "+name" in a spec: the config changes that loop attempts run with.
OPTIONS = {"verify": {"self_check": "verify"}, "recompute": {"self_check": "recompute"},
           "no-check": {"self_check": "off"}, "no-backtrack": {"backtrack": False}}

# The baseline is the run's own first step and nothing else: the same prompt, one program run
# once, its last printed line the answer, no revision, no checks.
SINGLE_SHOT = {"max_steps": 1, "self_check": "off", "backtrack": False}


@dataclass
class StrategyResult:
    strategy: str
    answer: str | None
    why: str
    attempts: list[Attempt] = field(default_factory=list)
    seconds: float = 0.0  # wall clock; attempts may overlap
    verified: bool | None = None  # the answer's: a lone run's own, a vote's winning attempt's
    confidence: float | None = None

    @property
    def generated_tokens(self) -> int:
        return sum(a.generated_tokens for a in self.attempts)

    @property
    def total_tokens(self) -> int:
        return sum(a.total_tokens for a in self.attempts)

    def to_json(self) -> dict:
        return {"strategy": self.strategy, "answer": self.answer, "why": self.why,
                "generated_tokens": self.generated_tokens, "total_tokens": self.total_tokens,
                "seconds": round(self.seconds, 3), "verified": self.verified, "confidence": self.confidence,
                "attempts": [a.to_json() for a in self.attempts]}


@dataclass(frozen=True)
class Spec:
    kind: str  # single-shot | loop | vote | wvote | adaptive
    n: int = 1
    base: str = "loop"  # what one attempt of vote/adaptive is
    options: tuple[str, ...] = ()  # names in OPTIONS, applied to loop attempts

    @property
    def name(self) -> str:
        name = self.kind if self.kind in ("single-shot", "loop") else f"{self.kind}@{self.n}"
        if self.base != "loop":
            name += f":{self.base}"
        return name + "".join(f"+{o}" for o in self.options)

    @property
    def pool(self) -> str:
        """What one pooled attempt is: specs with the same pool share their samples."""
        return self.base + "".join(f"+{o}" for o in self.options)

    @property
    def overrides(self) -> dict:
        """The settings one attempt of this strategy runs with."""
        changes: dict = dict(SINGLE_SHOT) if self.base == "single-shot" or self.kind == "single-shot" else {}
        for option in self.options:
            changes.update(OPTIONS[option])
        return changes

    @property
    def sampled(self) -> bool:
        """Drawn from a shared pool of unchecked samples (vote@4 and vote@8 read one pool). Adaptive
        attempts check their answers and stop early, so they run live."""
        return self.kind in ("vote", "wvote")


def parse_spec(text: str) -> Spec:
    match = SPEC.match(text.strip())
    if not match:
        raise ValueError(f"unknown strategy {text!r}: use single-shot, loop, vote@N, wvote@N or adaptive@N "
                         "(optionally :single-shot or :loop, the kind of attempt voted on)")
    kind, n, base = match.group(1), match.group(2), match.group(3)
    options = tuple(o for o in match.group(4).split("+") if o)
    unknown = [o for o in options if o not in OPTIONS]
    if unknown:
        raise ValueError(f"unknown strategy option(s) {', '.join('+' + o for o in unknown)} in {text!r}: "
                         f"use {', '.join('+' + o for o in OPTIONS)}")
    if options and (kind == "single-shot" or base == "single-shot"):
        raise ValueError(f"{text!r}: +options change loop runs; a single shot has none")
    if kind in ("single-shot", "loop"):
        if n or base:
            raise ValueError(f"{kind} takes no @N or :base")
        return Spec(kind, options=options)
    if not n or int(n) < 1:
        raise ValueError(f"{kind} needs a number of attempts, e.g. {kind}@8")
    return Spec(kind, int(n), base or "loop", options)


class Solver:
    """Runs whole runs for the benchmark: one model client for all of them, at most `parallel` at
    once whatever the number of problems in flight."""

    def __init__(self, config: RunConfig, *, parallel: int = 2, model: Any = None, solve: Callable | None = None):
        self.config = config
        self.parallel = max(1, parallel)
        self._slots = asyncio.Semaphore(self.parallel)
        self._model = model
        self._model_lock = asyncio.Lock()
        self._solve = solve

    async def model(self):
        async with self._model_lock:  # concurrent first attempts must not start two clients
            if self._model is None:
                from .models import make_model

                self._model = await make_model(self.config)
        return self._model

    async def solve(self, question: str, *, config: RunConfig, **options: Any):
        """One run (runner.reason) with the shared model, when a slot is free."""
        solve = self._solve
        if solve is None:
            from .runner import reason as solve
        model = await self.model()
        async with self._slots:
            return await solve(question, config=config, model=model, **options)

    async def one(self, question: str, overrides: dict | None = None, **options: Any) -> Attempt:
        """The one deterministic attempt of single-shot / loop. `options` go to the run as
        `%%reason` would pass them (variables=...)."""
        started = time.monotonic()
        try:
            result = await self.solve(question, config=self.config.replace(**(overrides or {})), **options)
        except Exception as exc:  # like a run that fails: an attempt without an answer, saying why
            return Attempt(None, seconds=time.monotonic() - started, stop_reason="error",
                           error=f"{type(exc).__name__}: {exc}")
        return Attempt.from_result(result, 0, time.monotonic() - started)

    async def sample(self, question: str, n: int, start: int = 0, overrides: dict | None = None,
                     strategy: str = "vote", **options: Any) -> engine.Outcome:
        """Attempts start+1 … start+n, sampled as `%%reason --attempts` samples them."""
        return await engine.run(question, config=self.config.replace(**(overrides or {})), solve=self.solve,
                                n=n, start=start, strategy=strategy, parallel=n, **options)

    async def close(self) -> None:
        if self._model is not None and hasattr(self._model, "close"):
            await self._model.close()


def from_pool(spec: Spec, pool: list[Attempt], confidence: float = 0.95) -> StrategyResult:
    """A voting strategy's result from attempts already drawn (one pool serves vote@4, vote@8 and
    adaptive@8): exact in distribution, since the attempts are independent samples."""
    if spec.kind == "adaptive":
        n, stop_why = engine.adaptive_prefix(pool, spec.n, confidence)
        used = pool[:n]
        result = engine.vote("adaptive", used)
        why = f"{result.why}; stopped after {n}: {stop_why}"
    else:
        used = pool[: spec.n]
        result = engine.vote(spec.kind, used)
        why = result.why
    winner = next((a for a in used if answer_key(a.answer) == result.key), None)
    return StrategyResult(spec.name, result.answer, why, list(used), seconds=sum(a.seconds for a in used),
                          verified=winner.verified if winner else None,
                          confidence=winner.confidence if winner else None)


async def run(spec: Spec | str, question: str, solver: Solver, *, confidence: float = 0.95,
              **options: Any) -> StrategyResult:
    """Run one strategy live on one question; `options` go to every run (variables=...)."""
    spec = parse_spec(spec) if isinstance(spec, str) else spec
    started = time.monotonic()
    if spec.kind in ("single-shot", "loop"):
        attempt = await solver.one(question, spec.overrides, **options)
        # The attempt's own time: waiting for a free slot is not part of answering.
        return StrategyResult(spec.name, attempt.answer, f"the one attempt ({attempt.stop_reason})", [attempt],
                              attempt.seconds, attempt.verified, attempt.confidence)
    outcome = await engine.run(question, config=solver.config.replace(**spec.overrides), solve=solver.solve,
                               n=spec.n, strategy=spec.kind, parallel=solver.parallel, confidence=confidence,
                               **options)
    why = outcome.vote.why + (f"; stopped after {len(outcome.attempts)}: {outcome.sampling_ended}"
                              if outcome.sampling_ended else "")
    winner = outcome.winner
    return StrategyResult(spec.name, outcome.vote.answer, why, outcome.attempts, time.monotonic() - started,
                          winner.verified if winner else None, winner.confidence if winner else None)
