"""The voting rules: majority, reward-weighted, and when adaptive sampling stops.

How answers are read and which count as one vote is tests/test_answers.py.
"""

from nbreason.policy.voting import leader_probability, majority_vote, should_stop, stop_check, weighted_vote


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


def test_printed_non_values_do_not_vote():
    result = majority_vote(["nan", "5", "inf", "None", "-inf"])
    assert result.key == "5" and result.votes == {"5": 1.0} and "1 of 1 answers" in result.why


def test_equivalent_forms_are_one_vote_for_the_stopping_rule_too():
    check = stop_check(["3/4", "0.75", "\\frac{3}{4}", "$0.75"], max_n=8)
    assert check.stop and check.probability == 31 / 32
