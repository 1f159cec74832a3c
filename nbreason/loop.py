"""The reasoning loop: plan -> code -> run -> check -> decide, as a stream of typed events.

`run()` is an async generator. It owns no rendering and no files: whoever iterates it
(the runner) hands each event to subscribers. All decisions come from `policy`.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Awaitable, Callable

from . import actions, prompts
from .config import RunConfig
from .events import (BudgetUpdate, Check, Code, Decision, Error, Event, FinalAnswer, ModelCall,
                     ModelDelta, Observation, Plan, Retry, RunStarted, Signal, Stopped, Usage)
from .history import History
from .models.base import Completion, ContextTooLong, Model, ModelError
from .policy.voting import answer_key
from .policy import (SAMPLE_TEMPERATURE, Budget, Limits, Recompute, StallDetector, StopRule, agreement,
                     answer_parses, code_ran, combine, grounded, self_check_mode, self_check_signal, user_check)
from .sandboxes.base import Sandbox, SandboxError
from .sandboxes.results import execution_to_json, last_line, summarize

MAX_REJECTIONS = 2  # the same answer rejected this often is given as final, marked unverified
MAX_BACKTRACKS = 1  # a stalled run goes back to its last good state once, then stops


class StopRequested(Exception):
    pass


@dataclass
class Evidence:
    """What the run has learned so far: executions, outputs and proposed answers."""

    last_execution: dict | None = None
    outputs: list[str] = field(default_factory=list)  # stdout of code that ran cleanly
    code: list[str] = field(default_factory=list)  # code that ran cleanly
    proposals: dict[str, int] = field(default_factory=dict)  # answer -> times rejected
    best: tuple[float, str] | None = None  # (reward, answer)

    def candidate(self) -> str | None:
        """Best answer so far: the best-scored proposal, else the last printed line."""
        if self.best:
            return self.best[1]
        return next((line for text in reversed(self.outputs) if (line := last_line(text))), None)


class Loop:
    def __init__(self, question: str, *, config: RunConfig, model: Model, sandbox: Sandbox,
                 context: str = "", stop: asyncio.Event | None = None,
                 check: Callable[[Any], Any] | None = None, run_id: str | None = None, attempt: int = 0):
        self.attempt = attempt
        self.question, self.config, self.model, self.sandbox = question, config, model, sandbox
        self.context, self.check = context, check
        self.stop = stop or asyncio.Event()
        self.run_id = run_id or uuid.uuid4().hex[:12]
        self.budget = Budget(Limits(config.max_steps, config.max_total_tokens, config.max_seconds, config.max_cost))
        self.rule = StopRule(config.reward_threshold)
        self.stall = StallDetector()
        self.evidence = Evidence()
        self.history = History(config.context_chars)
        self.protocol = self._choose_protocol()
        self.queue: asyncio.Queue[Event] = asyncio.Queue()
        self.step = 0
        self.t0 = time.monotonic()
        self.idle_replies = 0  # replies in a row with neither code nor an answer
        self.backtracks = 0
        # (step, messages kept, clean code blocks kept) after each step whose code ran cleanly
        self.checkpoints: list[tuple[int, int, int]] = []
        self.self_check = self_check_mode(config.self_check, model, voted=attempt > 0)
        self.verifying: str | None = None  # answer whose self-check runs in the next step
        self.self_checks: dict[str, Signal] = {}
        self.recompute: Recompute | None = None  # the recompute check, once an answer passes
        # Puts the passed (--with) variables back after a backtrack restarts the sandbox.
        self.restore_variables: Callable[[], Awaitable[Any]] | None = None

    def _printed_answer(self) -> str | None:
        """With `answer_from_output`, code that printed one short line proposes that line as the
        answer: the text protocol asks for code that prints only the final answer, and small models
        often keep writing code instead of saying `FINAL ANSWER:`."""
        if not (self.config.answer_from_output or getattr(self.model, "answer_from_output", False)):
            return None
        lines = [ln.strip() for ln in (self.evidence.outputs[-1] if self.evidence.outputs else "").splitlines()
                 if ln.strip()]
        if len(lines) == 1 and len(lines[0].split()) <= 6:
            return lines[0]
        return None

    def _steps_left(self) -> int:
        limit = self.budget.limits.steps
        return 1 if limit is None else limit - self.step

    # -- event helpers -------------------------------------------------------------
    def ev(self, cls: type[Event], **kw: Any) -> Event:
        return cls(run_id=self.run_id, step=self.step, attempt=self.attempt,
                   elapsed=round(time.monotonic() - self.t0, 3), **kw)

    def _choose_protocol(self) -> str:
        if self.config.protocol in ("tools", "text"):
            return self.config.protocol
        # Small embedded models follow the text protocol better; others get native tools and
        # fall back to text if the server refuses them.
        return "text" if getattr(self.model, "supports_tools", None) is False else "tools"

    async def _pump(self, task: asyncio.Future) -> AsyncIterator[Event]:
        """Yield events queued by `task` (stream deltas, retries) until it ends or Stop is pressed."""
        stop_wait = asyncio.ensure_future(self.stop.wait())
        try:
            while True:
                while not self.queue.empty():
                    yield self.queue.get_nowait()
                if task.done():
                    return
                getter = asyncio.ensure_future(self.queue.get())
                done, _ = await asyncio.wait({task, getter, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
                if getter in done:
                    yield getter.result()
                else:
                    getter.cancel()
                if stop_wait in done and not task.done():
                    raise StopRequested
        finally:
            stop_wait.cancel()

    # -- the loop ------------------------------------------------------------------
    async def run(self) -> AsyncIterator[Event]:
        cfg = self.config
        yield self.ev(RunStarted, question=self.question, context=self.context, config=cfg.public() | {
            "model": getattr(self.model, "name", cfg.model), "sandbox": getattr(self.sandbox, "name", cfg.sandbox),
            "protocol": self.protocol})
        self.history.add(prompts.system(self.protocol))
        self.history.add(prompts.question(self.question, self.context))
        final: str | None = None
        stop_reason = ""
        try:
            while True:
                stop_reason = self.budget.exceeded() or ""
                if stop_reason:
                    break
                if self.stop.is_set():
                    raise StopRequested
                self.step += 1
                outcome: dict = {}
                async for event in self._step(outcome):
                    yield event
                self.budget.steps = self.step
                yield self.ev(BudgetUpdate, spent=self.budget.spent(), limits=self.budget.limits.to_json(),
                              usage=self.budget.usage)
                if outcome.get("final") is not None:
                    final, stop_reason = outcome["final"], outcome["reason"]
                    break
                if outcome.get("stalled"):
                    stop_reason = outcome["stalled"]
                    break
        except StopRequested:
            stop_reason = "stopped by user"
            yield self.ev(Stopped)
        except ModelError as exc:
            stop_reason = "error"
            yield self.ev(Error, message=str(exc), source="model", fatal=True)
        except SandboxError as exc:
            stop_reason = "error"
            yield self.ev(Error, message=str(exc), source="sandbox", fatal=True)
        async for event in self._finish(final, stop_reason):
            yield event

    async def _step(self, outcome: dict) -> AsyncIterator[Event]:
        if self.recompute is not None:
            async for event in self._recompute_step(outcome):
                yield event
            return
        completion: Completion | None = None
        async for item in self._call_model():
            if isinstance(item, Completion):
                completion = item
            else:
                yield item
        assert completion is not None
        if completion.refusal and not completion.text.strip() and not completion.tool_calls:
            yield self.ev(Error, message=f"the model refused: {completion.refusal}", source="model")
            yield self.ev(Decision, action="final", reason="the model refused to answer")
            outcome["stalled"] = "refused"
            return
        action = actions.from_completion(completion)
        self.history.add(_assistant_message(completion), self.step)
        for note in action.notes:
            yield self.ev(Error, message=note, source="model")
        if action.plan:
            yield self.ev(Plan, text=action.plan)
        replies: dict[str, str] = {}
        if action.code is not None and action.code.strip():
            self.idle_replies = 0
            yield self.ev(Code, code=action.code)
            execution, summary = None, ""
            async for item in self._execute(action.code):
                if isinstance(item, tuple):
                    execution, summary = item
                else:
                    yield item
            error = (execution or {}).get("error")
            stalled = self.stall.record(action.code, None if not error else f"{error['name']}: {error['value']}"[:200])
            if action.call_id:
                replies[action.call_id] = summary
            else:
                self.history.add(prompts.observation(summary, self.step, ok=not error), self.step)
                if not error:
                    self.checkpoints.append((self.step, len(self.history.messages), len(self.evidence.code)))
            if self.verifying is not None:
                answer, self.verifying = self.verifying, None
                self.self_checks[answer] = self_check_signal(execution)
                async for event in self._judge(answer, outcome, replies, action.call_id):
                    yield event
            elif action.answer is not None and not error:
                async for event in self._judge(action.answer, outcome, replies, action.call_id):
                    yield event
            elif not error and (printed := self._printed_answer()) is not None:
                async for event in self._judge(printed, outcome, replies, action.call_id):
                    yield event
            else:
                signal = code_ran(execution)
                yield self.ev(Check, reward=signal.value, signals=[signal])
                if stalled and self.config.backtrack and self.backtracks < MAX_BACKTRACKS:
                    async for event in self._backtrack(stalled):
                        yield event
                elif stalled:
                    outcome["stalled"] = stalled
                    yield self.ev(Decision, action="final", reason=stalled)
                elif error:
                    yield self.ev(Decision, action="revise", reason="the code failed; the model sees the error")
                else:
                    yield self.ev(Decision, action="continue", reason="the model reads the output next")
        elif action.answer is not None:
            async for event in self._judge(action.answer, outcome, replies, action.call_id):
                yield event
        else:
            self.idle_replies += 1
            yield self.ev(Error, message="the reply had neither a code block nor a final answer", source="model")
            if self.idle_replies >= self.stall.stall_repeats:
                outcome["stalled"] = f"stalled: {self.idle_replies} replies in a row without code or an answer"
                yield self.ev(Decision, action="final", reason=outcome["stalled"])
                return
            yield self.ev(Decision, action="revise", reason="asked the model for code or a final answer")
            nudge = prompts.NUDGE_FORMAT if self.evidence.last_execution else prompts.NUDGE_CODE
            if action.call_id:
                replies[action.call_id] = nudge
            else:
                self.history.add({"role": "user", "content": nudge}, self.step)
        self._answer_tool_calls(completion, replies)

    async def _backtrack(self, why: str) -> AsyncIterator[Event]:
        """Go back to the last state that worked: restart the sandbox, re-run the clean code up
        to that step, drop the failing steps from the model's view, and ask for another way."""
        self.backtracks += 1
        step, kept_messages, kept_code = self.checkpoints[-1] if self.checkpoints else (0, 2, 0)
        yield self.ev(Decision, action="backtrack",
                      reason=f"{why}; back to the state after step {step} to try another way")
        await self.sandbox.restart()
        if self.restore_variables is not None:
            await self.restore_variables()
        for code in self.evidence.code[:kept_code]:
            execution = await self.sandbox.run_code(code, timeout=self.config.exec_timeout)
            if execution.error:
                yield self.ev(Error, source="sandbox", message=f"rebuilding the state of step {step} failed: "
                                                              f"{execution.error.name}: {execution.error.value}")
                break
        self.history.truncate(kept_messages)
        self.history.add({"role": "user", "content": prompts.backtrack(why, step, self.restore_variables is not None)}, self.step)
        self.stall = StallDetector()
        self.idle_replies = 0

    def _answer_tool_calls(self, completion: Completion, replies: dict[str, str]) -> None:
        # The chat API requires a tool message for every tool call of the previous reply.
        for call in completion.tool_calls:
            text = replies.get(call.id, "noted")
            self.history.add(prompts.tool_observation(call.id, text), self.step)
        extra = replies.get("_user")
        if extra:
            self.history.add({"role": "user", "content": extra}, self.step)

    def _signals(self, answer: str | None) -> list[Signal]:
        signals = [answer_parses(answer, self.config.answer_type),
                   grounded(answer, self.evidence.outputs),
                   code_ran(self.evidence.last_execution)]
        checked = user_check(answer, self.check)
        if answer in self.self_checks:
            signals.append(self.self_checks[answer])
        if self.recompute is not None and self.recompute.solutions:
            signals.append(agreement(answer, self.recompute.answers, self.recompute.needed(answer)))
        return signals + ([checked] if checked else [])

    async def _judge(self, answer: str, outcome: dict, replies: dict, call_id: str | None) -> AsyncIterator[Event]:
        signals = self._signals(answer)
        reward = combine(signals)
        yield self.ev(Check, reward=reward, signals=signals, answer=answer)
        if self.evidence.best is None or reward >= self.evidence.best[0]:
            self.evidence.best = (reward, answer)
        rejected = self.evidence.proposals.get(answer, 0)
        if self.rule.accept(reward) and self.self_check == "recompute" and self.recompute is None \
                and self._steps_left() > 0:
            self.recompute = Recompute(answer, extra=self.config.recompute_max)
            yield self.ev(Decision, action="verify",
                          reason=f"before accepting {answer!r}: solving the question again from scratch "
                                 f"(up to {self.config.recompute_max} more times) until the answers agree")
            return
        if self.rule.accept(reward) and self.self_check == "verify" and answer not in self.self_checks \
                and self._steps_left() > 0:
            self.verifying = answer
            message = prompts.verify(answer)
            if call_id and call_id not in replies:
                replies[call_id] = message
            else:
                replies["_user"] = message
            yield self.ev(Decision, action="verify", reason="the model writes an independent check before accepting")
            return
        if self.rule.accept(reward):
            outcome.update(final=answer, reason="answered")
            yield self.ev(Decision, action="final", reason=f"reward {reward:.2f} ≥ threshold {self.rule.threshold:.2f}")
            return
        if rejected + 1 >= MAX_REJECTIONS:
            outcome.update(final=answer, reason="answered (unverified)")
            yield self.ev(Decision, action="final",
                          reason=f"the same answer came back after revision; reward {reward:.2f} stays below the threshold")
            return
        self.evidence.proposals[answer] = rejected + 1
        weak = [s.reason for s in signals if s.value < 1.0]
        message = prompts.revise(answer, weak)
        if call_id and call_id not in replies:
            replies[call_id] = message
        else:
            replies["_user"] = message
        yield self.ev(Decision, action="revise", reason=f"reward {reward:.2f} < threshold: " + "; ".join(weak))

    async def _recompute_step(self, outcome: dict) -> AsyncIterator[Event]:
        """One independent solution for the recompute check: the question alone, in a fresh
        context (the model sees neither its earlier code nor its answer), sampled, one program,
        run once. Its messages stay out of the run's history."""
        check = self.recompute
        assert check is not None
        messages = [prompts.system("text"), prompts.question(self.question, self.context)]
        completion: Completion | None = None
        async for item in self._call_model(messages, temperature=max(self.config.temperature, SAMPLE_TEMPERATURE),
                                           seed=(self.config.seed or 0) + 1000 + check.solutions):
            if isinstance(item, Completion):
                completion = item
            else:
                yield item
        assert completion is not None
        action = actions.from_text(completion.text)
        if action.plan:
            yield self.ev(Plan, text=action.plan)
        answer, execution = None, None
        if action.code and action.code.strip():
            yield self.ev(Code, code=action.code)
            if self.restore_variables is not None:  # from the data as passed, not as an earlier solution left it
                await self.restore_variables()
            async for item in self._execute(action.code):
                if isinstance(item, tuple):
                    execution = item[0]
                else:
                    yield item
            if not execution.get("error"):
                answer = last_line(self.evidence.outputs[-1])
        else:
            yield self.ev(Error, message="the independent solution had no code block", source="model")
        check.add(answer)
        signals = [code_ran(execution), agreement(answer, check.answers, check.needed(answer))]
        yield self.ev(Check, reward=combine(signals), signals=signals, answer=answer)
        settled = check.settled()
        if settled is None and not check.exhausted() and self._steps_left() > 0:
            yield self.ev(Decision, action="verify",
                          reason=f"solution {check.solutions + 1} gives {answer}; the first gave {check.first}: "
                                 "not settled yet, solving once more")
            return
        final = settled if settled is not None else check.plurality()
        signals = self._signals(final)
        reward = combine(signals)
        self.evidence.best = (reward, final)  # the check's verdict replaces the earlier score
        outcome.update(final=final, reason="answered" if settled is not None else "answered (unverified)")
        yield self.ev(Check, reward=reward, signals=signals, answer=final)
        votes = f"{check.votes(final)} of {len(check.answers)} solutions"
        if settled is None:
            why = f"nothing settled; {final} has the most votes ({votes}): unverified"
        elif answer_key(settled) == answer_key(check.first):
            why = f"an independent solution agrees: {settled} ({votes})"
        else:
            why = f"{votes} give {settled}, replacing the first answer {check.first}"
        yield self.ev(Decision, action="final", reason=why)

    async def _call_model(self, fresh: list[dict] | None = None, temperature: float | None = None,
                          seed: int | None = None) -> AsyncIterator[Event | Completion]:
        """One model call, streamed: `fresh` messages, else the run's history (fitted to the context)."""
        tools = prompts.TOOLS if self.protocol == "tools" and fresh is None else None
        options = {"temperature": self.config.temperature if temperature is None else temperature,
                   "max_tokens": self.config.max_tokens}
        if seed is not None or self.config.seed is not None:
            options["seed"] = seed if seed is not None else self.config.seed
        for attempt in range(3):
            messages = [dict(m) for m in (fresh if fresh is not None else self.history.fit())]

            def on_delta(text: str) -> None:
                self.queue.put_nowait(self.ev(ModelDelta, text=text))

            def on_retry(n: int, wait: float, why: str) -> None:
                self.queue.put_nowait(self.ev(Retry, number=n, wait=wait, reason=why))

            started = time.monotonic()
            task = asyncio.ensure_future(self.model.complete(messages, tools=tools, on_delta=on_delta,
                                                             on_retry=on_retry, **options))
            try:
                async for event in self._pump(task):
                    yield event
                completion = task.result()
            except StopRequested:
                task.cancel()
                raise
            except ContextTooLong as exc:
                if fresh is not None:
                    raise ModelError(f"{exc}: the question alone does not fit the model's context window") from exc
                self.history.shrink()
                yield self.ev(Error, message=f"{exc}; older steps were shortened and the call retried", source="model")
                continue
            except ModelError as exc:
                if tools and getattr(self.model, "supports_tools", None) is False:
                    # The server refused tool calls: fall back to the text protocol for this run.
                    self.protocol, tools = "text", None
                    self.history.messages[0] = prompts.system("text")
                    yield self.ev(Error, message=f"tool calls are not supported here ({exc}); using the text protocol",
                                  source="model")
                    continue
                raise
            finally:
                if not task.done():
                    task.cancel()
            completion.duration = completion.duration or time.monotonic() - started
            self.budget.charge(completion.usage)
            yield self.ev(ModelCall, model=completion.model or getattr(self.model, "name", ""),
                          response_text=completion.text, reasoning_text=completion.reasoning,
                          tool_calls=[vars(c) for c in completion.tool_calls], finish_reason=completion.finish_reason,
                          messages_sent=len(messages), usage=completion.usage, duration=round(completion.duration, 3))
            yield completion
            return
        raise ModelError("the prompt does not fit the model's context window even after shortening the history")

    async def _execute(self, code: str) -> AsyncIterator[Event | tuple]:
        timeout = self.config.exec_timeout
        left = self.budget.seconds_left()
        if left is not None:
            timeout = max(1.0, min(timeout, left))
        started = time.monotonic()
        task = asyncio.ensure_future(self.sandbox.run_code(code, timeout=timeout))
        try:
            async for event in self._pump(task):
                yield event
        except StopRequested:
            await _interrupt(self.sandbox, task)
            raise
        execution = execution_to_json(task.result())
        summary, cut_chars = summarize(task.result(), self.config.observation_chars)
        ok = not execution.get("error")
        self.evidence.last_execution = execution
        if ok:
            self.evidence.code.append(code)
            stdout = "".join(execution.get("stdout", []))
            texts = [r.get("text") or "" for r in execution.get("results", []) if r.get("is_main_result")]
            self.evidence.outputs.append("\n".join([stdout, *texts]).strip())
        yield self.ev(Observation, execution=execution, summary=summary, duration=round(time.monotonic() - started, 3),
                      ok=ok, cut_chars=cut_chars)
        yield (execution, summary)

    async def _finish(self, final: str | None, stop_reason: str) -> AsyncIterator[Event]:
        answer = final if final is not None else self.evidence.candidate()
        reward, verified = 0.0, None
        if final is None and answer is not None:
            # Budget-forced or stopped: the best answer so far still goes through the verifier.
            signals = self._signals(answer)
            reward = combine(signals)
            verified = self.rule.accept(reward)
            yield self.ev(Check, reward=reward, signals=signals, answer=answer)
        elif final is not None:
            reward = self.evidence.best[0] if self.evidence.best else 0.0
            verified = self.rule.accept(reward)
        yield self.ev(FinalAnswer, answer=answer, stop_reason=stop_reason or "answered", reward=reward,
                      verified=verified, usage=self.budget.usage, steps=self.step, code=list(self.evidence.code))


async def _interrupt(sandbox: Sandbox, task: asyncio.Future) -> None:
    """Stop running code: interrupt, give it a moment, then abandon the call."""
    try:
        await asyncio.wait_for(sandbox.interrupt(), timeout=5)
    except Exception:
        pass
    try:
        await asyncio.wait_for(asyncio.shield(task), timeout=5)
    except BaseException:
        task.cancel()


def _assistant_message(completion: Completion) -> dict:
    message: dict = {"role": "assistant", "content": completion.text or ""}
    if completion.tool_calls:
        message["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in completion.tool_calls
        ]
    return message


def run(question: str, *, config: RunConfig, model: Model, sandbox: Sandbox, context: str = "",
        stop: asyncio.Event | None = None, check: Callable[[Any], Any] | None = None,
        run_id: str | None = None) -> AsyncIterator[Event]:
    """The loop as an async generator of events (see module docstring)."""
    return Loop(question, config=config, model=model, sandbox=sandbox, context=context, stop=stop,
                check=check, run_id=run_id).run()
