"""Several attempts at one question, and a vote: spending more compute for a surer answer.

Each attempt is a whole loop in its own sandbox, sampled (temperature ≥ 0.7, its own seed) so
attempts differ. Strategies:
  vote      all N attempts, majority vote
  wvote     all N attempts, each answer weighted by its attempt's reward
  adaptive  attempts `parallel` at a time; stop drawing once the leading answer is settled
            (policy.voting.stop_check: P(leader is the majority) ≥ confidence, or it cannot be
            caught), at most N; then a reward-weighted vote
Every attempt's events carry `attempt = i`, so views and traces show them side by side; the
`Vote` event says how the answers were counted and why one won.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Callable

from .config import RunConfig
from .events import Error, FinalAnswer, Usage, Vote
from .loop import Loop
from .policy import voting
from .policy.stopping import SAMPLE_TEMPERATURE  # one sampling temperature for every independent sample
from .sandboxes import make_sandbox

STRATEGIES = ("vote", "wvote", "adaptive")


def attempt_config(config: RunConfig, i: int) -> RunConfig:
    return config.replace(temperature=max(config.temperature, SAMPLE_TEMPERATURE),
                          seed=(config.seed or 0) + i, trace=None)


async def run_attempts(question: str, *, config: RunConfig, model, fan: Callable, stop: asyncio.Event,
                       place_variables, context: str, check, run_id: str, t0: float) -> None:
    if config.strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {config.strategy!r}: use one of {', '.join(STRATEGIES)}")
    n, parallel = config.attempts, max(1, min(config.parallel, config.attempts))
    finals: dict[int, FinalAnswer] = {}
    settled = ""

    async def one(i: int) -> None:
        sandbox = make_sandbox(config)
        try:
            await sandbox.start()
            extra = await place_variables(sandbox)
            loop = Loop(question, config=attempt_config(config, i), model=model, sandbox=sandbox,
                        context=f"{context}\n{extra}".strip(), stop=stop, check=check, run_id=run_id, attempt=i)
            loop.restore_variables = lambda: place_variables(sandbox)
            loop.t0 = t0
            async for event in loop.run():
                fan(event)
                if isinstance(event, FinalAnswer):
                    finals[i] = event
        except Exception as exc:  # one failed attempt must not sink the others
            fan(Error(run_id=run_id, attempt=i, source="sandbox", message=f"attempt {i} failed: {exc}"))
            finals[i] = FinalAnswer(run_id=run_id, attempt=i, stop_reason="error")
        finally:
            try:
                await asyncio.wait_for(sandbox.close(), timeout=10)
            except Exception:
                pass

    launched = 0
    running: set[asyncio.Task] = set()
    while launched < n or running:
        while launched < n and len(running) < parallel and not settled and not stop.is_set():
            launched += 1
            running.add(asyncio.ensure_future(one(launched)))
        if not running:
            break
        done, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            task.result()
        if config.strategy == "adaptive" and not settled and launched < n:
            answers = [finals[i].answer for i in sorted(finals)]
            verdict = voting.stop_check(answers, n, config.confidence)
            if verdict.stop:
                settled = verdict.why
    fan(_vote(config, finals, run_id, settled, t0))


def _vote(config: RunConfig, finals: dict[int, FinalAnswer], run_id: str, settled: str, t0: float) -> Vote:
    order = sorted(finals)
    answers = [finals[i].answer for i in order]
    rewards = [finals[i].reward for i in order]
    result = (voting.majority_vote(answers) if config.strategy == "vote"
              else voting.weighted_vote(answers, rewards))
    winner_attempt = next((i for i in order if voting.answer_key(finals[i].answer) == result.key), 0)
    rows = [{"attempt": i, "answer": finals[i].answer, "reward": finals[i].reward, "verified": finals[i].verified,
             "tokens": finals[i].usage.total_tokens, "stop_reason": finals[i].stop_reason} for i in order]
    return Vote(run_id=run_id, elapsed=round(time.monotonic() - t0, 3), strategy=config.strategy, answers=rows,
                tally={k: round(v, 4) for k, v in result.votes.items()}, winner=result.answer,
                winner_attempt=winner_attempt, why=result.why, stopped_early=settled)


def overall_final(vote: Vote, finals: list[FinalAnswer], stopped: bool) -> FinalAnswer:
    """The run's own final event: the winning answer, with everything the attempts spent."""
    usage = sum((f.usage for f in finals), Usage())
    winner = next((f for f in finals if f.attempt == vote.winner_attempt), None)
    reason = "stopped by user" if stopped else (f"answered ({vote.strategy} of {len(finals)})" if vote.winner
                                                 else "no attempt answered")
    return FinalAnswer(run_id=vote.run_id, elapsed=vote.elapsed, answer=vote.winner, stop_reason=reason,
                       reward=winner.reward if winner else 0.0, verified=winner.verified if winner else None,
                       usage=usage, steps=sum(f.steps for f in finals), code=list(winner.code) if winner else [])


def attempt_finals(events: list[Any]) -> list[FinalAnswer]:
    return [e for e in events if isinstance(e, FinalAnswer) and e.attempt > 0]
