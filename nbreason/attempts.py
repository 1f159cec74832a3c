"""Several attempts at one question, and a vote: spending more compute for a surer answer.

The one engine behind `%%reason --attempts N`, `nbreason run --attempts N` and `nbreason bench`
(vote@N, adaptive@N): each attempt is a whole run (`runner.reason`) in its own sandbox, sampled
(policy.sampling: temperature ≥ 0.7, a seed of its own) so attempts differ, at most `parallel`
at a time. Strategies, one vote each:
  vote      all N attempts, majority vote
  wvote     all N attempts, each answer weighted by its attempt's reward
  adaptive  attempts keep their checks (self_check "auto": other methods); stop drawing once an
            attempt is verified (its confidence at the cut-off) or the leading answer is settled
            (policy.voting.stop_check: P(leader is the majority) ≥ confidence, or it cannot be
            caught), at most N; then the vote weighted by each attempt's confidence
Inside a run, every attempt's events are forwarded with `attempt = i`, so views and traces show
them side by side; the `Vote` event says how the answers were counted and why one won.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Awaitable, Callable

from .answers import key as answer_key
from .config import STRATEGIES, RunConfig
from .events import AttemptAnswer, Error, Event, FinalAnswer, TallyEntry, Usage, Vote
from .policy import attempt_sampling, voting

Solve = Callable[..., Awaitable[Any]]  # runner.reason(question, *, config, subscribers=...) -> RunResult


@dataclass
class Attempt:
    """One attempt's outcome, as the vote and the benchmark see it."""

    answer: str | None
    reward: float = 0.0
    generated_tokens: int = 0  # completion (+ reasoning) tokens
    total_tokens: int = 0  # prompt + completion tokens
    seconds: float = 0.0
    stop_reason: str = ""
    code: str | None = None  # the last code that ran cleanly
    error: str | None = None  # why the attempt failed outright
    verified: bool | None = None
    attempt: int = 0  # 1, 2, … within its run; 0 for a lone run
    confidence: float | None = None  # policy/confidence.py
    solutions: list = field(default_factory=list)  # the check's solutions: [{method, answer, family, sampled, …, code}]
    features: dict = field(default_factory=dict)  # what the confidence was computed from (for calibration)

    @classmethod
    def from_result(cls, result: Any, attempt: int = 0, seconds: float = 0.0) -> "Attempt":
        usage = result.usage
        final = result.final
        code = final.code[-1] if final is not None and final.code else None
        fatal = [e.message for e in result.events if isinstance(e, Error) and e.fatal]
        return cls(result.answer, reward=float(result.reward or 0.0),
                   generated_tokens=usage.completion_tokens + usage.reasoning_tokens,
                   total_tokens=usage.total_tokens, seconds=seconds, stop_reason=result.stop_reason, code=code,
                   error=fatal[-1] if fatal else None, verified=result.verified, attempt=attempt,
                   confidence=result.confidence, solutions=[asdict(row) for row in result.solutions],
                   features=dict(final.features) if final is not None else {})

    def to_json(self) -> dict:
        return asdict(self)


def attempt_config(config: RunConfig, i: int, strategy: str = "vote") -> RunConfig:
    """Attempt `i`'s settings: sampled with a seed of its own, one attempt, no trace of its own (the
    run's trace holds every attempt). Attempts that vote skip the "auto" self-check (the vote is the
    check); adaptive attempts keep it, since a verified attempt ends the sampling."""
    sampling = attempt_sampling(config.temperature, config.seed, i)
    check = "off" if config.self_check == "auto" and strategy != "adaptive" else config.self_check
    return dataclasses.replace(config, temperature=sampling.temperature, seed=sampling.seed, attempts=1, trace=None,
                               self_check=check)


def vote(strategy: str, attempts: list[Attempt]) -> voting.VoteResult:
    """The vote a strategy uses: majority for `vote`, reward-weighted for `wvote`, and for `adaptive`
    weighted by each attempt's confidence (its reward where it has none)."""
    answers = [a.answer for a in attempts]
    if strategy == "vote":
        return voting.majority_vote(answers)
    if strategy == "adaptive":
        return voting.weighted_vote(answers, [a.reward if a.confidence is None else a.confidence for a in attempts],
                                    weight="confidence")
    return voting.weighted_vote(answers, [a.reward for a in attempts])


def adaptive_prefix(attempts: list[Attempt], max_n: int, confidence: float = 0.95) -> tuple[int, str]:
    """How many of `attempts` (in the order they finished) adaptive sampling draws, and why it stops."""
    n = 0
    while True:
        n = min(n + 1, max_n, len(attempts))
        check = voting.stop_check([a.answer for a in attempts[:n]], max_n, confidence)
        if check.stop or n >= min(max_n, len(attempts)):
            return n, check.why


@dataclass
class Outcome:
    attempts: list[Attempt]  # in the order they were launched
    vote: voting.VoteResult
    stopped_early: str = ""  # adaptive: why it drew fewer than N
    sampling_ended: str = ""  # adaptive: why sampling ended (settled, cannot be caught, all drawn)

    @property
    def winner(self) -> Attempt | None:
        return next((a for a in self.attempts if answer_key(a.answer) == self.vote.key), None)


async def run(question: str, *, config: RunConfig, solve: Solve, n: int | None = None, strategy: str | None = None,
              parallel: int | None = None, confidence: float | None = None, stop: asyncio.Event | None = None,
              forward: Callable[[int, Event], None] | None = None, start: int = 0, **solve_options: Any) -> Outcome:
    """Run up to `n` attempts (numbered start+1 …), `parallel` at a time, and vote. `forward(i, event)`
    receives each attempt's events (inside a run: re-tagged into the run's own stream)."""
    n, strategy = n or config.attempts, strategy or config.strategy
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}: use one of {', '.join(STRATEGIES)}")
    parallel = max(1, min(parallel or config.parallel, n))
    confidence = config.confidence if confidence is None else confidence
    stop = stop or asyncio.Event()
    finished: dict[int, Attempt] = {}
    order: list[int] = []  # attempts in the order they finished: what the adaptive rule sees
    settled = ""

    async def one(i: int) -> None:
        started = time.monotonic()
        subscribers = [lambda event, i=i: forward(i, event)] if forward else []
        try:
            result = await solve(question, config=attempt_config(config, i, strategy), subscribers=subscribers,
                                 stop=stop, **solve_options)
            finished[i] = Attempt.from_result(result, i, time.monotonic() - started)
        except Exception as exc:  # one failed attempt must not sink the others
            if forward:
                forward(i, Error(source="nbreason", message=f"attempt {i} failed: {exc}"))
            finished[i] = Attempt(None, stop_reason="error", error=f"{type(exc).__name__}: {exc}", attempt=i,
                                  seconds=time.monotonic() - started)
        order.append(i)

    launched = 0
    running: set[asyncio.Task] = set()
    while launched < n or running:
        while launched < n and len(running) < parallel and not settled and not stop.is_set():
            launched += 1
            running.add(asyncio.ensure_future(one(start + launched)))
        if not running:
            break
        done, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            task.result()
        if strategy == "adaptive" and not settled and launched < n:
            sure = next((finished[i] for i in order if finished[i].verified and finished[i].answer is not None), None)
            if sure is not None:  # an attempt whose checks verified its answer: no need to sample more
                settled = f"attempt {sure.attempt} verified {sure.answer} (confidence {sure.confidence:.2f})"
            else:
                verdict = voting.stop_check([finished[i].answer for i in order], n, confidence)
                settled = verdict.why if verdict.stop else ""
    attempts = [finished[i] for i in sorted(finished)]
    ended = voting.stop_check([finished[i].answer for i in order], n, confidence).why if strategy == "adaptive" else ""
    return Outcome(attempts, vote(strategy, attempts), settled, settled or ended)


def vote_event(outcome: Outcome, strategy: str, run_id: str, elapsed: float) -> Vote:
    winner = outcome.winner
    rows = [AttemptAnswer(a.attempt, a.answer, a.reward, a.verified, a.total_tokens, a.stop_reason)
            for a in outcome.attempts]
    return Vote(run_id=run_id, elapsed=elapsed, strategy=strategy, answers=rows,
                tally=[TallyEntry(k, round(v, 4)) for k, v in outcome.vote.votes.items()], winner=outcome.vote.answer,
                winner_attempt=winner.attempt if winner else 0, why=outcome.vote.why,
                stopped_early=outcome.stopped_early)


def overall_final(vote: Vote, finals: list[FinalAnswer], stopped: bool) -> FinalAnswer:
    """The run's own final event: the winning answer, with everything the attempts spent."""
    usage = sum((f.usage for f in finals), Usage())
    winner = next((f for f in finals if f.attempt == vote.winner_attempt), None)
    reason = "stopped by user" if stopped else (f"answered ({vote.strategy} of {len(finals)})" if vote.winner
                                                 else "no attempt answered")
    return FinalAnswer(run_id=vote.run_id, elapsed=vote.elapsed, answer=vote.winner, stop_reason=reason,
                       reward=winner.reward if winner else 0.0, verified=winner.verified if winner else None,
                       usage=usage, steps=sum(f.steps for f in finals), code=list(winner.code) if winner else [],
                       confidence=winner.confidence if winner else None,
                       solutions=list(winner.solutions) if winner else [], features=dict(winner.features) if winner else {})


def attempt_finals(events: list[Any]) -> list[FinalAnswer]:
    return [e for e in events if isinstance(e, FinalAnswer) and e.attempt > 0]
