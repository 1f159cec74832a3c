"""Reward signals: each returns a value in [0, 1] and a reason."""

import pytest

from nbreason.events import Signal
from nbreason.policy.reward import agreement, answer_parses, code_ran, combine, grounded, user_check
from nbreason.policy.voting import majority_vote
from nbreason.execution import ErrorRecord, ExecutionRecord
from nbreason.policy.reward import self_check_signal


def test_a_sentence_is_not_an_answer_value():
    long = "The negative values indicate that the solution is not valid in the context of the problem at all"
    assert answer_parses(long).value < 0.5 and "sentence" in answer_parses(long).reason
    assert answer_parses("13 m wide, 56 m of fence").value == 1.0


def test_expected_number_type():
    assert answer_parses("forty", expect="number").value < 1
    assert answer_parses("40", expect="number").value == 1


def test_grounded_needs_the_value_in_the_output():
    assert grounded("72", ["72.0"]).value == 1.0
    assert grounded("73", ["72.0"]).value == 0.0
    assert grounded("West", ["region\nWest 320"]).value == 1.0
    assert grounded("7", []).value == 0.0


@pytest.mark.parametrize("answer,output,value", [
    ("$1,234.50", "total = 1234.5", 1.0),
    ("1/3", "0.3333333333333333", 1.0),
    ("0.33", "0.3333333333333333", 0.0),  # rounded to 2 digits is not the printed value
    ("-5", "x-5 = 0", 0.0),  # x-5 is a subtraction: no -5 was printed
    ("-5", "x = -5", 1.0),
    ("\\frac{\\sqrt{3}}{2}", "sqrt(3)/2", 1.0),  # the same key, spelled as sympy prints it
])
def test_grounded_compares_with_the_answers_module(answer, output, value):
    assert grounded(answer, [output]).value == value


@pytest.mark.parametrize("answer,output", [("3/4", "0.75"), ("\\frac{3}{4}", "0.75"), ("0.75", "3/4"), ("75%", "75.0")])
def test_a_fraction_is_a_number_to_every_signal_as_it_is_to_voting(answer, output):
    # These used to disagree: "3/4" was one vote with "0.75", yet not a number (0.3) and not grounded (0.5).
    assert majority_vote([answer, output]).votes == {majority_vote([output]).key: 2.0}
    assert answer_parses(answer, expect="number").value == 1.0
    assert grounded(answer, [output]).value == 1.0
    assert agreement(answer, [answer, output]).value == 1.0


def test_code_ran_reads_the_error():
    assert code_ran(ExecutionRecord()).value == 1.0
    signal = code_ran(ExecutionRecord(error=ErrorRecord("KeyError", "'x'")))
    assert signal.value == 0.0 and "KeyError: 'x'" in signal.reason
    assert code_ran(None).value == 0.0 and "no code" in code_ran(None).reason


def test_self_check_reads_the_last_printed_line():
    assert self_check_signal(ExecutionRecord(stdout=("checking\n", "True\n"))).value == 1.0
    assert self_check_signal(ExecutionRecord(stdout=("False\n",))).value == 0.0
    inconclusive = self_check_signal(ExecutionRecord(stdout=("maybe\n",)))
    assert inconclusive.value == 0.5 and "'maybe'" in inconclusive.reason
    failed = self_check_signal(ExecutionRecord(stdout=("True\n",), error=ErrorRecord("NameError", "x")))
    assert failed.value == 0.5 and "NameError" in failed.reason
    assert "no code" in self_check_signal(None).reason


def test_user_check_scores_bool_numbers_and_exceptions():
    assert user_check("4", lambda a: a == "4").value == 1.0
    assert user_check("4", lambda a: 0.25).value == 0.25
    assert user_check("4", lambda a: 1 / 0).value == 0.0
    assert user_check("4", None) is None


@pytest.mark.parametrize("score", [float("nan"), float("inf"), -float("inf")])
@pytest.mark.parametrize("kind", ["python", "numpy"])
def test_a_user_check_scoring_nan_or_infinity_fails_instead_of_passing(score, kind):
    import numpy as np

    verdict = np.float32(score) if kind == "numpy" else score
    signal = user_check("4", lambda a: verdict)
    assert signal.value == 0.0 and "not a score" in signal.reason


def test_a_numpy_score_counts_as_a_score_not_as_truthiness():
    import numpy as np

    assert user_check("4", lambda a: np.float32(0.25)).value == 0.25
    assert user_check("4", lambda a: np.bool_(False)).value == 0.0


def test_combine_is_the_weighted_mean():
    assert combine([Signal("a", 1.0), Signal("b", 0.0, weight=3.0)]) == 0.25
    assert combine([]) == 0.0


def test_agreement_counts_independent_solutions_that_give_the_same_value():
    agreed = agreement("18", ["18", "20", "$18.00"])
    assert agreed.value == 1.0 and "2 of 3" in agreed.reason and agreed.weight == 2.0
    short = agreement("20", ["18", "20", "20"], needed=3)
    assert short.value == 0.0 and "2 of 3" in short.reason and "3 needed" in short.reason
    alone = agreement("18", ["18", "20", None])
    assert alone.value == 0.0 and "20" in alone.reason and "no answer" in alone.reason
    assert agreement(None, [None, None]).value == 0.0  # no answer agrees with nothing
    assert agreement("nan", ["nan", "nan"]).value == 0.0  # nor does a printed non-value


def test_an_answer_with_a_scale_word_is_grounded_in_output_that_says_it_the_same_way():
    assert grounded("1.2 million", ["Revenue: 1.2 million\n"]).value == 1.0
    assert grounded("1200000", ["Revenue: 1.2 million\n"]).value == 1.0
    assert grounded("1.2", ["Revenue: 1.2 million\n"]).value == 0.0
