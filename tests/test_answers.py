"""Reading, normalising and comparing answers: nbreason/answers/."""

import sys
from fractions import Fraction as F

import pytest

from nbreason import answers
from nbreason.answers import sameness
from nbreason.answers import (Number, compare, is_value, key, number, numbers_in, parse_number, same, same_number,
                              tally, unwrap)


@pytest.mark.parametrize("text,unwrapped", [
    ("FINAL ANSWER: 42", "42"),
    ("The answer is 42.", "42"),
    ("**Final Answer:** 42", "42"),
    ("the final answer is $\\boxed{\\frac{1}{2}}$.", "\\frac{1}{2}"),
    ("so \\boxed{\\frac{3}{4}} it is", "\\frac{3}{4}"),  # braces balanced, not to the last brace
    ("\\boxed{3} or rather \\boxed{4}", "4"),  # the last box
    ("$x^2$", "x^2"),
    ("\\(\\pi\\)", "\\pi"),
    ("$1,200.", "$1,200"),  # one dollar sign is currency, not math
    ("`7`", "7"),
    ("...", "..."),
])
def test_unwrap_drops_what_surrounds_an_answer(text, unwrapped):
    assert unwrap(text) == unwrapped


@pytest.mark.parametrize("text,value", [
    ("42", 42), ("-7", -7), ("+3", 3), ("0018", 18), (".5", F(1, 2)), ("1e3", 1000),
    ("1,000", 1000), ("12,345,678", 12345678), ("1{,}000", 1000), ("1\\,000", 1000),
    ("$1,000.00", 1000), ("\\$18", 18), ("-$5", -5), ("$-5", -5), ("€20", 20), ("£3.50", F(7, 2)),
    ("75%", 75), ("75\\%", 75),
    ("18 dollars", 18), ("13 m wide", 13), ("5 km/h", 5), ("12 m^2", 12), ("30^\\circ", 30), ("30°", 30),
    ("5\\text{ cm}", 5), ("18 eggs per day", 18), ("5cm", 5),
    ("FINAL ANSWER: 12", 12), ("The answer is $1,000.", 1000), ("Total eggs: 18", 18), ("Profit ($): 70000", 70000),
    ("x = 5", 5), ("\\boxed{1000}", 1000),
    ("3/4", F(3, 4)), ("-3/4", F(-3, 4)), ("3 / 4", F(3, 4)), ("\\frac{3}{4}", F(3, 4)), ("\\dfrac{3}{4}", F(3, 4)),
    ("\\dfrac34", F(3, 4)), ("-\\frac{3}{4}", F(-3, 4)), ("\\frac{-3}{4}", F(-3, 4)),
    ("\\boxed{\\tfrac{1}{2}}", F(1, 2)),
    # a mixed number is a whole and a fraction, not their digits glued ("21/2")
    ("2\\frac{1}{2}", F(5, 2)), ("\\boxed{2\\dfrac{1}{2}}", F(5, 2)), ("-1\\frac{3}{4}", F(-7, 4)),
    ("2\\tfrac12", F(5, 2)), ("2 1/2", F(5, 2)), ("$2\\frac{1}{2}$", F(5, 2)), ("2 7/3", None),
    ("1.5 \\times 10^{3}", 1500), ("2.5*10**-1", F(1, 4)), ("−4", -4),
    # Not exactly one number:
    ("12 apples and 3 pears", None), ("between 3 and 5", None), ("Ratio: 3 to 5", None), ("1,5", None),
    ("1,0000", None), ("5x", None), ("3i", None), ("2pi", None), ("2 pi", None), ("sqrt(2)", None),
    ("\\frac{\\pi}{2}", None), ("forty", None), ("1/0", None), ("", None), (None, None), ("nan", None), ("inf", None),
])
def test_the_one_number_an_answer_states(text, value):
    assert parse_number(text) == value


@pytest.mark.parametrize("text,digits", [
    ("18", None), ("3/4", None), ("\\frac{1}{3}", None), ("1,000", None),  # exact
    ("18.0", 3), ("0.75", 2), ("0.0012300", 5), ("1e3", 1), ("1.50e-3", 3), ("0.0", 1), ("1.5/2", 2),
])
def test_a_number_knows_how_precisely_it_was_written(text, digits):
    assert number(text).digits == digits


@pytest.mark.parametrize("text,values", [
    ("eggs: 16, eaten: 3, sold: 9 at $2 each -> 18", [16, 3, 9, 2, 18]),
    ("total = 1,234.5", [F(2469, 2)]),
    ("[1, 2, 3]", [1, 2, 3]),
    ("x-5 = -2", [5, -2]),  # a minus after a name is subtraction
    ("(2)-3", [2, 3]),
    ("ratio 3/4 of 1e-3", [F(3, 4), F(1, 1000)]),
    ("x2 y_3 abc123", []),  # digits inside names are not numbers
    ("It is 5.", [5]),
    ("75% done", [75]),
    ("", []),
])
def test_numbers_are_found_in_free_text(text, values):
    assert [n.value for n in numbers_in(text)] == values


def test_free_text_numbers_keep_precision_and_percent():
    assert numbers_in("7.50 and 18 and 40%") == [Number(F(15, 2), 3), Number(F(18)), Number(F(40), None, True)]


@pytest.mark.parametrize("text", [None, "", "   ", "None", "none", "nan", "NaN", "-nan", "inf", "-inf", "+inf",
                                  "<NA>", "NaT", "null", "zoo", "\\boxed{nan}", "FINAL ANSWER: None", "$inf$",
                                  "<object object at 0x7fe0c9eee380>", "<function f at 0x7f00aa>",
                                  "<__main__.Row object at 0x7f00aa>",
                                  # dressed as values: f"{x:.1%}", f"${x}", f"{x} days" of a nan
                                  "nan%", "$nan", "nan days", "[nan]", "(nan)", "nan, nan", "None, None", "inf km",
                                  "array([nan])", "NaN kg"])
def test_non_answers_are_not_values(text):
    assert not is_value(text)
    assert key(text) is None
    assert not same(text, text)


@pytest.mark.parametrize("text", ["0", "no", "infinity", "\\infty", "oo", "-1", "Nancy", "information",
                                  "<b> at 0x10", "at 0x7f", "None of the above", "nan 5", "Infinity km",
                                  "null hypothesis", "None needed", "Nan Goldin", "Zoo Atlanta"])
def test_answers_that_resemble_non_answers_are_values(text):
    assert is_value(text) and key(text) is not None


@pytest.mark.parametrize("key_,texts", [
    ("1000", ["1000", "1,000", "1000.0", "$1000", "$1,000.00", "1000 dollars", "\\boxed{1000}", "x = 1000",
              "1000.", "FINAL ANSWER: 1000", "The answer is $1,000.", "Total eggs: 1000", "1{,}000", "1e3"]),
    ("0.75", ["3/4", "0.75", "\\frac{3}{4}", "\\dfrac{3}{4}", "\\boxed{\\frac{3}{4}}", "0.750"]),
    ("75", ["75%", "75\\%", "75"]),
    ("0.333333", ["1/3", str(1 / 3), "0.333333", "\\frac{1}{3}"]),
    ("18", ["18", str(0.1 * 180), "17.999999999999996"]),
    ("sqrt(3)/2", ["sqrt(3)/2", "\\frac{\\sqrt{3}}{2}", "\\dfrac{\\sqrt3}{2}", "$\\frac{\\sqrt{3}}{2}$"]),
    ("(3,pi/2)", ["(3, pi/2)", "\\left( 3, \\frac{\\pi}{2} \\right)", "(3,\\frac{\\pi}{2})", "(3, \\pi/2)"]),
    ("3sqrt(2)", ["3\\sqrt{2}", "3\\sqrt2", "3*sqrt(2)", "3 \\sqrt{2}"]),
    ("x**2+1", ["x**2 + 1", "x^2+1", "x^{2} + 1", "y = x^2 + 1"]),
    ("{1,2}", ["\\{1, 2\\}", "{2, 1}", "\\left\\{ 2, 1 \\right\\}"]),  # sets in order
    ("(1,2)", ["(1, 2)", "(1.0, 2)", "\\left(1, \\frac{4}{2}\\right)"]),  # tuples keep theirs
    ("(0.5,1]", ["(0.5, 1]", "\\left(\\frac{1}{2}, 1\\right]"]),
    ("c", ["C", "(C)", "\\text{(C)}", "\\boxed{C}", "\\textbf{C}"]),
    ("yes", ["Yes", "yes.", "  YES  "]),
    ("oo", ["\\infty", "oo", "∞"]),
    ("pi/2", ["\\frac{\\pi}{2}", "pi/2", "π/2"]),
])
def test_forms_of_one_answer_share_a_key(key_, texts):
    assert {text: key(text) for text in texts} == {text: key_ for text in texts}


@pytest.mark.parametrize("a,b", [
    ("1000", "1000.4"), ("18", "18.4"), ("0.3", "0.31"), ("1/3", "0.33"), ("75%", "0.75"),
    ("(1, 2)", "(2, 1)"), ("{1, 2}", "(1, 2)"), ("x**2+1", "1+x**2"), ("2x", "2"), ("-5", "5"), ("1234567", "1234568"),
])
def test_different_or_differently_spelled_answers_have_different_keys(a, b):
    assert key(a) != key(b)


# (a, b, same, same when strict). The rule: integers exactly; otherwise rounded to the significant
# digits of the less precisely written number, between 4 and 6 (strict: 6).
TOLERANCE = [
    ("18", "18", True, True),
    ("18", "18.0", True, True),
    ("18", "17.999999999999996", True, True),  # float noise
    ("0.3", str(0.1 + 0.2), True, True),
    ("1/3", "0.333333", True, True),
    ("1/3", str(1 / 3), True, True),
    ("1/3", "0.3333", True, False),  # 4 digits written: one answer in a vote, not a correct grade
    ("1/3", "0.33", False, False),  # fewer than 4 digits: too coarse to count
    ("0.3", "0.31", False, False),
    ("0.5", "0.50004", True, False),
    ("18", "18.4", False, False),
    ("18", "18.0001", False, False),  # 6 digits written, and they differ
    ("100", "100.00001", True, True),  # beyond 6 digits
    ("1000", "1000.4", False, False),
    ("1234567", "1234568", False, False),  # integers are exact, however long
    ("1234567.6", "1234568", True, True),  # 6 significant digits, however large
    ("12.35", "12.345", True, False),  # half rounds up
    ("12.34", "12.345", False, False),
    ("0", "0.0", True, True),
    ("0", "1e-12", False, False),
    ("-0.75", "-3/4", True, True),
    ("-0.75", "0.75", False, False),
    ("75%", "75", True, True),  # a percent sign as a unit
    ("75%", "0.75", True, True),  # or as a fraction
    ("75%", "0.7", False, False),
    ("1e3", "1000", True, True),
    ("2.5e-7", "0.00000025", True, True),
    ("2.5e-7", "2.6e-7", False, False),
    # whole numbers written out in full are exact, float or not: a dropped row changes a sum's last digits
    ("15234567.0", "15234564.0", False, False),
    ("15234567.0", "15234567", True, True),
    ("1.5e7", "15234567", False, False),  # a rounded float still rounds
    # a scale word is part of the number
    ("1.2 million", "1200000", True, True),
    ("1.2 million", "1.2", False, False),
    ("2.5 billion dollars", "2500000000", True, True),
]


@pytest.mark.parametrize("a,b,agree,agree_strict", TOLERANCE)
def test_the_tolerance_rule(a, b, agree, agree_strict):
    assert same(a, b) == same(b, a) == agree
    assert same(a, b, strict=True) == same(b, a, strict=True) == agree_strict
    assert same_number(number(a), number(b)) == agree


@pytest.mark.parametrize("a,b", [pair for group in [
    ["1000", "1,000", "1000.0", "$1000", "1e3"],
    ["3/4", "0.75", "\\frac{3}{4}"],
    ["sqrt(3)/2", "\\frac{\\sqrt{3}}{2}"],
    ["1/3", str(1 / 3), "0.333333"],
] for pair in zip(group, group[1:])])
def test_answers_with_one_key_are_the_same_even_when_strict(a, b):
    assert key(a) == key(b) and same(a, b, strict=True)


# MATH-style references against what programs print and what models write.
@pytest.mark.parametrize("answer,gold,agree", [
    ("x**2 + 1", "1 + x^2", True),
    ("sqrt(2)/2", "\\frac{1}{\\sqrt{2}}", True),
    ("2*sqrt(5)", "\\sqrt{20}", True),
    ("0.8660254037844386", "\\frac{\\sqrt{3}}{2}", True),
    ("pi/4", "\\frac{\\pi}{4}", True),
    ("0.7853981633974483", "\\frac{\\pi}{4}", True),
    ("(3, pi/2)", "\\left( 3, \\frac{\\pi}{2} \\right)", True),
    ("[-2, 3)", "[-2,3)", True),
    ("\\frac{5}{2}", "2.5", True),
    ("x = 3", "3", True),
    ("1 + x^2", "x^2 + 2", False),
    ("sqrt(2)/2", "\\frac{\\sqrt{3}}{2}", False),
    ("(3, pi)", "\\left( 3, \\frac{\\pi}{2} \\right)", False),
    ("0.7", "\\frac{\\pi}{4}", False),
    ("After 3 weeks she has 42 left", "42", False),  # a sentence is not a value; the grader reads it itself
])
def test_math_style_answers_are_compared_symbolically(answer, gold, agree):
    assert same(answer, gold, strict=True) == agree


def test_compare_says_what_decided():
    assert compare("1,000", "1000").how == "number"
    assert compare("(3, pi/2)", "(3,\\frac{\\pi}{2})").how == "same key"
    assert compare("x**2 + 1", "1 + x^2").how == "math-verify"
    assert compare("5", "6").how == "different" and not compare("5", "6")
    assert compare(None, "6").how == "no answer"


def test_a_missing_math_verify_raises_instead_of_comparing_as_different(monkeypatch):
    monkeypatch.setitem(sys.modules, "math_verify", None)
    sameness._math_verify.cache_clear()
    try:
        assert same("1,000", "1000")  # numbers and keys need no math-verify
        with pytest.raises(ImportError):
            same("x**2 + 1", "1 + x^2")
    finally:
        sameness._math_verify.cache_clear()


def test_a_tally_counts_by_key_in_order_of_first_appearance():
    counted = tally(["8", "7", "$7.00", None, "nan", "eight", "7.0"])
    assert [(c.key, c.answer, c.votes, c.weight) for c in counted.candidates] == [
        ("8", "8", 1, 1.0), ("7", "7", 3, 3.0), ("eight", "eight", 1, 1.0)]
    assert counted.cast == 7 and counted.answered == 5
    assert counted.leader.key == "7" and counted.runner_up.key == "8"
    assert counted.votes("7") == counted.votes("\\boxed{7}") == 3
    assert counted.votes("9") == counted.votes(None) == counted.votes("nan") == 0


@pytest.mark.parametrize("answers_,weights,leader,runner_up", [
    (["7", "8", "8", "7"], None, "7", "8"),  # a tie goes to the answer seen first
    (["5", "5", "6"], None, "5", "6"),
    (["5", "5", "6"], [0.2, 0.2, 0.9], "6", "5"),  # weight first
    (["5", "6"], [0.0, 0.0], "5", "6"),  # then votes, then first appearance
    (["5", "6", "6"], [0.5, 0.25, 0.25], "6", "5"),  # equal weight: more votes
    (["5"], None, "5", None),
    ([None, "", "inf"], None, None, None),
])
def test_the_leader_has_the_most_weight_then_votes_then_came_first(answers_, weights, leader, runner_up):
    counted = tally(answers_, weights)
    assert (counted.leader.key if counted.leader else None) == leader
    assert (counted.runner_up.key if counted.runner_up else None) == runner_up


def test_a_tally_needs_one_weight_per_answer():
    with pytest.raises(ValueError, match="one weight per answer"):
        tally(["1", "2"], [1.0])


@pytest.mark.parametrize("printed,plain", [("np.float64(3.25)", "3.25"), ("np.int64(9)", "9"),
                                           ("np.str_('Trebi')", "Trebi"), ("numpy.bool_(True)", "True")])
def test_a_numpy_scalar_printed_as_its_repr_is_its_value(printed, plain):
    assert answers.unwrap(printed) == plain
    assert answers.same(printed, plain)
    assert not answers.is_value("np.float64(nan)")


@pytest.mark.parametrize("printed,plain", [("(np.str_('Trebi'), np.int64(3))", "('Trebi', 3)"),
                                           ("[np.float64(1.5), np.float64(2.0)]", "[1.5, 2.0]"),
                                           ("np.str_('a (b)')", "a (b)")])
def test_numpy_scalars_inside_a_printed_tuple_or_list_are_their_values(printed, plain):
    assert answers.unwrap(printed) == plain
    assert answers.same(printed, plain)


@pytest.mark.parametrize("printed,plain", [
    ("Month with the highest mean temperature: 8", "8"),
    ("The variety with the highest total yield is: Trebi", "Trebi"),
    ("Total cost (dollars): 30", "30"),
    ("Largest fall of 'nonfarm' from its highest value to a later month: 234", "234"),
    ("Mean temp: note: 5", "note: 5"),  # taken off once
    # a capitalised word, a numeral or a number after the first is likely part of the answer
    ("Trebi: 1234", "Trebi: 1234"),
    ("Time: 12:30", "Time: 12:30"),
    ("New York: 52", "New York: 52"),
    ("Series IV: 12.5", "Series IV: 12.5"),
    ("Year 2008: 3.3", "Year 2008: 3.3"),
    ("Trebi (Wisconsin): 1234", "Trebi (Wisconsin): 1234"),
    ("Star Wars: Episode IV: A New Hope", "Star Wars: Episode IV: A New Hope"),
])
def test_a_sentence_like_label_before_the_value_is_taken_off(printed, plain):
    assert answers.unwrap(printed) == plain


@pytest.mark.parametrize("footer", ["Name: target, Length: 442, dtype: float64", "dtype: int64",
                                    "Length: 3, dtype: object", "[442 rows x 3 columns]",
                                    "Freq: D, Name: price, dtype: float64", "Name: date, dtype: datetime64[ns]",
                                    "Categories (3, object): ['a', 'b', 'c']",
                                    "a    5\nb   10\nName: price, dtype: int64"])
def test_the_footer_pandas_prints_under_a_series_is_no_value(footer):
    assert not answers.is_value(footer)
    assert answers.unwrap(footer) == footer  # shown as printed, not cut at its colons


@pytest.mark.parametrize("a,b,alike", [
    ("0.58", "0.5803", True), ("38.8", "38.81", True), ("5", "5.004", True), ("17.33", "17.3333", True),
    ("2008", "2012", False), ("10234", "10250", False), ("100", "149.2", False), ("37.3", "37.3%", False),
])
def test_two_printings_of_one_value_at_other_precision_are_rounded_alike(a, b, alike):
    assert answers.rounded_alike(answers.number(a), answers.number(b)) is alike
    assert answers.rounded_alike(answers.number(b), answers.number(a)) is alike


def test_an_answer_too_long_to_be_one_value_is_kept_as_it_is():
    text = "ab cd: " * 3000 + "5"
    assert answers.unwrap(text) == text.strip()
