"""The reasoning loop: plan -> code -> run -> check -> decide, as a stream of typed events.

`run()` is an async generator. It owns no rendering and no files: whoever iterates it (the
runner) hands each event to subscribers. It decides nothing either: after every step it asks
`policy.decide` what to do and carries that out (see nbreason/policy/decide.py for the rules).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import replace
from typing import Any, AsyncIterator, Awaitable, Callable, Mapping, Sequence

from . import actions, isolation, policy, prompts
from .corrections import correction
from .data_facts import data_facts
from .config import RunConfig
from .events import (BudgetUpdate, Check, Code, Decision, Error, Event, FinalAnswer, Plan, RunStarted,
                     Stopped)
from .answers import numbers_in
from .calls import StopRequested
from .checks import Checks
from .execution import ExecutionRecord
from .evidence import Evidence
from .history import History
from .rebuild import run_again
from .models.base import Completion, Model, ModelError, ModelProfile, OutOfTime
from .policy import Choice, Judgement, Reply, RunState, Settings, StallDetector, Verification
from .policy import confidence, plausibility
from .policy.methods import asks_probability, plan_for
from .sandboxes.base import Sandbox, SandboxError


class Loop(Checks):
    def __init__(self, question: str, *, config: RunConfig, model: Model, sandbox: Sandbox,
                 context: str = "", stop: asyncio.Event | None = None,
                 check: Callable[[Any], Any] | None = None, run_id: str | None = None, attempt: int = 0,
                 earlier: str = "", returns: tuple[str, ...] = (), started: dict | None = None,
                 preface: tuple[Event, ...] = (), restore_variables: Callable[[], Awaitable[Any]] | None = None,
                 variables: Mapping[str, Any] | None = None, earlier_code: Sequence[str] = ()):
        self.attempt = attempt
        # Puts the passed (--with) variables back after a backtrack restarts the sandbox. (An
        # independent solution loads its own copies, in its own namespace: nbreason/isolation.py.)
        self.restore_variables = restore_variables
        self.variables = dict(variables or {})  # the passed (--with) values: corrections name their columns
        self.facts = data_facts(self.variables)  # what policy/data_use.py judges programs against
        # A follow-up (followup.py): the digest of the run it continues, the names the notebook takes
        # back, what RunStarted records of both, and events (a rebuilt state) that follow RunStarted.
        self.earlier, self.returns, self.started, self.preface = earlier, tuple(returns), dict(started or {}), preface
        # The chain's clean code the follow-up's session was built from: a backtrack restarts the
        # sandbox, so it runs again before this run's own code (else the earlier results are gone).
        self.earlier_code = tuple(earlier_code)
        self.question, self.config, self.model, self.sandbox = question, config, model, sandbox
        self.context, self.check = context, check
        self.stop = stop or asyncio.Event()
        self.run_id = run_id or uuid.uuid4().hex[:12]
        self.budget = policy.Budget(policy.Limits(config.max_steps, config.max_total_tokens, config.max_seconds,
                                                  config.max_cost))
        profile = getattr(model, "profile", None) or ModelProfile()
        self.settings = Settings(threshold=config.reward_threshold, backtrack=config.backtrack,
                                 self_check=policy.self_check_mode(config.self_check, profile, voted=attempt > 0),
                                 answers_by_printing=config.answer_from_output or profile.answers_by_printing,
                                 recompute_max=config.recompute_max)
        self.stall = StallDetector()
        self.evidence = Evidence()
        self.history = History(config.context_chars)
        self.protocol = actions.choose_protocol(config.protocol, getattr(model, "supports_tools", None), profile.protocol)
        self.queue: asyncio.Queue[Event] = asyncio.Queue()
        self.step = 0
        self.t0 = time.monotonic()
        self.idle_replies = 0  # replies in a row with neither code nor an answer
        self.backtracks = 0
        # (step, messages kept, clean code blocks kept) after each step whose code ran cleanly
        self.checkpoints: list[tuple[int, int, int]] = []
        self.verifying: str | None = None  # answer whose model-written check runs in the next step
        self.verification: Verification | None = None  # independent solutions, once an answer passes
        self.check_messages: list[dict] | None = None  # the latest failed check program's conversation, to repair

    def ev(self, cls: type[Event], **kw: Any) -> Event:
        return cls(run_id=self.run_id, step=self.step, attempt=self.attempt,
                   elapsed=round(time.monotonic() - self.t0, 3), **kw)

    @property
    def has_data(self) -> bool:
        """Given variables or files: independent solutions are programs over them (policy/methods.py)."""
        return bool(self.variables or self.started.get("files"))

    def _steps_left(self) -> int | None:
        limit = self.budget.limits.steps
        return None if limit is None else limit - self.step

    # -- the loop ------------------------------------------------------------------
    async def run(self) -> AsyncIterator[Event]:
        yield self.ev(RunStarted, question=self.question, context=self.context, config=self.config.public() | {
            "model": getattr(self.model, "name", self.config.model),
            "sandbox": getattr(self.sandbox, "name", self.config.sandbox),
            "protocol": self.protocol, "checks": self.settings.self_check,
            "cost_ceiling": run_cost_ceiling(self.config, self.model, len(self.question) + len(self.context)),
            **sandbox_state(self.sandbox)}, **self.started)
        for event in self.preface:
            yield replace(event, run_id=self.run_id, attempt=self.attempt, step=0,
                          elapsed=round(time.monotonic() - self.t0, 3))
        # Limits weaker than asked (no process limit): every view shows errors, so the user reads
        # these where they read the run, not only in a log.
        for warning in getattr(self.sandbox, "warnings", None) or []:
            yield self.ev(Error, message=f"{getattr(self.sandbox, 'name', 'the')} sandbox: {warning}",
                          source="sandbox", fatal=False)
        await self._snapshot_session()
        self.history.add(prompts.system(self.protocol))
        self.history.add(prompts.question(self.question, self.context, earlier=self.earlier, returns=self.returns))
        final: Choice | None = None
        stop_reason = ""
        try:
            while final is None:
                stop_reason = self.budget.exceeded() or ""
                if stop_reason:
                    break
                if self.stop.is_set():
                    raise StopRequested
                self.step += 1
                outcome: list[Choice] = []
                step = self._check_step if self.verification is not None else self._step
                async for event in step(outcome):
                    yield event
                self.budget.steps = self.step
                yield self.ev(BudgetUpdate, spent=self.budget.spent(), limits=replace(self.budget.limits),
                              usage=self.budget.usage)
                if outcome and outcome[-1].ends:
                    final = outcome[-1]
        except StopRequested:
            stop_reason = "stopped by user"
            yield self.ev(Stopped)
        except OutOfTime as exc:  # the model call could not finish within the time budget
            stop_reason = "budget:seconds"
            yield self.ev(Error, message=str(exc), source="model", fatal=True)
        except ModelError as exc:
            stop_reason = "error"
            yield self.ev(Error, message=str(exc), source="model", fatal=True)
        except SandboxError as exc:
            stop_reason = "error"
            yield self.ev(Error, message=str(exc), source="sandbox", fatal=True)
        async for event in self._finish(final, stop_reason):
            yield event

    async def _step(self, outcome: list[Choice]) -> AsyncIterator[Event]:
        """One step of the run itself: the model replies; its code runs; the policy decides."""
        completion: Completion | None = None
        async for item in self._reply():
            if isinstance(item, Completion):
                completion = item
            else:
                yield item
        assert completion is not None
        refusal = completion.refusal if not completion.text.strip() and not completion.tool_calls else ""
        if refusal:
            yield self.ev(Error, message=f"the model refused: {refusal}", source="model")
        action = actions.from_completion(completion)
        self.history.add(_assistant_message(completion), self.step)
        for note in action.notes:
            yield self.ev(Error, message=note, source="model")
        if action.plan:
            yield self.ev(Plan, text=action.plan)
        reply = Reply(refusal=refusal, answer=action.answer)
        execution: ExecutionRecord | None = None
        summary = ""
        if action.code is not None and action.code.strip():
            self.idle_replies = 0
            yield self.ev(Code, code=action.code)
            async for item in self._execute(action.code):
                if isinstance(item, tuple):
                    execution, summary = item
                else:
                    yield item
            error = execution.error if execution is not None else None
            failure = error.headline[:200] if error else None
            printed = _lone_line(self.evidence.outputs[-1]) if not error and self.evidence.outputs else None
            reply = Reply(code=True, error=failure, answer=action.answer, printed=printed,
                          stalled=self.stall.record(action.code, failure))
            hint = correction(error.name, error.value, self.variables, error.traceback, action.code) if error else None
            if hint:
                summary = f"{summary}\n\n{hint}"  # what to do instead: "`df` is already defined; use it"
            if not action.call_id:  # (tool replies come after the whole reply: no checkpoint inside them)
                self.history.add(prompts.observation(summary, self.step, ok=not error), self.step)
                if not error:
                    self.checkpoints.append((self.step, len(self.history.messages), len(self.evidence.code)))
        elif action.answer is None and not refusal:
            self.idle_replies += 1
            yield self.ev(Error, message="the reply had neither a code block nor a final answer", source="model")
        verifying = self.verifying if reply.code else None  # a model-written check ran this step
        if verifying is not None:
            self.verifying = None
            self.evidence.self_checks[verifying] = policy.self_check_signal(execution)
        answer = policy.proposed_answer(reply, self.settings, verifying)
        judged = None
        if answer is not None:
            judged = self._judgement(answer, own=True)
            yield self.ev(Check, reward=judged.reward, signals=list(judged.signals), answer=answer)
            if self.evidence.best is None or judged.reward >= self.evidence.best[0]:
                self.evidence.best = (judged.reward, answer)
        elif reply.code:
            signal = policy.code_ran(execution)
            yield self.ev(Check, reward=signal.value, signals=[signal])
        choice = policy.decide(RunState(
            settings=self.settings, reply=reply, judged=judged, steps_left=self._steps_left(),
            idle_replies=self.idle_replies, backtracks=self.backtracks, has_run_code=bool(self.evidence.last_execution),
            rejections=self.evidence.rejections.get(answer, 0) if answer else 0, verifying=verifying,
            self_checked=answer in self.evidence.self_checks, verification=self.verification,
            last_good_step=self.checkpoints[-1][0] if self.checkpoints else 0))
        yield self.ev(Decision, action=choice.action, reason=choice.reason)
        outcome.append(choice)
        replies = {action.call_id: summary} if action.call_id and reply.code else {}
        async for event in self._carry_out(choice, reply, action.call_id, replies):
            yield event
        self._answer_tool_calls(completion, replies)

    async def _carry_out(self, choice: Choice, reply: Reply, call_id: str | None,
                         replies: dict[str, str]) -> AsyncIterator[Event]:
        """Do what the policy chose: tell the model, start a check, or go back to a good state."""
        if choice.action == "revise" and choice.answer is not None:
            self.evidence.rejections[choice.answer] = self.evidence.rejections.get(choice.answer, 0) + 1
        if choice.action == "verify" and choice.check == "verify":
            self.verifying = choice.answer
        if choice.action == "verify" and choice.check in ("recompute", "methods"):
            plan = plan_for(self.question, data=self.has_data) if choice.check == "methods" else ()
            self.verification = Verification(choice.answer, extra=self.config.recompute_max, mode=choice.check,
                                             plan=plan, first_ruled_out=choice.ruled_out,
                                             run_code=tuple(self.evidence.code),
                                             probability=asks_probability(self.question))
        if choice.message:
            if call_id and call_id not in replies:
                replies[call_id] = choice.message
            else:
                replies["_user"] = choice.message
        if choice.action == "backtrack":
            async for event in self._backtrack(reply.stalled or choice.reason):
                yield event

    def _judgement(self, answer: str, own: bool = False) -> Judgement:
        """`own`: the answer the run's step just gave, so its code is judged with it (the code of the
        earlier run a follow-up continues included: its variables are this run's too)."""
        program = [*self.earlier_code, *self.evidence.code] if own else ()
        signals = policy.judge_signals(
            answer, question=self.question, answer_type=self.config.answer_type, outputs=self.evidence.outputs,
            last_execution=self.evidence.last_execution, self_check=self.evidence.self_checks.get(answer),
            verification=self.verification, user=policy.user_check(answer, self.check),
            program=program, facts=self.facts)
        return Judgement(answer, policy.combine(signals), tuple(signals))

    async def _snapshot_session(self) -> None:
        """Record the session's names before the run's code runs: independent solutions start from
        them (nbreason/isolation.py). A sandbox that cannot is no reason to stop: checks then
        start from the passed variables alone."""
        try:
            await self.sandbox.run_code(isolation.snapshot_code(), timeout=30)
        except SandboxError:
            pass

    async def _backtrack(self, why: str) -> AsyncIterator[Event]:
        """Go back to the last state that worked: restart the sandbox, re-run the clean code up
        to that step, drop the failing steps from the model's view, and ask for another way."""
        self.backtracks += 1
        step, kept_messages, kept_code = self.checkpoints[-1] if self.checkpoints else (0, 2, 0)
        await self.sandbox.restart()
        async for item in self._restore_variables():
            yield item
        async for item in self._rerun(self.earlier_code, "the earlier run's state"):
            yield item
        await self._snapshot_session()  # the session as this run found it: the earlier run's state included
        async for item in self._rerun(self.evidence.code[:kept_code], f"the state of step {step}"):
            yield item
        self.history.truncate(kept_messages)
        kept = self.restore_variables is not None
        self.history.add({"role": "user", "content": prompts.backtrack(why, step, kept, bool(self.earlier_code))},
                         self.step)
        self.stall = StallDetector()
        self.idle_replies = 0

    async def _rerun(self, blocks: Sequence[str], what: str) -> AsyncIterator[Event]:
        """Run clean code again after a restart; the first block that fails is said, and ends it."""
        rerun = await run_again(self.sandbox, blocks, self.config.exec_timeout)
        if rerun.failed:
            yield self.ev(Error, source="sandbox", message=f"rebuilding {what} failed: {rerun.failed}")

    def _answer_tool_calls(self, completion: Completion, replies: dict[str, str]) -> None:
        # The chat API requires a tool message for every tool call of the previous reply.
        for call in completion.tool_calls:
            self.history.add(prompts.tool_observation(call.id, replies.get(call.id, "noted")), self.step)
        if replies.get("_user"):
            self.history.add({"role": "user", "content": replies["_user"]}, self.step)

    async def _finish(self, final: Choice | None, stop_reason: str) -> AsyncIterator[Event]:
        given = final.answer if final is not None else None  # the policy ended the run on this answer
        # Without an acceptable answer there is none to give: the solutions show what each route said.
        none_left = final is not None and final.outcome == "no acceptable answer"
        answer = given if given is not None or none_left else self.evidence.candidate()
        judged: Judgement | None = None
        if answer is not None:
            judged = self._judgement(answer)
            if given is None:  # ended otherwise (budget, stall, Stop): the best answer so far is still checked
                yield self.ev(Check, reward=judged.reward, signals=list(judged.signals), answer=answer)
        reward = judged.reward if given is None and judged else (self.evidence.best[0] if self.evidence.best else 0.0)
        sure, verified, features = None, None, None
        if judged is not None:
            checks = self.verification if self.verification is not None and self.verification.extra_done else None
            features = confidence.features(answer, reward, plausibility.suspicion(judged.signals), checks,
                                           user_check=_user_verdict(judged.signals))
            sure = 0.0 if plausibility.vetoed(judged.signals) else confidence.confidence(features)
            verified = confidence.verified(sure, features)
        if final is not None:
            stop_reason = final.outcome
        solutions = self.verification.rows() if self.verification else []
        yield self.ev(FinalAnswer, answer=answer, stop_reason=stop_reason or "answered", reward=reward,
                      verified=verified, usage=self.budget.usage, steps=self.step, code=list(self.evidence.code),
                      confidence=sure, solutions=solutions, features=features.to_json() if features else {})


def _user_verdict(signals) -> bool | None:
    """What the user's own check (--check fn) said, if the run had one."""
    user = next((s for s in signals if s.name == "user_check"), None)
    return None if user is None else user.value >= 1.0


def _lone_line(output: str) -> str | None:
    """The one short line a program printed, if that is all it printed and it states at most one
    number (the text protocol asks for code that prints only the final answer; "80 and 150" is two
    values, for the model to choose between)."""
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    if len(lines) != 1 or len(lines[0].split()) > 6 or len(numbers_in(lines[0])) > 1:
        return None
    return lines[0]


def run_cost_ceiling(config: RunConfig, model: Model, prompt_chars: int) -> float | None:
    """The most one run can spend, shown before it spends anything (the checks' extra solutions are
    billed too): its limits at the model's price, with what the last step may spend past them."""
    price = getattr(model, "price", None)
    last = policy.last_step_tokens(config.context_chars, prompt_chars + 4_000, config.max_tokens)
    limits = policy.Limits(config.max_steps, config.max_total_tokens, config.max_seconds, config.max_cost)
    return policy.cost_ceiling(limits, getattr(price, "input", None), getattr(price, "output", None),
                               last_step_tokens=last)


def sandbox_state(sandbox: Sandbox) -> dict:
    """What the running sandbox actually is, where it says: `confined` beside the `confine` that
    was asked."""
    confined = getattr(sandbox, "confined", None)
    return {"confined": confined} if isinstance(confined, bool) else {}


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
