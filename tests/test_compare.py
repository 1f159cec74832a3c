"""Two runs aligned moment by moment, and the first point where they part ways, on small synthetic traces."""

from __future__ import annotations

import pytest

from nbreason.compare import align, compare, moments, output_text
from nbreason.events import Check, Observation
from nbreason.execution import ErrorRecord, ExecutionRecord, ResultRecord
from tests.support.runs import attempts, run, step


NAMEERROR = {"name": "NameError", "value": "name 'y' is not defined", "traceback": "Cell In[3] ..."}

CASES = {
    "identical runs do not diverge": (
        run(step(1)), run(step(1)), None),
    "timings and token counts never count as a divergence": (
        run(step(1, action="continue"), step(2)), run(step(1, action="continue", slow=True), step(2, slow=True)),
        None),
    "the same code printing something else diverges at the output": (
        run(step(1)), run(step(1, output="2\n", answer="2")), ("output", 0, 1, "printed different output")),
    "different code diverges at the code, before its output": (
        run(step(1)), run(step(1, code="x = 2\nprint(x)", output="2\n", answer="2")),
        ("code", 0, 1, "different code")),
    "trailing spaces in code are not a difference": (
        run(step(1, code="x = 1   \nprint(x)\n")), run(step(1)), None),
    "the same output judged differently diverges at the check": (
        run(step(1, reward=1.0)), run(step(1, reward=0.33)), ("check", 0, 1, "reward 1.00 for 1 vs 0.33")),
    "the same check followed by another decision diverges at the decision": (
        run(step(1), step(2)), run(step(1, action="verify"), step(2)), ("decision", 0, 1, "A decided final, B decided verify")),
    "a different error message diverges at the output": (
        run(step(1, error=NAMEERROR, output="")),
        run(step(1, error={**NAMEERROR, "value": "name 'z' is not defined"}, output="")),
        ("output", 0, 1, "NameError")),
    "a run that goes on longer diverges where the other had stopped": (
        run(step(1, action="continue"), step(2, action="continue"), stop="budget:steps"),
        run(step(1, action="continue"), step(2, action="continue"), step(3)),
        ("only-right", 0, 3, "only B went on to this step; A stopped after step 2")),
    "the shorter run on the right is named too": (
        run(step(1, action="continue"), step(2, action="continue"), step(3)),
        run(step(1, action="continue"), step(2, action="continue"), stop="budget:steps"),
        ("only-left", 0, 3, "only A went on to this step; B stopped after step 2")),
    "only the final answer differing diverges at the answer": (
        run(step(1), answer="1"), run(step(1), answer="one"), ("answer", 0, 1, "different final answers: 1 vs one")),
    "attempts are compared attempt by attempt, however their events interleave": (
        attempts(step(1, attempt=1), step(1, attempt=2)),
        attempts(step(1, attempt=1), step(1, attempt=2), interleave=False), None),
    "a difference inside the second attempt names the attempt": (
        attempts(step(1, attempt=1), step(1, attempt=2)),
        attempts(step(1, attempt=1), step(1, attempt=2, code="print(1)")),
        ("code", 2, 1, "attempt 2, step 1: the two runs wrote different code")),
}


@pytest.mark.parametrize("left, right, expected", CASES.values(), ids=CASES.keys())
def test_first_divergence(left, right, expected):
    found = compare(left, right).first
    if expected is None:
        assert found is None
        return
    kind, attempt, step_number, words = expected
    assert (found.kind, found.attempt, found.step) == (kind, attempt, step_number)
    assert words in found.what


def test_every_event_of_both_runs_appears_once_in_the_aligned_rows_in_order():
    left = run(step(1, action="continue"), step(2))
    right = run(step(1, action="continue"), step(2, action="continue"), step(3))
    rows = align(left, right)
    assert [r.left for r in rows if r.left] == left
    assert [r.right for r in rows if r.right] == right
    # the extra step has gaps on the left, and the two final answers meet at the end
    extra = [r for r in rows if r.step == 3 and r.left is None]
    assert len(extra) == 6 and rows[-1].left is left[-1] and rows[-1].right is right[-1]


def test_a_step_with_two_checks_keys_them_apart():
    events = run(step(1)) + [Check(step=1, reward=0.5)]
    keys = [k for k, _ in moments(events)]
    assert (0, 1, "check", 0) in keys and (0, 1, "check", 1) in keys and len(set(keys)) == len(keys)


def test_each_runs_end_and_the_settings_that_differ():
    result = compare(run(step(1), answer="30", self_check="auto"), run(step(1), answer="10", self_check="off"))
    assert [e.answer for e in result.ends] == ["30", "10"]
    assert result.ends[0].reward == 1.0 and result.ends[0].cost == 0.0 and result.ends[0].tokens == 140
    assert result.settings == [("self_check", "auto", "off")]  # the trace file name is not a setting
    assert result.questions == ("What is x?", "What is x?")


def test_a_trace_cut_before_its_answer_ends_unfinished():
    cut = run(step(1, action="continue"), step(2))[:-3]
    end = compare(cut, run(step(1))).ends[0]
    assert not end.finished and end.answer is None and end.steps == 2


def test_output_text_holds_printed_text_displayed_values_and_the_error_not_the_traceback():
    observation = Observation(execution=ExecutionRecord(stdout=("a\n",), results=(ResultRecord(text="42"),),
                                                        error=ErrorRecord(**NAMEERROR)))
    assert output_text(observation) == "a\n42\nNameError: name 'y' is not defined"
