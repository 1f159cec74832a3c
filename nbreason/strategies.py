"""Ways to spend compute on one question, from least to most.

    single-shot      one model call for one program, run once: no loop (the baseline)
    loop             one reason() run: plan, code, run, check, decide
    vote@N           N sampled attempts in parallel, majority vote
    wvote@N          the same, each vote weighted by its attempt's reward
    adaptive@N       sampled attempts a few at a time, stopping once the leader is settled
                     (voting.stop_check), at most N

An attempt of vote/adaptive is a loop run unless the spec names another base:
"vote@8:single-shot". A loop, or a voted loop, takes run options after "+":
"loop+no-check", "vote@8+recompute" (see OPTIONS). Attempts sample (temperature `SAMPLE_TEMPERATURE`, a distinct seed
each): with greedy decoding they would all be the same attempt.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from .config import RunConfig
from .prompts import SYSTEM_TEXT
from .policy import voting
from .policy.stopping import SAMPLE_TEMPERATURE
from .policy.reward import answer_parses, code_ran, combine
from .sandboxes.results import last_line

SPEC = re.compile(r"^(single-shot|loop|vote|wvote|adaptive)(?:@(\d+))?(?::(single-shot|loop))?((?:\+[a-z-]+)*)$")
# "+name" in a spec: the config changes that loop attempts run with.
OPTIONS = {"verify": {"self_check": "verify"}, "recompute": {"self_check": "recompute"},
           "no-check": {"self_check": "off"}, "no-backtrack": {"backtrack": False}}

SINGLE_SHOT_SYSTEM = SYSTEM_TEXT  # the baseline and the loop's first step see the same prompt


@dataclass
class Attempt:
    answer: str | None
    reward: float = 0.0
    generated_tokens: int = 0  # completion (+ reasoning) tokens
    total_tokens: int = 0  # prompt + completion tokens
    seconds: float = 0.0
    stop_reason: str = ""
    code: str | None = None
    error: str | None = None  # why the attempt failed outright

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class StrategyResult:
    strategy: str
    answer: str | None
    why: str
    attempts: list[Attempt] = field(default_factory=list)
    seconds: float = 0.0  # wall clock; attempts may overlap

    @property
    def generated_tokens(self) -> int:
        return sum(a.generated_tokens for a in self.attempts)

    @property
    def total_tokens(self) -> int:
        return sum(a.total_tokens for a in self.attempts)

    def to_json(self) -> dict:
        return {"strategy": self.strategy, "answer": self.answer, "why": self.why,
                "generated_tokens": self.generated_tokens, "total_tokens": self.total_tokens,
                "seconds": round(self.seconds, 3), "attempts": [a.to_json() for a in self.attempts]}


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
        changes: dict = {}
        for option in self.options:
            changes.update(OPTIONS[option])
        return changes

    @property
    def sampled(self) -> bool:
        return self.kind in ("vote", "wvote", "adaptive")


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


class Sampler:
    """Runs attempts of one kind against one model, at most `parallel` at a time."""

    def __init__(self, config: RunConfig, *, parallel: int = 2, model: Any = None,
                 make_sandbox: Callable[[RunConfig], Any] | None = None,
                 reason: Callable[..., Any] | None = None):
        self.config = config
        self.parallel = max(1, parallel)
        self._slots = asyncio.Semaphore(self.parallel)
        self._model = model
        self._model_lock = asyncio.Lock()
        self._make_sandbox = make_sandbox
        self._reason = reason

    async def model(self):
        """One client for every attempt (the runner then leaves it open), made on first use."""
        async with self._model_lock:  # concurrent first attempts must not start two clients
            if self._model is None:
                from .models import make_model

                self._model = await make_model(self.config)
        return self._model

    def sandbox(self, config: RunConfig):
        if self._make_sandbox is not None:
            return self._make_sandbox(config)
        from .sandboxes import make_sandbox

        return make_sandbox(config)

    def attempt_config(self, index: int | None, overrides: dict | None = None) -> RunConfig:
        config = self.config.replace(**(overrides or {}))
        if index is None:  # the one deterministic attempt of single-shot / loop
            return config
        base_seed = self.config.seed or 0
        # Sampled attempts are voted on: the vote is their agreement check ("auto" self-check off).
        return config.replace(temperature=SAMPLE_TEMPERATURE, seed=base_seed + 1000 + index,
                              self_check="off" if config.self_check == "auto" else config.self_check)

    async def attempt(self, question: str, base: str, index: int | None = None,
                      overrides: dict | None = None) -> Attempt:
        config = self.attempt_config(index, overrides)
        async with self._slots:
            started = time.monotonic()
            try:
                if base == "single-shot":
                    return await self.single_shot(question, config)
                return await self.loop(question, config)
            except Exception as exc:  # like a loop run that fails: an attempt without an answer, saying why
                return Attempt(None, seconds=time.monotonic() - started, stop_reason="error",
                               error=f"{type(exc).__name__}: {exc}")

    async def single_shot(self, question: str, config: RunConfig) -> Attempt:
        """One call for one program, run once: no feedback, no retry."""
        from .actions import from_text

        started = time.monotonic()
        messages = [{"role": "system", "content": SINGLE_SHOT_SYSTEM}, {"role": "user", "content": question}]
        completion = await (await self.model()).complete(
            messages, temperature=config.temperature, seed=config.seed, max_tokens=config.max_tokens)
        usage = completion.usage
        attempt = Attempt(None, generated_tokens=usage.completion_tokens + usage.reasoning_tokens,
                          total_tokens=usage.total_tokens, stop_reason="no code")
        code = from_text(completion.text).code
        if code:
            attempt.code = code
            sandbox = self.sandbox(config)
            try:
                await sandbox.start()
                execution = await sandbox.run_code(code, timeout=config.exec_timeout)
            finally:
                await sandbox.close()
            data: dict = {}  # what reward.code_ran reads: only the error matters here
            stdout = "".join(execution.logs.stdout)
            results = [r.text for r in execution.results if getattr(r, "text", None)]
            attempt.answer = last_line(stdout) or (last_line(results[-1]) if results else None)
            if execution.error is not None:
                data["error"] = {"name": execution.error.name, "value": execution.error.value}
                attempt.stop_reason = f"error: {execution.error.name}"
            else:
                attempt.stop_reason = "answered" if attempt.answer else "no output"
            attempt.reward = combine([code_ran(data), answer_parses(attempt.answer)])
        attempt.seconds = time.monotonic() - started
        return attempt

    async def loop(self, question: str, config: RunConfig) -> Attempt:
        reason = self._reason
        if reason is None:
            from .runner import reason
        started = time.monotonic()
        result = await reason(question, config=config, model=await self.model())
        usage = result.usage
        code = [s.code for s in result.steps if getattr(s, "code", None)]
        errors = [e.message for e in result.events if getattr(e, "kind", "") == "error" and getattr(e, "fatal", False)]
        return Attempt(result.answer, reward=float(result.reward or 0.0),
                       generated_tokens=usage.completion_tokens + usage.reasoning_tokens,
                       total_tokens=usage.total_tokens, seconds=time.monotonic() - started,
                       stop_reason=result.stop_reason, code=code[-1] if code else None,
                       error=errors[-1] if errors else None)

    async def sample(self, question: str, base: str, n: int, start: int = 0,
                     overrides: dict | None = None) -> list[Attempt]:
        """`n` sampled attempts, run concurrently up to the slot limit, in index order."""
        return list(await asyncio.gather(*(self.attempt(question, base, start + i, overrides) for i in range(n))))

    async def close(self) -> None:
        if self._model is not None and hasattr(self._model, "close"):
            await self._model.close()


def vote_on(attempts: list[Attempt], weighted: bool = False) -> voting.VoteResult:
    answers = [a.answer for a in attempts]
    if weighted:
        return voting.weighted_vote(answers, [a.reward for a in attempts])
    return voting.majority_vote(answers)


def adaptive_prefix(attempts: list[Attempt], max_n: int, confidence: float = 0.95,
                    batch: int = 1) -> tuple[int, str]:
    """How many of `attempts` (in order) adaptive sampling would have drawn, and why it stopped."""
    n = 0
    while True:
        n = min(n + batch, max_n, len(attempts))
        check = voting.stop_check([a.answer for a in attempts[:n]], max_n, confidence)
        if check.stop or n >= min(max_n, len(attempts)):
            return n, check.why


def from_pool(spec: Spec, pool: list[Attempt], confidence: float = 0.95) -> StrategyResult:
    """A voting strategy's result from attempts already drawn (one pool serves vote@4, vote@8 and
    adaptive@8): exact in distribution, since the attempts are independent samples."""
    if spec.kind == "adaptive":
        n, stop_why = adaptive_prefix(pool, spec.n, confidence)
        used = pool[:n]
        result = vote_on(used)
        why = f"{result.why}; stopped after {n}: {stop_why}"
    else:
        used = pool[: spec.n]
        result = vote_on(used, weighted=spec.kind == "wvote")
        why = result.why
    return StrategyResult(spec.name, result.answer, why, list(used), seconds=sum(a.seconds for a in used))


async def run(spec: Spec | str, question: str, sampler: Sampler, *, confidence: float = 0.95,
              batch: int | None = None) -> StrategyResult:
    """Run one strategy live on one question."""
    spec = parse_spec(spec) if isinstance(spec, str) else spec
    started = time.monotonic()
    name = spec.name
    if spec.kind in ("single-shot", "loop"):
        attempt = await sampler.attempt(question, spec.kind, overrides=spec.overrides)
        # The attempt's own time: waiting for a free slot is not part of answering.
        return StrategyResult(name, attempt.answer, f"the one attempt ({attempt.stop_reason})",
                              [attempt], attempt.seconds)
    if spec.kind in ("vote", "wvote"):
        attempts = await sampler.sample(question, spec.base, spec.n, overrides=spec.overrides)
        result = vote_on(attempts, weighted=spec.kind == "wvote")
        return StrategyResult(name, result.answer, result.why, attempts, time.monotonic() - started)
    # adaptive: draw as many at a time as the server runs in parallel, check, repeat.
    batch = batch or sampler.parallel
    attempts: list[Attempt] = []
    check = voting.stop_check([], spec.n, confidence)
    while not check.stop:
        take = min(batch, spec.n - len(attempts))
        attempts += await sampler.sample(question, spec.base, take, start=len(attempts), overrides=spec.overrides)
        check = voting.stop_check([a.answer for a in attempts], spec.n, confidence)
    result = vote_on(attempts)
    return StrategyResult(name, result.answer, f"{result.why}; stopped after {len(attempts)}: {check.why}",
                          attempts, time.monotonic() - started)
