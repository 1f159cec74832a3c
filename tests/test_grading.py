import importlib
import sys
import threading

import pytest

from nbreason.answers import same
from nbreason.bench.grading import grade, gsm8k_gold


def test_gsm8k_gold_is_the_number_after_the_hashes():
    assert gsm8k_gold("She makes 9 * 2 = $<<9*2=18>>18.\n#### 18") == "18"
    assert gsm8k_gold("...\n#### 1,250") == "1250"


@pytest.mark.parametrize("answer", ["18", "18.0", "$18", "18 dollars", "$18.00", "\\boxed{18}",
                                    "The answer is 18.", "0018"])
def test_gsm8k_forms_of_the_right_number_are_correct(answer):
    assert grade(answer, "18").correct


@pytest.mark.parametrize("answer", ["17", "180", "1.8", "", None, "eighteen"])
def test_wrong_or_missing_numbers_are_wrong(answer):
    assert not grade(answer, "18").correct


def test_thousands_separators_and_float_noise_are_tolerated():
    assert grade("1,250", "1250").correct
    assert grade(str(0.1 + 0.2), "0.3").correct
    assert not grade("0.31", "0.3").correct


def test_the_last_number_of_a_sentence_counts():
    grade_ = grade("After 3 weeks she has 42 left", "42")
    assert grade_.correct and grade_.how == "last number in text"
    assert not grade("42 after 3 weeks", "42").correct


@pytest.mark.parametrize("answer", ["3/4", "0.75", "\\frac{3}{4}", "\\boxed{\\dfrac34}"])
def test_fractions_match_a_latex_fraction(answer):
    assert grade(answer, "\\frac{3}{4}").correct


@pytest.mark.parametrize("answer,gold,how", [
    # Spellings of one expression share a key: no symbolic work needed.
    ("sqrt(3)/2", "\\frac{\\sqrt{3}}{2}", "same key"),
    ("(3, pi/2)", "\\left( 3, \\frac{\\pi}{2} \\right)", "same key"),
    ("\\boxed{C}", "\\text{(C)}", "same key"),
    ("3\\sqrt{2}", "3\\sqrt2", "same key"),
    # Different spellings of equal expressions: math-verify.
    ("x**2 + 1", "1 + x^2", "math-verify"),
    ("\\frac{1}{\\sqrt{2}}", "\\frac{\\sqrt{2}}{2}", "math-verify"),
    # A decimal against a closed form: the closed form's value, under the one tolerance rule.
    ("0.8660254037844386", "\\frac{\\sqrt{3}}{2}", "number"),
    ("0.75", "75\\%", "number"),
])
def test_python_and_latex_expressions_are_compared(answer, gold, how):
    result = grade(answer, gold)
    assert result.correct and result.how == how


def test_a_different_expression_is_wrong():
    assert not grade("sqrt(2)/2", "\\frac{\\sqrt{3}}{2}").correct
    assert not grade("(3, pi)", "\\left( 3, \\frac{\\pi}{2} \\right)").correct


@pytest.mark.parametrize("answer,gold", [("0.3333", "\\frac{1}{3}"), ("0.866", "\\frac{\\sqrt{3}}{2}")])
def test_the_grader_wants_six_significant_digits(answer, gold):
    # Votes count these as one answer (4 digits written); a grade needs 6.
    assert same(answer, gold) and not grade(answer, gold).correct


def test_grading_works_off_the_main_thread():
    results = []
    worker = threading.Thread(target=lambda: results.append(grade("x**2 + 1", "1 + x^2")))
    worker.start()
    worker.join()
    assert results[0].correct and results[0].how == "math-verify"


def test_a_missing_math_verify_fails_the_grader_loudly(monkeypatch):
    # It used to be imported lazily and its ImportError graded every symbolic answer wrong.
    monkeypatch.setitem(sys.modules, "math_verify", None)
    monkeypatch.delitem(sys.modules, "nbreason.bench.grading")
    with pytest.raises(ImportError):
        importlib.import_module("nbreason.bench.grading")
