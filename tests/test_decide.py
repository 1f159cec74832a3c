"""Every rule that continues or ends a run, as a table: policy.decide(state) -> Choice.

No kernel, no model: each row is a state and what the policy must choose for it."""

from __future__ import annotations

import pytest

from nbreason.events import Signal
from nbreason.policy import Judgement, Reply, RunState, Settings, Verification, decide, proposed_answer
from nbreason.policy.decide import MAX_BACKTRACKS, STALL_REPEATS
from nbreason.policy.methods import CHECKED, EXACT, PROSE, ROWS, SIMULATION

GOOD = Judgement("42", 1.0, (Signal("answer", 1.0, "an answer was given"),))
WEAK = Judgement("42", 0.5, (Signal("grounded", 0.0, "42 does not appear in any code output"),
                             Signal("answer", 1.0, "an answer was given")))
STALL = "stalled: the same failing code was written again"
YEAR_ASKED = "the question asks for a year (a whole number like 2005): '52' is not one"
IMPLAUSIBLE = Judgement("52", 1.0, (Signal("answer", 1.0, "an answer was given"), Signal("form", 0.0, YEAR_ASKED, 0.0)))
METHODS_CHECK = Settings(self_check="methods")


def verification(first: str, *others: str | None, extra: int = 3) -> Verification:
    check = Verification(first, extra=extra)
    for answer in others:
        check.add(answer)
    return check


def methods(first: str, *others: tuple, plan=(), extra: int = 3, probability: bool = False) -> Verification:
    """A methods check of the run's `first` answer, with (answer, method) solutions."""
    check = Verification(first, extra=extra, mode="methods", plan=plan, probability=probability)
    for answer, method in others:
        check.add(answer, method)
    return check


def ruled_out(*others: tuple, extra: int = 3) -> Verification:
    """A methods check of the vetoed answer 52, with (answer, method) solutions; 52 stays ruled out.
    (answer, method, REPAIR): the answer of a repair of the solution before it."""
    check = Verification("52", extra=extra, mode="methods", first_ruled_out=YEAR_ASKED)
    for answer, method, *repair in others:
        check.add(answer, method, veto=lambda value: YEAR_ASKED if value == "52" else None, repair=bool(repair))
    return check


REPAIR = "repair"


def failed(check: Verification, *, repaired: int = 0) -> Verification:
    """The check with one more solution whose program raised an error (after `repaired` repairs)."""
    check.add(None, error="KeyError: 'Price'")
    for _ in range(repaired):
        check.add(None, error="KeyError: 'Price'", repair=True)
    return check


STEP_RULES = [
    # (why, state, action, outcome or check, words in the reason)
    ("a refusal ends the run", RunState(reply=Reply(refusal="I cannot help")), "final", "refused", "refused"),
    ("a good answer ends it", RunState(judged=GOOD), "final", "answered", "≥ threshold"),
    ("a good answer is checked first when recompute is on",
     RunState(judged=GOOD, settings=Settings(self_check="recompute"), steps_left=3), "verify", "recompute",
     "solving the question again"),
    ("recompute is not started twice",
     RunState(judged=GOOD, settings=Settings(self_check="recompute"), verification=verification("42")),
     "final", "answered", "threshold"),
    ("no steps left: accepted without the check",
     RunState(judged=GOOD, settings=Settings(self_check="recompute"), steps_left=0), "final", "answered",
     "threshold"),
    ("the model writes a check when verify is on",
     RunState(judged=GOOD, settings=Settings(self_check="verify"), steps_left=2), "verify", "verify",
     "independent check"),
    ("an answer whose check ran is accepted", RunState(judged=GOOD, settings=Settings(self_check="verify"),
                                                       self_checked=True), "final", "answered", "threshold"),
    ("a weak answer is sent back with its reasons", RunState(judged=WEAK), "revise", None, "does not appear"),
    ("the same weak answer again ends the run unverified", RunState(judged=WEAK, rejections=1), "final",
     "answered (unverified)", "came back"),
    ("an answer that cannot be right is sent back with the reason", RunState(judged=IMPLAUSIBLE), "revise", None,
     "cannot be right: the question asks for a year"),
    ("back again: without the methods check the run ends with no answer",
     RunState(judged=IMPLAUSIBLE, rejections=1), "final", "no acceptable answer", "still cannot be right"),
    ("back again: the methods check solves it by other routes, the answer ruled out",
     RunState(judged=IMPLAUSIBLE, rejections=1, settings=METHODS_CHECK, steps_left=4), "verify", "methods",
     "solving the question by other methods"),
    ("back again with no steps left: no answer",
     RunState(judged=IMPLAUSIBLE, rejections=1, settings=METHODS_CHECK, steps_left=0), "final",
     "no acceptable answer", "still cannot be right"),
    ("back again while a check runs: no second check",
     RunState(judged=IMPLAUSIBLE, rejections=1, settings=METHODS_CHECK, verification=ruled_out()), "final",
     "no acceptable answer", "still cannot be right"),
    ("a stall backtracks", RunState(reply=Reply(code=True, error="E: x", stalled=STALL), last_good_step=2),
     "backtrack", None, "back to the state after step 2"),
    ("a stall with backtracking off ends the run",
     RunState(reply=Reply(code=True, error="E: x", stalled=STALL), settings=Settings(backtrack=False)),
     "final", STALL, "same failing code"),
    ("a second stall ends the run",
     RunState(reply=Reply(code=True, error="E: x", stalled=STALL), backtracks=MAX_BACKTRACKS), "final", STALL,
     "same failing code"),
    ("a second stall with the methods check: the other routes solve it, with no answer of the run's",
     RunState(reply=Reply(code=True, error="E: x", stalled=STALL), backtracks=MAX_BACKTRACKS,
              settings=METHODS_CHECK, steps_left=3), "verify", "methods", "with no answer: solving the question"),
    ("a second stall with the methods check and no steps left ends the run",
     RunState(reply=Reply(code=True, error="E: x", stalled=STALL), backtracks=MAX_BACKTRACKS,
              settings=METHODS_CHECK, steps_left=0), "final", STALL, "same failing code"),
    ("a second stall while a check runs ends the run",
     RunState(reply=Reply(code=True, error="E: x", stalled=STALL), backtracks=MAX_BACKTRACKS,
              settings=METHODS_CHECK, verification=ruled_out()), "final", STALL, "same failing code"),
    ("failing code is sent back", RunState(reply=Reply(code=True, error="ZeroDivisionError: x")), "revise", None,
     "code failed"),
    ("code that ran is read next", RunState(reply=Reply(code=True)), "continue", None, "reads the output"),
    ("a reply without code or an answer asks for code", RunState(idle_replies=1), "revise", None,
     "asked the model"),
    ("too many such replies stall the run", RunState(idle_replies=STALL_REPEATS), "final",
     f"stalled: {STALL_REPEATS} replies in a row without code or an answer", "replies in a row"),
]


@pytest.mark.parametrize("why,state,action,detail,words", STEP_RULES, ids=[row[0] for row in STEP_RULES])
def test_each_rule_of_a_step(why, state, action, detail, words):
    choice = decide(state)
    assert choice.action == action
    if action == "final":
        assert choice.outcome == detail
    if action == "verify":
        assert choice.check == detail
    assert words in choice.reason


def test_a_ruled_out_answer_is_never_the_plurality():
    assert ruled_out(("52", CHECKED), (None, ROWS)).plurality() is None
    assert ruled_out(("52", CHECKED), ("2008", ROWS)).plurality() == "2008"


def test_a_ruled_out_answer_is_handed_to_its_check_with_the_reason():
    choice = decide(RunState(judged=IMPLAUSIBLE, rejections=1, settings=METHODS_CHECK))
    assert (choice.answer, choice.ruled_out) == ("52", YEAR_ASKED)
    check = Verification(choice.answer, mode="methods", first_ruled_out=choice.ruled_out)
    assert check.answers == [None] and "52 (cannot be right)" in check.summary()


def test_what_the_model_is_told_next():
    assert "```python block" in decide(RunState(idle_replies=1)).message
    assert "FINAL ANSWER" in decide(RunState(idle_replies=1, has_run_code=True)).message
    assert "not yet supported" in decide(RunState(judged=WEAK)).message
    assert "prints True" in decide(RunState(judged=GOOD, settings=Settings(self_check="verify"))).message
    assert decide(RunState(reply=Reply(code=True))).message is None  # the output itself is what it reads


CHECK_RULES = [
    ("one agreeing solution confirms the first answer", verification("5", "5.0"), None, "final", "5", True,
     "an independent solution agrees"),
    ("a disagreeing solution asks for another", verification("5", "6"), None, "verify", "5", None,
     "not settled yet"),
    ("two agreeing solutions replace the first answer", verification("5", "6", None, "6"), None, "final", "6", True,
     "replacing the first answer 5"),
    ("nothing settled within the solutions allowed: the plurality, unverified", verification("5", "6", "7", extra=2),
     None, "final", "5", False, "unverified"),
    ("no steps left: the plurality now", verification("5", "6"), 0, "final", "5", False, "nothing settled"),
    ("a solution whose program failed is repaired", failed(verification("5")), None, "verify", "5", None,
     "program solution failed (KeyError: 'Price'): repairing it once"),
    ("once only: a failed repair counts as no answer", failed(verification("5", "5"), repaired=1), None,
     "final", "5", True, "agrees"),
    ("no steps left: no repair", failed(verification("5", "6")), 0, "final", "5", False, "nothing settled"),
    ("a repair in methods mode", failed(Verification("5", mode="methods")), None, "verify", "5", None,
     "repairing it once"),
    ("a ruled-out answer: two other routes agreeing settle it", ruled_out(("2008", CHECKED), ("2008", ROWS)),
     None, "final", "2008", True, "agree on 2008"),
    ("a ruled-out answer: one route is not enough", ruled_out(("2008", CHECKED)), None, "verify", "52", None,
     "not settled yet"),
    ("a route whose answer cannot be right is repaired, told why", ruled_out(("2008", CHECKED), ("52", ROWS)),
     None, "verify", "52", None, "the row by row solution printed a value that cannot be right: repairing it once"),
    ("no steps left: no repair of it either", ruled_out(("52", ROWS)), 0, "final", None, False,
     "no method found"),
    ("a prose route is not repaired", ruled_out(("52", PROSE)), None, "verify", "52", None, "not settled yet"),
    ("a ruled-out answer given again by every route, repairs too: no answer",
     ruled_out(("52", CHECKED), ("52", CHECKED, REPAIR), ("52", ROWS), (None, ROWS, REPAIR), extra=2), None, "final",
     None, False, "no method found an answer that can be right"),
    ("a check supports the earlier answer it equals, not the first it rounds to",
     methods("12.5", ("13.0", CHECKED), ("13", ROWS)), None, "final", "13.0", True, "checked and rows agree on 13.0"),
    ("an estimate supports the exact value found after it", methods("1/2", ("0.49018", SIMULATION),
                                                                   ("25/51", EXACT), probability=True),
     None, "final", "25/51", True, "agree on 25/51"),
    ("an estimate of a probability nine standard errors away supports nothing",
     methods("1/2", ("0.49018", SIMULATION), probability=True), None, "verify", "1/2", None, "not settled yet"),
    ("an estimate of an expected value within 2 % supports it", methods("1", ("0.99779", SIMULATION)), None,
     "final", "1", True, "agree on 1"),
    ("an estimate equal to the run's answer keeps to it when a rougher answer comes (it went to 0.49, settled)",
     methods("0.4902", ("0.4902", SIMULATION), ("0.49", PROSE), probability=True), None, "verify", "0.4902", None,
     "not settled yet"),
    ("a ruled-out answer against one other: the other, unverified",
     ruled_out(("52", CHECKED), ("2008", CHECKED, REPAIR), ("52", ROWS), ("52", ROWS, REPAIR), extra=2), None,
     "final", "2008", False, "methods disagree"),
]


@pytest.mark.parametrize("why,check,steps_left,action,answer,verified,words", CHECK_RULES,
                         ids=[row[0] for row in CHECK_RULES])
def test_each_rule_of_a_verification(why, check, steps_left, action, answer, verified, words):
    choice = decide(RunState(phase="check", verification=check, steps_left=steps_left))
    assert (choice.action, choice.answer, choice.verified) == (action, answer, verified)
    assert (choice.check == "repair") == ("repairing" in words)
    assert words in choice.reason


PROPOSALS = [
    ("the stated answer", Reply(answer="7"), Settings(), None, "7"),
    ("not when its code failed", Reply(answer="7", code=True, error="E: x"), Settings(), None, None),
    ("a lone printed line, for models that answer by printing", Reply(code=True, printed="7"),
     Settings(answers_by_printing=True), None, "7"),
    ("not for other models", Reply(code=True, printed="7"), Settings(), None, None),
    ("the answer under a model-written check, whatever the check printed", Reply(code=True, error="E: x"),
     Settings(), "5", "5"),
]


@pytest.mark.parametrize("why,reply,settings,verifying,answer", PROPOSALS, ids=[row[0] for row in PROPOSALS])
def test_which_answer_a_step_proposes(why, reply, settings, verifying, answer):
    assert proposed_answer(reply, settings, verifying) == answer
