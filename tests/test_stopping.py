"""The stop rule, stall detection, and the self-check choices: policy/stopping.py."""

from nbreason.policy.stopping import Recompute, StallDetector, StopRule, self_check_mode


def test_stop_rule_is_a_threshold_on_the_combined_reward():
    rule = StopRule(0.7)
    assert rule.accept(0.7) and rule.accept(1.0) and not rule.accept(0.69)


def test_the_same_error_three_times_in_a_row_is_a_stall():
    stall = StallDetector()
    assert stall.record("a = 1/0", "ZeroDivisionError") is None
    assert stall.record("b = 1/0", "ZeroDivisionError") is None
    assert "3 times" in stall.record("c = 1/0", "ZeroDivisionError")


def test_a_success_between_errors_resets_the_streak():
    stall = StallDetector()
    stall.record("a = 1/0", "ZeroDivisionError")
    stall.record("b = 1/0", "ZeroDivisionError")
    assert stall.record("print(1)", None) is None
    assert stall.record("c = 1/0", "ZeroDivisionError") is None


def test_failing_code_written_again_is_a_stall_even_with_other_whitespace():
    stall = StallDetector()
    stall.record("x = [1,\n 2][5]", "IndexError")
    assert "same failing code" in stall.record("x = [1, 2][5]", "IndexError")


def test_recompute_settles_on_the_first_answer_two_solutions_share():
    check = Recompute("18", extra=3)
    check.add("20")
    assert check.agreed() is None and not check.exhausted()
    check.add("20.0")
    assert check.agreed() == "20" and check.solutions == 2
    confirmed = Recompute("$1,000")
    confirmed.add("1000")
    assert confirmed.agreed() == "$1,000"


def test_recompute_ends_after_its_extra_solutions_and_ignores_missing_answers():
    check = Recompute("5", extra=2)
    check.add(None)
    check.add(None)
    assert check.agreed() is None and check.exhausted()


class Embedded:
    answer_from_output = True


def test_auto_self_check_is_recompute_only_for_embedded_models_in_one_attempt_runs():
    assert self_check_mode("auto", Embedded()) == "recompute"
    assert self_check_mode("auto", Embedded(), attempts=4) == "off"  # the vote checks attempts
    assert self_check_mode("auto", object()) == "off"
    assert self_check_mode("verify", object()) == "verify"
    assert self_check_mode("off", Embedded()) == "off"
