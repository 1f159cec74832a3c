"""One step of a running verification: an independent solution of the question.

`Checks` is the part of the loop (nbreason/loop.py) that runs the checks' routes; like `Calls`,
it decides nothing (`policy.decide` does, in the "check" phase). It uses the loop's
`verification`, `check_messages`, `facts`, `question`, `earlier`, `context`, `variables`, `config`,
`settings`, `budget`, `evidence`, `step`, `ev`, `_steps_left` and `_judgement`.
"""

from __future__ import annotations

from typing import AsyncIterator

from . import actions, isolation, policy, prompts
from .calls import Calls
from .corrections import correction
from .events import Check, Code, Decision, Error, Event, Plan
from .models.base import Completion
from .policy import Choice, RunState, plausibility
from .policy.clamping import clamping
from .policy.data_use import data_use
from .policy.methods import METHODS
from .sandboxes.results import last_line


class Checks(Calls):
    async def _check_step(self, outcome: list[Choice]) -> AsyncIterator[Event]:
        """One independent solution: the question alone, in a fresh conversation (the model sees
        neither the run's code nor its answer), by the method the policy names next; a program
        runs once, prose answers in its last line. A program that raised an error, or printed a
        value that cannot be right, may be repaired (the policy decides): its own conversation
        goes on with the error, or with why. Its messages stay out of the run's history."""
        check = self.verification
        assert check is not None
        failed = check.repairable()
        repair = failed is not None and self.check_messages is not None
        if repair:
            method, sampled = METHODS[failed.method], failed.sampled
            messages = self.check_messages
        else:
            method, sampled = check.next_method()
            # An independent solution of a follow-up still needs to know what it follows.
            context = "\n\n".join(part for part in (self.earlier, self.context) if part.strip())
            messages = method.messages(self.question, context)
        self.check_messages = None
        # a repair keeps the seed of the solution it repairs
        sample = policy.solution_sampling(self.config.temperature, self.config.seed, check.extra_done - repair)
        temperature = sample.temperature if sampled else self.config.temperature
        completion: Completion | None = None
        async for item in self._call_model(messages, temperature=temperature, seed=sample.seed):
            if isinstance(item, Completion):
                completion = item
            else:
                yield item
        assert completion is not None
        # the failed program is the repaired conversation's last reply
        if repair and policy.same_program(actions.from_text(completion.text).code,
                                          actions.from_text(messages[-2]["content"]).code) \
                and self.budget.exceeded() is None:
            # the repair wrote the failed program again: once more, sampled and told what must change
            again = policy.revision_sampling(self.config.temperature, self.config.seed, self.step, draw=1)
            why = failed.error or "it printed a value that cannot be right"
            async for item in self._redraw(f"the {method.name} repair repeats its failed program; drawing another, "
                                           "sampled, told what must change", again, fresh=messages,
                                           extra=[prompts.changed(why)]):
                if isinstance(item, Completion):
                    completion = item
                else:
                    yield item
        answer, execution, error, program = None, None, None, None
        if method.code:
            action = actions.from_text(completion.text)
            program = action.code
            if action.plan:
                yield self.ev(Plan, text=f"**{method.name}{' (repair)' if repair else ''}.** {action.plan}")
            if action.code and action.code.strip():
                yield self.ev(Code, code=action.code)
                summary = ""
                # its own namespace, with the passed data loaded afresh there (nbreason/isolation.py);
                # not the run's code: never exported or replayed as the run's
                async for item in self._execute(action.code, isolation.isolated_code(action.code, list(self.variables)),
                                                record=False):
                    if isinstance(item, tuple):
                        execution, summary = item
                    else:
                        yield item
                if execution.ok:
                    answer = last_line(self.evidence.outputs[-1])
                elif execution.error is not None:
                    error = execution.error.headline[:200]
                    if hint := correction(execution.error.name, execution.error.value, self.variables,
                                          execution.error.traceback, action.code):
                        summary = f"{summary}\n\n{hint}"
                    self.check_messages = [*messages, {"role": "assistant", "content": completion.text},
                                           prompts.observation(summary, self.step, ok=False)]
            else:
                yield self.ev(Error, message=f"the {method.name} solution had no code block", source="model")
        else:
            yield self.ev(Plan, text=f"**{method.name}.** {completion.text.strip()}")
            answer = method.answer(completion.text)
        printed = [self.evidence.outputs[-1]] if execution is not None and execution.ok else []
        check.add(answer, method, sampled,
                  veto=lambda value: plausibility.vetoed(
                      plausibility.plausibility(value, self.question)
                      + data_use(value, self.question, [program] if program else [], printed, self.facts)
                      + clamping(value, [program] if program else [], self.question)),
                  error=error, repair=repair, code=program)
        latest = check.solutions[-1]
        if latest.told and program is not None and check.repairable() is latest:
            # what it printed and why that cannot be right; never the answer under check
            self.check_messages = [*messages, {"role": "assistant", "content": completion.text},
                                   prompts.check_ruled_out(answer, latest.told)]
        signals = ([policy.code_ran(execution)] if method.code else []) + [
            policy.method_agreement(answer, check) if check.mode == "methods"
            else policy.agreement(answer, check.answers, check.needed(answer))]
        yield self.ev(Check, reward=policy.combine(signals), signals=signals, answer=answer)
        choice = policy.decide(RunState(phase="check", settings=self.settings, steps_left=self._steps_left(),
                                        verification=check))
        if choice.ends and choice.answer is not None:
            judged = self._judgement(choice.answer)
            self.evidence.best = (judged.reward, choice.answer)  # the check's verdict replaces the earlier score
            yield self.ev(Check, reward=judged.reward, signals=list(judged.signals), answer=choice.answer)
        yield self.ev(Decision, action=choice.action, reason=choice.reason)
        outcome.append(choice)
