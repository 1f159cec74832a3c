"""Every rule that continues or ends a run, as one pure function: `decide(state) -> Choice`.

After each step the loop hands over what happened (`RunState`) and carries out the answer. The
rules, in the order they are tried:

After a step of the run ("step" phase)
  1. refused      the model declined and said nothing else           -> final ("refused")
  2. an answer    the step proposed one (`proposed_answer`): judged by its reward
       a. an answer that cannot be right (policy/plausibility.py: no value, a probability above 1, …;
          policy/data_use.py: a program that never selects the category the question names, …)
                    sent back                                        -> revise
                    the second time, with the methods self-check and steps left, the
                    question is solved by other routes, this answer ruled out   -> verify
                    else the run ends without an acceptable answer   -> final
       b. reward >= threshold and a self-check is asked for and not yet done, steps left
                    methods: solve again by other routes             -> verify
                    recompute: solve again from scratch              -> verify
                    verify: the model writes a check printing True   -> verify
       c. reward >= threshold                                        -> final ("answered")
       d. the same answer was already sent back MAX_REJECTIONS - 1 times
                                                                     -> final ("answered (unverified)")
       e. otherwise: told which signals are weak                     -> revise
  3. code ran without an answer
       a. stalled (the same failing code again, or the same error STALL_REPEATS times) and
          backtracking allowed and fewer than MAX_BACKTRACKS made    -> backtrack
       b. stalled with backtracking used up (or off), with the methods self-check and steps
          left: the question is solved by other routes, with no answer of the run's own -> verify
       c. stalled                                                    -> final ("stalled: …")
       d. the code failed: the model sees the error                  -> revise
       e. it ran: the model reads the output                         -> continue
  4. neither code nor an answer
       a. STALL_REPEATS such replies in a row                        -> final ("stalled: …")
       b. otherwise: asked for code (or `FINAL ANSWER:` once output exists)  -> revise
After an independent solution of a running verification ("check" phase)
  5. its program raised an error or printed a value that cannot be right, not yet repaired,
     steps left                                                      -> verify ("repair": the same
                                                                       conversation sees the error, or why)
  6. settled (policy/verification.py), or no solutions or steps left -> final (no acceptable
                                                                       answer if none is left)
     otherwise                                                      -> verify (solve once more,
                                                                       by the next method)
Budget limits (policy/budget.py) and the Stop button end a run between steps.
"""

from __future__ import annotations

from .. import prompts
from .plausibility import vetoed
from .state import Choice, Reply, RunState, Settings
from .verification import Verification
from ..answers import key as answer_key

MAX_REJECTIONS = 2  # the same answer sent back this often is given as final, marked unverified
MAX_BACKTRACKS = 1  # a stalled run goes back to its last good state once, then stops
STALL_REPEATS = 3  # replies in a row without code or an answer (and equal errors) that stall a run


def accepts(reward: float, settings: Settings) -> bool:
    """The stop rule: an answer whose combined reward reaches the threshold is good enough."""
    return reward >= settings.threshold


def proposed_answer(reply: Reply, settings: Settings, verifying: str | None = None) -> str | None:
    """The answer a step puts forward, if any: the one whose model-written check just ran; the
    answer the model stated (unless its code failed); or, for models that answer by printing, the
    one short line its code printed."""
    if verifying is not None:
        return verifying
    if reply.answer is not None and not (reply.code and reply.error):
        return reply.answer
    if reply.code and not reply.error and settings.answers_by_printing and reply.printed:
        return reply.printed
    return None


def decide(state: RunState) -> Choice:
    if state.phase == "check":
        assert state.verification is not None, "a check phase needs a running verification"
        return _settle(state.verification, state.steps_left)
    reply = state.reply
    if reply.refusal:
        return Choice("final", "the model refused to answer", outcome="refused")
    if state.judged is not None:
        return _judge(state)
    if reply.code:
        return _after_code(state)
    if state.idle_replies >= STALL_REPEATS:
        why = f"stalled: {state.idle_replies} replies in a row without code or an answer"
        return Choice("final", why, outcome=why)
    nudge = prompts.NUDGE_FORMAT if state.has_run_code else prompts.NUDGE_CODE
    return Choice("revise", "asked the model for code or a final answer", message=nudge)


def _has_steps(steps_left: int | None) -> bool:
    return steps_left is None or steps_left > 0


def _judge(state: RunState) -> Choice:
    judged, settings = state.judged, state.settings
    assert judged is not None
    answer, reward = judged.answer, judged.reward
    implausible = vetoed(judged.signals)
    if implausible:  # an answer that cannot be right is never accepted
        if state.rejections + 1 >= MAX_REJECTIONS:
            if settings.self_check == "methods" and state.verification is None and _has_steps(state.steps_left):
                return Choice("verify", f"the answer came back after revision and still cannot be right "
                                        f"({implausible}): solving the question by other methods, without "
                                        "showing this answer", answer=answer, check="methods", ruled_out=implausible)
            return Choice("final", f"the answer came back after revision and still cannot be right: {implausible}",
                          verified=False, outcome="no acceptable answer")
        return Choice("revise", f"cannot be right: {implausible}", answer=answer,
                      message=prompts.revise(answer, [implausible]))
    if accepts(reward, settings) and _has_steps(state.steps_left):
        if settings.self_check == "methods" and state.verification is None:
            return Choice("verify", f"before accepting {answer!r}: solving the question again by other methods "
                                    f"(up to {settings.recompute_max}), without showing this answer",
                          answer=answer, check="methods")
        if settings.self_check == "recompute" and state.verification is None:
            return Choice("verify", f"before accepting {answer!r}: solving the question again from scratch "
                                    f"(up to {settings.recompute_max} more times) until the answers agree",
                          answer=answer, check="recompute")
        if settings.self_check == "verify" and not state.self_checked:
            return Choice("verify", "the model writes an independent check before accepting", answer=answer,
                          check="verify", message=prompts.verify(answer))
    if accepts(reward, settings):
        return Choice("final", f"reward {reward:.2f} ≥ threshold {settings.threshold:.2f}", answer=answer,
                      verified=True, outcome="answered")
    if state.rejections + 1 >= MAX_REJECTIONS:
        return Choice("final", f"the same answer came back after revision; reward {reward:.2f} stays below the "
                               "threshold", answer=answer, verified=False, outcome="answered (unverified)")
    weak = list(judged.weak)
    return Choice("revise", f"reward {reward:.2f} < threshold: " + "; ".join(weak), answer=answer,
                  message=prompts.revise(answer, weak))


def _after_code(state: RunState) -> Choice:
    reply = state.reply
    if reply.stalled and state.settings.backtrack and state.backtracks < MAX_BACKTRACKS:
        return Choice("backtrack", f"{reply.stalled}; back to the state after step {state.last_good_step} to try "
                                   "another way")
    if reply.stalled and state.settings.self_check == "methods" and state.verification is None \
            and _has_steps(state.steps_left):
        return Choice("verify", f"{reply.stalled}, with no answer: solving the question by other methods",
                      answer=None, check="methods")
    if reply.stalled:
        return Choice("final", reply.stalled, outcome=reply.stalled)
    if reply.error:
        return Choice("revise", "the code failed; the model sees the error")
    return Choice("continue", "the model reads the output next")


def _settle(check: Verification, steps_left: int | None) -> Choice:
    failed = check.repairable()
    if failed is not None and _has_steps(steps_left):
        what = f"failed ({failed.error})" if failed.error else "printed a value that cannot be right"
        return Choice("verify", f"the {failed.method} solution {what}: repairing it once, shown "
                                f"{'its error' if failed.error else 'why'} but never the answer under check",
                      answer=check.first, check="repair")
    if check.mode == "methods":
        return _settle_methods(check, steps_left)
    latest = check.answers[-1]
    settled = check.settled()
    if settled is None and not check.exhausted() and _has_steps(steps_left):
        return Choice("verify", f"solution {check.extra_done + 1} gives {latest}; the first gave {check.first}: "
                                "not settled yet, solving once more", answer=check.first, check="recompute")
    final = settled if settled is not None else check.plurality()
    votes = f"{check.votes(final)} of {len(check.answers)} solutions"
    if settled is None:
        why = f"nothing settled; {final} has the most votes ({votes}): unverified"
    elif answer_key(settled) == answer_key(check.first):
        why = f"an independent solution agrees: {settled} ({votes})"
    else:
        why = f"{votes} give {settled}, replacing the first answer {check.first}"
    return Choice("final", why, answer=final, verified=settled is not None,
                  outcome="answered" if settled is not None else "answered (unverified)")


def _settle_methods(check: Verification, steps_left: int | None) -> Choice:
    agreed = check.agreeing()
    if agreed is None and not check.exhausted() and _has_steps(steps_left):
        method, sampled = check.next_method()
        return Choice("verify", f"{check.summary()}: not settled yet, solving again by "
                                f"{method.name}{' (sampled)' if sampled else ''}", answer=check.first, check="methods")
    if agreed is not None:
        routes = " and ".join(dict.fromkeys(agreed.families))
        return Choice("final", f"{routes} agree on {agreed.answer} ({check.summary()})", answer=agreed.answer,
                      verified=True, outcome="answered")
    if not check.standings():
        return Choice("final", f"no method found an answer that can be right ({check.summary()})",
                      verified=False, outcome="no acceptable answer")
    final = check.plurality()
    return Choice("final", f"the methods disagree ({check.summary()}); {final} has the most support: unverified",
                  answer=final, verified=False, outcome="answered (unverified)")
