"""Stall detection, verification by independent solutions, and the self-check choices."""

import pytest

from nbreason.models.base import EMBEDDED, ModelProfile
from nbreason.policy import Settings, accepts
from nbreason.policy.stopping import StallDetector, self_check_mode
from nbreason.policy import confidence
from nbreason.policy.methods import CHECKED, PROSE, QUANTITIES, ROWS, SIMULATION
from nbreason.policy.plausibility import plausibility, vetoed
from nbreason.policy.verification import Verification


def test_stop_rule_is_a_threshold_on_the_combined_reward():
    settings = Settings(threshold=0.7)
    assert accepts(0.7, settings) and accepts(1.0, settings) and not accepts(0.69, settings)


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


def test_recompute_keeps_the_first_answer_once_one_solution_agrees():
    check = Verification("$1,000", extra=3)
    check.add("1000")
    assert check.settled() == "$1,000" and check.votes("1000.0") == 2


def test_recompute_replaces_the_first_answer_when_two_solutions_agree_on_another():
    check = Verification("18", extra=3)
    check.add("20")
    assert check.settled() is None and not check.exhausted()
    check.add(None)  # a failed solution: no vote
    check.add("20.0")
    assert check.settled() == "20" and check.exhausted()


def test_recompute_without_agreement_keeps_the_first_answer():
    check = Verification("5", extra=2)
    check.add("6")
    check.add("7")
    assert check.settled() is None and check.exhausted() and check.plurality() == "5"


YEAR = "In which year was the gas price highest? Answer with the year."


def year_veto(value: str) -> str | None:
    return vetoed(plausibility(value, YEAR))


def test_methods_a_solution_that_cannot_be_right_supports_nothing_and_is_marked():
    check = Verification("2008", extra=3, mode="methods", plan=(CHECKED, ROWS))
    check.add("52", CHECKED, sampled=False, veto=year_veto)
    check.add("52", ROWS, sampled=False, veto=year_veto)
    assert [s.answer for s in check.standings()] == ["2008"]  # two routes gave 52, and it counts for nothing
    assert check.settled() is None and check.plurality() == "2008"
    assert check.summary() == ("program: 2008 · checked program: 52 (cannot be right) · "
                               "row by row: 52 (cannot be right)")


def test_methods_an_estimate_is_judged_by_the_answer_it_supports():
    question = "Two dice are rolled 504 times. How many times do we expect a sum of 7?"
    veto = lambda value: vetoed(plausibility(value, question))  # noqa: E731
    assert veto("83.9") and veto("9.5")  # alone, neither is a whole count
    check = Verification("84", extra=3, mode="methods", plan=(SIMULATION,))
    check.add("83.9", SIMULATION, sampled=False, veto=veto)  # within 2 % of 84: it supports 84
    check.add("9.5", SIMULATION, sampled=True, veto=veto)  # supports nothing it is close to: judged alone
    assert [s.ruled_out is None for s in check.solutions] == [True, True, False]
    assert [(s.answer, s.support, s.families) for s in check.standings()] == [("84", 2.0, ("program", "simulation"))]
    assert [bool(s.told) for s in check.solutions] == [False, False, True]  # only the lone 9.5 is sent back


def test_a_route_is_told_why_its_own_value_cannot_be_right_never_the_answer_it_supports():
    veto = lambda value: f"a count is whole, not {value}" if "." in value else None  # noqa: E731
    check = Verification("14.67", mode="methods", plan=(CHECKED,), first_ruled_out="a count is whole, not 14.67")
    check.add("14.7", CHECKED, sampled=False, veto=veto)  # printed to fewer decimals: it supports 14.67
    [_, route] = check.solutions
    assert route.supports == "14.67" and route.ruled_out == "a count is whole, not 14.67"
    assert route.told == "a count is whole, not 14.7" and check.repairable() is route
    check = Verification("14", mode="methods", plan=(CHECKED,))
    check.add("nan", CHECKED, sampled=False, veto=lambda value: f"{value!r} is not a value")
    assert check.solutions[-1].answer is None and check.repairable() is check.solutions[-1]
    assert check.solutions[-1].told == "'nan' is not a value"


def test_a_stricter_rule_settles_later_and_falls_back_to_the_plurality():
    check = Verification("5", extra=3, confirm=3, replace=3)
    for answer in ("5", "6", "6"):
        check.add(answer)
        assert check.settled() is None
    tie = check.plurality()
    assert tie == "5"  # 2 votes each: a tie keeps the first answer
    check = Verification("5", extra=3, confirm=3, replace=3)
    for answer in ("6", None, "6"):
        check.add(answer)
    assert check.settled() is None and check.plurality() == "6"


def test_auto_self_check_is_other_methods_only_for_embedded_models_in_one_attempt_runs():
    api = ModelProfile()
    assert self_check_mode("auto", EMBEDDED) == "methods"
    assert self_check_mode("auto", EMBEDDED, voted=True) == "off"  # the vote checks attempts
    assert self_check_mode("auto", api) == "off"
    assert self_check_mode("verify", api) == "verify"
    assert self_check_mode("off", EMBEDDED) == "off"


@pytest.mark.parametrize("code,failed,within_budget,redrawn", [
    ("print(x)", ["print(x)"], True, True),          # the same failing program: drawn again
    ("  print(x)\n\n", ["print(x)"], True, True),    # surrounding whitespace aside
    ("print(y)", ["print(x)"], True, False),         # a new program runs
    ("print(x)", ["print(x)"], False, False),        # no budget left for another call
    (None, ["print(x)"], True, False),               # no code: nothing to redraw
])
def test_a_reply_repeating_a_failed_program_is_redrawn_sampled_while_the_budget_allows(code, failed,
                                                                                     within_budget, redrawn):
    from nbreason.policy import redraw

    stall = StallDetector()
    for program in failed:
        stall.record(program, "NameError")
    sample = redraw(code, stall, within_budget=within_budget, temperature=0.0, seed=3, step=2)
    assert (sample is not None) is redrawn
    if redrawn:
        assert sample.temperature >= 0.7 and sample.seed == 3 + 2000 + 2


def test_the_stall_detector_remembers_each_programs_own_error():
    stall = StallDetector()
    stall.record("print(x)", "NameError: x")
    stall.record("df['y']", "KeyError: 'y'")
    assert stall.error_of("print(x)\n") == "NameError: x" and stall.error_of("df['y']") == "KeyError: 'y'"
    assert stall.error_of("print(z)") is None and stall.error_of(None) is None


def test_a_second_redraw_is_warmer_with_a_seed_of_its_own_and_there_is_no_third():
    from nbreason.policy import REDRAWS, redraw

    stall = StallDetector()
    stall.record("print(x)", "NameError")
    draws = [redraw("print(x)", stall, within_budget=True, temperature=0.0, seed=3, step=2, draw=d)
             for d in range(REDRAWS + 1)]
    first, second, third = draws
    assert second.temperature > first.temperature >= 0.7 and second.seed not in (first.seed, None)
    assert third is None and REDRAWS == 2


SHARES = [
    # (why, solutions after the first answer 30, the first answer's share)
    ("a second route agrees", [("30", PROSE)], 1.0),
    ("a check that failed counts against", [(None, PROSE)], 0.5),
    ("two failed checks leave a lone answer at a third", [(None, PROSE), (None, QUANTITIES)], 1 / 3),
    ("a check that cannot be right counts against too", [("-30", PROSE)], 0.5),
    ("an agreeing and a failed check", [("30", PROSE), (None, QUANTITIES)], 2.2 / 3.2),
]


@pytest.mark.parametrize("why,solutions,share", SHARES, ids=[r[0] for r in SHARES])
def test_the_share_of_support_counts_checks_that_could_not_answer(why, solutions, share):
    question = "Tom buys 3 pens at $2 each. How much does he pay?"
    check = Verification("30", extra=3, mode="methods", plan=(PROSE, QUANTITIES))
    for answer, method in solutions:
        check.add(answer, method, sampled=False, veto=lambda v: vetoed(plausibility(v, question)))
    assert confidence.features("30", 1.0, 1.0, check).share == pytest.approx(share)


def test_a_run_answer_that_was_ruled_out_counts_against_what_replaced_it():
    check = Verification("52", extra=3, mode="methods", plan=(CHECKED, ROWS), first_ruled_out="a year is asked")
    check.add("2008", CHECKED, sampled=False)
    check.add("2008", CHECKED, sampled=True)
    found = confidence.features("2008", 1.0, 1.0, check)
    assert (found.families, found.share) == (1, pytest.approx(1.5 / 2.5))  # not 1: the 52 counts against


@pytest.mark.parametrize("first,check,supports", [("0.58", "0.5803", "0.58"), ("2008", "2012", None),
                                                  ("10234", "10250", None), ("38.8", "38.81", "38.8")])
def test_a_data_check_supports_an_answer_only_when_it_is_that_value_printed_to_other_precision(first, check,
                                                                                               supports):
    verification = Verification(first, extra=3, mode="methods", plan=(CHECKED, ROWS))
    verification.add(check, CHECKED, sampled=False)
    assert verification.solutions[-1].supports == supports
    assert (verification.settled() == first) is (supports is not None)
