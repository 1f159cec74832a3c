from fractions import Fraction

import pytest

from nbreason.policy.voting import (
    answer_key,
    leader_probability,
    majority_vote,
    parse_number,
    should_stop,
    stop_check,
    weighted_vote,
)


@pytest.mark.parametrize("text", ["1000", "1,000", "1000.0", "$1000", "$1,000.00", "1000 dollars",
                                  "\\boxed{1000}", "x = 1000", "1000.",
                                  "FINAL ANSWER: 1000", "The answer is $1,000.", "Total eggs: 1000"])
def test_forms_of_one_thousand_share_a_key(text):
    assert answer_key(text) == "1000"


@pytest.mark.parametrize("text", ["3/4", "0.75", "\\frac{3}{4}", "\\dfrac{3}{4}", "\\boxed{\\frac{3}{4}}"])
def test_fractions_and_decimals_share_a_key(text):
    assert answer_key(text) == "0.75"


def test_a_percent_sign_is_dropped_as_a_unit():
    assert answer_key("75%") == answer_key("75\\%") == "75"


def test_a_repeating_decimal_printed_by_python_matches_its_fraction():
    assert answer_key("1/3") == answer_key(str(1 / 3))


def test_a_comma_is_only_a_thousands_separator():
    assert parse_number("1,5") is None
    assert parse_number("12,345,678") == Fraction(12345678)


def test_text_answers_fall_back_to_stripped_lowercase():
    assert answer_key("  \\left( 3, \\frac{\\pi}{2} \\right) ") == answer_key("(3,\\frac{\\pi}{2})")
    assert answer_key("Yes.") == "yes"
    assert answer_key("   ") is None and answer_key(None) is None


def test_two_numbers_are_not_one_answer():
    assert parse_number("between 3 and 5") is None
    assert parse_number("Ratio: 3 to 5") is None


def test_majority_counts_equivalent_forms_together():
    result = majority_vote(["1,000", "999", "1000.0", None, "$1000"])
    assert result.answer == "1,000" and result.key == "1000"
    assert result.votes == {"1000": 3.0, "999": 1.0}
    assert "3 of 4" in result.why


def test_majority_tie_goes_to_the_answer_seen_first():
    assert majority_vote(["7", "8", "8", "7"]).key == "7"


def test_weighted_vote_lets_checked_answers_outvote_a_larger_group():
    answers = ["5", "5", "6"]
    assert majority_vote(answers).key == "5"
    result = weighted_vote(answers, [0.2, 0.2, 0.9])
    assert result.key == "6" and "reward-weighted" in result.why


def test_no_answers_gives_no_winner():
    result = majority_vote([None, "", None])
    assert result.answer is None and "no attempt of 3" in result.why


def test_leader_probability_is_the_exact_beta_tail():
    assert leader_probability(3, 0) == 15 / 16  # 1 - 2**-4
    assert leader_probability(4, 0) == 31 / 32
    assert leader_probability(4, 3) == 163 / 256
    assert leader_probability(0, 0) == 0.5


def test_three_agreeing_votes_are_not_enough_at_95_percent_but_four_are():
    assert not should_stop(["a"] * 3, max_n=8)
    check = stop_check(["a"] * 4, max_n=8)
    assert check.stop and check.probability == 31 / 32 and "settled" in check.why


def test_a_lower_confidence_stops_sooner():
    assert should_stop(["a"] * 3, max_n=8, confidence=0.9)


def test_one_dissent_needs_six_agreeing_votes():
    votes = ["a", "b", "a", "a", "a", "a"]  # 5 vs 1: P = 120/128 < 0.95
    assert not should_stop(votes, max_n=16)
    assert should_stop(votes + ["a"], max_n=16)  # 6 vs 1: P = 247/256


def test_alternating_votes_never_stop_before_max_n():
    votes = ["a", "b"] * 8
    for n in range(1, 16):
        assert not should_stop(votes[:n], max_n=16), n
    assert should_stop(votes, max_n=16)


def test_failed_attempts_count_toward_max_n_but_not_as_votes():
    assert not should_stop([None, None, None, None], max_n=8)
    assert should_stop([None] * 8, max_n=8)
    assert not should_stop(["a", None, "a", None, "a"], max_n=8)


def test_a_lead_that_cannot_be_caught_stops_early():
    check = stop_check(["a", "a", "b", "a"], max_n=5)  # 3 vs 1 with one sample left
    assert check.stop and "cannot be caught" in check.why
    assert not should_stop(["a", "a", "b"], max_n=5)  # 2 vs 1 with two left: a tie is possible
