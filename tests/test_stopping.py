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


def test_recompute_keeps_the_first_answer_once_two_solutions_agree_with_it():
    check = Recompute("$1,000", extra=5)
    check.add("1000")
    assert check.settled() is None  # one agreeing sample is not enough
    check.add("1000.0")
    assert check.settled() == "$1,000" and check.votes("1000") == 3


def test_recompute_replaces_the_first_answer_with_three_votes():
    check = Recompute("18", extra=5)
    check.add("20")
    check.add("20.0")
    assert check.settled() is None
    check.add("18")
    check.add("18")
    assert check.settled() == "18"  # the first answer reached 3 votes first
    other = Recompute("18", extra=5)
    for answer in ("20", None, "20", "20"):
        other.add(answer)
    assert other.settled() == "20" and other.solutions == 4


def test_recompute_ends_after_its_extra_solutions_with_the_plurality():
    check = Recompute("5", extra=3)
    for answer in ("6", None, "6"):
        check.add(answer)
    assert check.settled() is None and check.exhausted() and check.plurality() == "6"
    tie = Recompute("5", extra=2)
    tie.add("6")
    tie.add("7")
    assert tie.plurality() == "5"  # a tie keeps the first answer
    empty = Recompute("5", extra=2)
    empty.add(None)
    assert empty.plurality() == "5"


def test_a_stricter_rule_can_be_set():
    check = Recompute("5", confirm=2, replace=4)
    check.add("5")
    assert check.settled() == "5"


class Embedded:
    answer_from_output = True


def test_auto_self_check_is_recompute_only_for_embedded_models_in_one_attempt_runs():
    assert self_check_mode("auto", Embedded()) == "recompute"
    assert self_check_mode("auto", Embedded(), attempts=4) == "off"  # the vote checks attempts
    assert self_check_mode("auto", object()) == "off"
    assert self_check_mode("verify", object()) == "verify"
    assert self_check_mode("off", Embedded()) == "off"
