"""What the question says a right answer must look like, as a table: policy/plausibility.py."""

import pytest

from nbreason.policy.methods import PROSE, question_kind
from nbreason.policy.plausibility import plausibility, suspicion, vetoed

PROBABILITY = "A fair coin is tossed 3 times. What is the probability of exactly two heads?"
COUNT = "How many positive integers below 100 are divisible by 7?"
MONEY = "Tom buys 3 pens at $2 each. How much does he pay?"
DECIMALS = "What is the square root of 2, rounded to 3 decimal places?"

YEAR = "`df` holds the gas price per year. In which year was the gas price highest? Answer with the year."
MONTH = "In which month were deaths highest? Answer with the month as YYYY-MM."
SERIES = "Which series contains the largest Y value? Answer with the series name (I, II, III or IV)."
MONTH_NUMBER = "Which calendar month is warmest? Answer with the month number (1–12)."
STATE = "Which state has the most airports? Answer with its two-letter code."
NAME = "Which gram-negative bacterium has the lowest MIC? Answer with the bacterium's name as written in the table."

ROWS = [
    # (why, answer, question, outputs, rule, value; None: the rule stays quiet)
    ("nan is no value", "nan", MONEY, [], "value", 0.0),
    ("None is no value", "None", MONEY, [], "value", 0.0),
    ("inf is no value", "inf", COUNT, [], "value", 0.0),
    ("an empty answer is no value", " ", MONEY, [], "value", 0.0),
    ("a probability above 1", "1.25", PROBABILITY, [], "probability", 0.0),
    ("a probability as a percentage", "37.5%", PROBABILITY, [], "probability", 1.0),
    ("a probability of exactly 0 is suspicious", "0.0", PROBABILITY, [], "probability", 0.5),
    ("a fraction is a probability", "3/8", PROBABILITY, [], "probability", 1.0),
    ("a count is whole", "14", COUNT, [], "count", 1.0),
    ("a count is not a fraction", "14.5", COUNT, [], "count", 0.0),
    ("a count is not negative", "-3", COUNT, [], "count", 0.0),
    ("money is not negative", "-6", MONEY, [], "money", 0.0),
    ("a distance is not negative", "-200", "The dragon's flames reach 1000 feet and Polly throws 1200 feet. How far "
     "outside the flames' reach could she stand?", [], "magnitude", 0.0),
    ("a duration is not negative", "-0.2", "He drives out at 60 mph for 2 hours. How long does it take him to get "
     "back at 50 mph?", [], "magnitude", 0.0),
    ("by how much longer is not negative", "-3", "A rope is 10 m long and another is 7 m. How much longer is "
     "the first?", [], "magnitude", 0.0),
    ("the largest fall is a size", "-2501", "What was the largest fall of `nonfarm` from its highest value so far "
     "to a later month, in thousands of jobs?", [], "magnitude", 0.0),
    ("what the question says is positive", "-29.35", "What is the maximum drawdown of the close price? Answer "
     "with a positive percentage rounded to 2 decimals.", [], "magnitude", 0.0),
    ("a change with falls negative is no size", "-16.5", "By what percentage did employment change? Answer with "
     "the percentage (negative for a fall).", [], "magnitude", None),
    ("a positive distance", "200", "How far outside the flames' reach could she stand?", [], "magnitude", None),
    ("a change may be negative", "-3.5", "By how much did the mean temperature change from 2000 to 2010?", [],
     "magnitude", None),
    ("how much, not how much more, may be negative", "-12", "What is the slope of the fit: how much is it per year?",
     [], "magnitude", None),
    # on the data report half a percentage change came back False: the program printed a comparison
    ("a comparison's result where a percentage is asked", "False", "By what percentage did employment change "
     "from January 2008 to January 2010? Answer with the percentage rounded to 2 decimals.", [], "truth", 0.0),
    ("numpy's True where a count is asked", "np.True_", COUNT, [], "truth", 0.0),
    ("True where a name is asked", "**True**", NAME, [], "truth", 0.0),
    ("True to a yes-or-no question", "True", "`df` holds prices. Did the price rise in 2009?", [], "truth", None),
    ("False where the question names the answers", "False", "Answer True or False: the mean exceeds 3.", [],
     "truth", None),
    ("whether asks yes or no", "False", "Find out whether any row has a negative price.", [], "truth", None),
    ("a number is no comparison", "1", COUNT, [], "truth", None),
    ("the decimals asked for", "1.414", DECIMALS, [], "decimals", 1.0),
    ("too many decimals", "1.41421356", DECIMALS, [], "decimals", 0.3),
    ("a number the question states", "3", MONEY, [], "copied", 0.5),
    ("an exact count printed as a float", "1.2676506002282294e+30", "How many ways are there to choose "
     "50 of 100 items, exactly?", [], "overflow", 0.3),
    ("zero rows selected", "0", "How many penguins weigh over 9 kg?", ["Empty DataFrame\nColumns: [mass]"],
     "rows", 0.3),
    ("a year where a year is asked", "2008", YEAR, [], "form", 1.0),
    ("the measured value where a year is asked", "52", YEAR, [], "form", 0.0),
    ("a timestamp where a year is asked", "2007-01-01 00:00:00", YEAR, [], "form", 0.0),
    ("the pattern asked for", "1855-01", MONTH, [], "form", 1.0),
    ("a date where YYYY-MM is asked", "1855-01-01", MONTH, [], "form", 0.0),
    ("one of the listed names", "**III**", SERIES, [], "form", 1.0),
    ("a value where one of the listed names is asked", "24", SERIES, [], "form", 0.0),
    ("inside the range asked for", "8", MONTH_NUMBER, [], "form", 1.0),
    ("outside the range asked for", "13", MONTH_NUMBER, [], "form", 0.0),
    ("a two-letter code", "'AK'", STATE, [], "form", 1.0),
    ("a name where a two-letter code is asked", "Alaska", STATE, [], "form", 0.0),
    ("a name where a name is asked", "Brucella abortus", NAME, [], "form", 1.0),
    ("a row label where a name is asked", "np.int64(9)", NAME, [], "form", 0.0),
    ("a measured value where a name is asked", "0.007", NAME, [], "form", 0.0),
    # what each rule must not veto: right answers a review found vetoed
    ("an expected value is no probability", "3.5", "What is the expected value of a roll of a fair six-sided die?",
     [], "probability", None),
    ("an expected count is no probability", "5", "A coin is flipped 10 times. What is the expected number of heads?",
     [], "probability", None),
    ("choosing at random asks for a count", "120", "In how many ways can 3 books be chosen at random from 10?",
     [], "probability", None),
    ("a probability asked in percent", "40", "What is the probability of rain tomorrow, in percent?", [],
     "probability", 1.0),
    ("a probability in percent above 100 still cannot be", "140", "What is the probability of rain, in percent?", [],
     "probability", 0.0),
    ("how many dollars may have cents", "7.50", "Tom buys 3 pens at $2.50 each. How many dollars does he spend?", [],
     "count", None),
    ("how many cups may be a fraction", "2.5", "A cake needs 5 cups of flour. How many cups of flour are in half a cake?",
     [], "count", None),
    ("how many miles to the nearest hundredth", "1.25", "He walks 1 mile north and 0.75 mile east. How many miles is "
     "he from the start? Express your answer as a decimal to the nearest hundredth.", [], "count", None),
    ("how many dollars is still not negative", "-3", "How many dollars does he have left?", [], "count", 0.0),
    ("a count of things is still whole", "2.5", "How many cookies did Henry bake?", [], "count", 0.0),
    ("LaTeX's dollar signs are no money", "-50", "Compute: $1-2+3-4+5- \\dots +99-100$.", [], "money", None),
    ("a dollar amount is money", "-4", "A pen costs $2 and he has $6 in his pocket after buying three. How much "
     "was in his pocket before?", [], "money", 0.0),
    ("a correlation with a price may be negative", "-0.83", "What is the correlation between price and quantity sold?",
     [], "money", None),
    ("a change in price may be negative", "-5.2", "How did the average price change from 2019 to 2020?", [],
     "money", None),
    ("a percentage told is not one asked", "-30", "Prices rose 20% this year. She bought ten boards that cost $10 "
     "each and sold them for $7 each. How much money did she make?", [], "money", 0.0),
    ("a profit is an amount", "-90", "She sells boards that cost her $10 each for $19. How much profit does she "
     "make?", [], "money", 0.0),
    ("a profit that may be a loss", "-50", "Revenue was $100 and costs were $150. What was the net profit or loss?",
     [], "money", None),
    ("a growth in earnings may be negative", "-12.5", "By what percentage did earnings grow from 2019 to 2020?", [],
     "money", None),
    ("change given back is money", "-3", "She pays with a $20 bill for $23 of food. How much change does she get?",
     [], "money", 0.0),
    ("determine if asks yes or no", "True", "Determine if 97 is a prime number.", [], "truth", None),
    ("check if asks yes or no", "False", "Check if any price in df is negative.", [], "truth", None),
    ("an empty list is an empty selection", "[]", "Which rows have a negative price?", [], "rows", 0.3),
    ("an empty Series is an empty selection", "Series([], Name: price, dtype: float64)", "Which prices are negative?",
     [], "rows", 0.3),
    ("an exact value asked, a float given", "7.178979876918526e+23", "What is the exact value of 3^50?", [],
     "overflow", 0.0),
    ("a count in scientific notation is only suspicious", "1.2e+17", "How many ways can 40 people be seated in a "
     "row of 40 chairs?", [], "overflow", 0.3),
    ("a fraction where a percentage is asked", "0.05", "Sales were 100 and are now 105. By what percentage did "
     "sales grow?", [], "percent", 0.5),
    ("a percentage where a percentage is asked", "5", "Sales were 100 and are now 105. By what percentage did "
     "sales grow?", [], "percent", None),
    ("a fraction written with its sign", "0.5%", "What percentage of the rows are empty?", [], "percent", None),
    # what those exceptions must not excuse (a second review)
    ("a discount is no signed quantity", "-54", "A coat costs $60. If she gets a 10% discount, how much does she "
     "pay?", [], "money", 0.0),
    ("prose between two prices is no LaTeX", "-7", "He buys 3 T-shirts at $12 each and pays with two $20 bills. "
     "How much change does he get?", [], "money", 0.0),
    ("a fraction spoken of is no decimal asked", "7.5", "A fraction of the 30 students left early. Half of those "
     "who stayed went home too. How many students went home?", [], "count", 0.0),
    ("a percentage told is no probability in percent", "4", "On 20% of days it rains. What is the probability "
     "that it rains on two given days?", [], "probability", 0.0),
    ("scientific notation asked", "9.461e+15", "Light travels exactly 299792458 m/s. How many metres does it travel "
     "in a year? Give the answer in scientific notation.", [], "overflow", None),
    ("a formatted nan is no value", "nan%", "By what percentage did sales grow in 2020?", [], "value", 0.0),
    ("a nan with a unit is no value", "nan days", "How long is the average stay?", [], "value", 0.0),
    ("a list of nans is no value", "[nan, nan]", "What are the means?", [], "value", 0.0),
]


@pytest.mark.parametrize("why,answer,question,outputs,rule,value", ROWS, ids=[r[0] for r in ROWS])
def test_each_rule(why, answer, question, outputs, rule, value):
    signals = {s.name: s for s in plausibility(answer, question, outputs)}
    if value is None:  # the rule does not apply
        assert rule not in signals, signals
        return
    assert rule in signals, signals
    assert signals[rule].value == value and signals[rule].reason
    assert signals[rule].weight == 0.0  # shown, but outside the reward's mean
    assert (vetoed(list(signals.values())) is not None) == (value == 0.0)


@pytest.mark.parametrize("question,answer", [
    ("`diagnosis` is malignant or benign (a column (malignant or benign)). What percentage are malignant?", "37.3"),
    ("Janet's ducks lay 16 eggs per day. How much does she make every day at the farmers' market?", "18"),
    ("What is the mean petal length of the versicolor flowers (in cm, 1 to 10)?", "4.26"),
    ("How many two-letter state codes start with M? Answer with the two-letter codes' count.", "8"),
    ("In which year of the trial did most patients drop out?", "3"),
    ("What year-over-year growth did sales show?", "5.2%"),
    ("Answer with the year's total.", "52000"),
    ("How many bacteria are there? Answer with the number of names.", "16"),
    ("How many names are listed? Answer with the name count.", "16"),
    ("Which value is largest? Answer with the number, not the name.", "42"),
    ("Which column (one per year) has the most rain? Answer with the column name.", "1998"),
])
def test_a_question_that_names_no_form_gets_no_form_rule(question, answer):
    assert "form" not in {s.name for s in plausibility(answer, question)}


@pytest.mark.parametrize("question,answer", [
    ("Which series? Answer with the series name (I, II, III OR IV).", "IV"),
    ("Which species? Answer with the species (setosa/versicolor or virginica).", "setosa"),
    (YEAR, "Year 2008"),
    (YEAR, "2008.0"),
    # examples are no list of choices: any name is of the form asked
    ("Which variety yields most? Answer with its name (e.g. Trebi or Manchuria).", "Velvet"),
])
def test_the_form_asked_is_read_as_a_reader_would(question, answer):
    [form] = [s for s in plausibility(answer, question) if s.name == "form"]
    assert form.value == 1.0, form.reason


@pytest.mark.parametrize("question,answer", [(YEAR, "52"), (NAME, "9")])
def test_a_row_label_where_a_row_is_asked_is_told_what_it_likely_is(question, answer):
    [form] = [s for s in plausibility(answer, question) if s.name == "form"]
    assert form.value == 0.0 and "idxmax()" in form.reason


def test_a_value_that_is_no_whole_number_is_not_called_a_row_label():
    [form] = [s for s in plausibility("0.007", NAME) if s.name == "form"]
    assert form.value == 0.0 and "idxmax" not in form.reason


def test_a_question_repeating_its_phrases_is_read_in_linear_time():
    import time

    started = time.perf_counter()
    plausibility("c", "answer with " * 8000 + "(a or b)")
    plausibility("ab cd: " * 3000 + "5", YEAR)
    assert time.perf_counter() - started < 2.0  # quadratic, this took seconds


def test_a_plain_right_answer_is_not_suspicious():
    signals = plausibility("6", MONEY, ["6"])
    assert suspicion(signals) == 1.0 and vetoed(signals) is None


KINDS = [
    ("What is the probability that two dice show a sum of 7?", "probability"),
    ("If a card is drawn at random, what are the odds it is red?", "probability"),
    ("How many ways can 5 people sit in a row?", "counting"),
    ("How many distinct positive divisors does 360 have?", "counting"),
    ("What is the remainder when 2^100 is divided by 7?", "exact"),
    ("Express the answer as a common fraction.", "exact"),
    ("Janet's ducks lay 16 eggs per day. How many does she sell?", "word"),
]


@pytest.mark.parametrize("question,kind", KINDS)
def test_the_kind_of_question_chooses_the_methods(question, kind):
    assert question_kind(question) == kind


@pytest.mark.parametrize("reply,answer", [
    ("Step one.\nANSWER: 30", "30"),
    ("So it costs $30.\n**ANSWER:** $30", "$30"),
    ("Therefore the total is \\(\\boxed{42}\\).", "42"),
    ("The total is 12 + 18 = 30 dollars", "30"),
    ("I cannot tell.", None),
])
def test_a_prose_solution_is_read_from_its_last_line(reply, answer):
    assert PROSE.answer(reply) == answer


@pytest.mark.parametrize("answer,told", [("nan", True), ("NaN", True), ("None", False), ("inf", False)])
def test_a_nan_is_told_what_it_usually_comes_from(answer, told):
    [value] = [s for s in plausibility(answer, MONEY) if s.name == "value"]
    assert value.value == 0.0 and ("index labels do not match" in value.reason) is told
