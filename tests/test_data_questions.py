"""The data-question benchmark: gold answers computed from real tables, the split, the grading."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest

from nbreason.bench import data_gold, data_questions, data_tables, datasets, grading
from nbreason.bench.data_questions import QUESTIONS, build_variables
from nbreason.bench.grading import read_number


@pytest.fixture(scope="module")
def problems():
    return datasets.load("data")


def test_there_are_at_least_30_questions_with_unique_ids(problems):
    assert len(problems) >= 30
    assert len({p.id for p in problems}) == len(problems)
    assert all(re.fullmatch(r"d\d\d-[a-z0-9-]+", p.id) for p in problems)


def test_every_gold_answer_is_computed_finite_and_the_same_after_reloading_the_tables(problems):
    data_tables.table.cache_clear()  # read every table from its package again
    again = datasets.load("data")
    for first, second in zip(problems, again):
        assert first.gold == second.gold and first.meta == second.meta, first.id
        if first.meta["kind"] == "number":
            assert math.isfinite(first.meta["exact"]), first.id
            assert float(first.gold) == round(first.meta["exact"], first.meta["decimals"]), first.id
        else:
            assert first.gold in first.meta["choices"] and len(first.meta["choices"]) >= 2, first.id


def test_half_the_questions_are_for_tuning_and_half_for_the_report_by_the_parity_of_their_number(problems):
    tune = [p for p in problems if p.meta["split"] == "tune"]
    report = [p for p in problems if p.meta["split"] == "report"]
    assert len(tune) == len(report) == len(problems) // 2
    assert all(int(p.id[1:3]) % 2 == 1 for p in tune)
    assert [p.id for p in datasets.load("data-tune")] == [p.id for p in tune]
    assert [p.id for p in datasets.load("data-report")] == [p.id for p in report]


def test_both_splits_mix_numbers_and_categories(problems):
    for split in ("tune", "report"):
        kinds = [p.meta["kind"] for p in problems if p.meta["split"] == split]
        assert kinds.count("category") >= 4 and kinds.count("number") >= 10


def test_every_question_names_its_variables_and_how_to_round(problems):
    for p in problems:
        for name in p.variables:
            assert f"`{name}`" in p.question, (p.id, name)
        decimals = p.meta["decimals"]
        if p.meta["kind"] == "number" and decimals:
            assert f"{decimals} decimal" in p.question, p.id
        elif p.meta["kind"] == "number":
            assert re.search(r"whole number|the year|number of|month number", p.question), p.id
        else:
            assert re.search(r"Answer with (the|its)", p.question), p.id


def test_some_questions_join_two_tables(problems):
    joins = [p for p in problems if set(p.variables) == {"df", "df2"}]
    assert len(joins) >= 3


def test_the_tables_come_from_the_packages_and_leave_the_reserved_ones_alone():
    reserved = ("penguin", "cars", "seattle_weather", "stocks")
    assert not [name for name in data_tables.LOADERS if any(r in name for r in reserved)]
    used = {loader for q in QUESTIONS for loader in q.tables.values()}
    assert used <= set(data_tables.LOADERS)
    assert any(name.startswith("sklearn_") for name in used) and any(name.startswith("vega_") for name in used)


def test_variables_are_rebuilt_by_name_as_fresh_copies(problems):
    join = next(p for p in problems if p.id.startswith("d03"))
    tables = build_variables(join)
    assert set(tables) == {"df", "df2"}
    assert isinstance(tables["df"], pd.DataFrame) and set(tables["df"]["year"]) == {1931}
    tables["df"].loc[0, "yield"] = -1.0  # a run that changes its frame must not change the next run's
    assert build_variables(join)["df"].loc[0, "yield"] != -1.0


# -- gold answers checked a second way ---------------------------------------------------------

def by_id(problems, prefix):
    return next(p for p in problems if p.id.startswith(prefix))


def test_the_best_barley_variety_by_plain_summation(problems):
    rows = data_tables.vega_barley().to_dict("records")
    totals: dict[str, float] = {}
    for row in rows:
        totals[row["variety"]] = totals.get(row["variety"], 0.0) + row["yield"]
    assert by_id(problems, "d01").gold == max(totals, key=totals.get) == "Trebi"


def test_the_anscombe_slope_by_the_closed_form(problems):
    frame = data_tables.vega_anscombe()
    s = frame[frame["Series"] == "III"]
    x, y = s["X"].to_numpy(float), s["Y"].to_numpy(float)
    slope = ((x - x.mean()) * (y - y.mean())).sum() / ((x - x.mean()) ** 2).sum()
    assert by_id(problems, "d20").meta["exact"] == pytest.approx(slope)


def test_the_drawdown_by_a_plain_loop(problems):
    close = data_tables.vega_ohlc().sort_values("date")["close"].tolist()
    peak, worst = close[0], 0.0
    for price in close:
        peak = max(peak, price)
        worst = max(worst, 1 - price / peak)
    assert by_id(problems, "d29").meta["exact"] == pytest.approx(100 * worst)


def test_the_cold_spell_by_run_length_encoding(problems):
    cold = (data_tables.vega_seattle_temps().sort_values("date")["temp"] < 40).to_numpy()
    edges = np.flatnonzero(np.diff(np.r_[0, cold.astype(int), 0]))
    assert by_id(problems, "d14").meta["exact"] == (edges[1::2] - edges[::2]).max()


def test_broken_questions_are_refused_rather_than_graded():
    with pytest.raises(ValueError, match="exactly one"):
        data_gold.argmax(pd.Series([3, 3], index=["a", "b"]))


# -- grading ---------------------------------------------------------------------------------

def number(exact, decimals):
    return datasets.Problem("n", "q", data_questions.format_gold(exact, decimals),
                            {"grader": "data", "kind": "number", "exact": exact, "decimals": decimals})


def category(gold, choices):
    return datasets.Problem("c", "q", gold, {"grader": "data", "kind": "category", "choices": choices})


def right(answer, problem) -> bool:
    return grading.grade_problem(answer, problem).correct


@pytest.mark.parametrize("answer", ["3.14", "3.140", "3.1416", " 3.14\n", "np.float64(3.14)", "The slope is 3.14",
                                    "3.14159", "**3.14**"])
def test_a_rounded_number_is_right_in_the_forms_programs_print(answer):
    assert right(answer, number(3.14159, 2))


@pytest.mark.parametrize("answer", ["3.15", "3.13", "31.4", "3", "pi", "", None])
def test_a_near_miss_or_no_number_is_wrong(answer):
    assert not right(answer, number(3.14159, 2))


def test_whole_numbers_must_be_exact():
    problem = number(12.0, 0)
    assert right("12", problem) and right("12.0", problem) and right("12 pairs", problem)
    assert not right("12.4", problem) and not right("13", problem) and not right("11", problem)


def test_percentages_negative_signs_and_thousands_separators_are_read():
    assert right("38.8%", number(38.83597, 1))
    assert right("-16.50", number(-16.50273, 2)) and right("−16.5", number(-16.50273, 2))
    assert not right("16.50", number(-16.50273, 2))
    assert right("8,693", number(8693.0, 0))


def test_without_a_stated_rounding_the_tolerance_is_relative():
    problem = number(1234.5, None)
    assert right("1234.6", problem) and not right("1236", problem)


def test_reading_numbers():
    assert read_number("np.int64(2009)") == 2009
    assert read_number("Decimal('0.5')") == 0.5
    assert read_number("1.5e-3") == 0.0015
    assert read_number("no digits") is None


VARIETIES = ["Glabron", "Manchuria", "No. 457", "No. 462", "No. 475", "Peatland", "Svansota", "Trebi", "Velvet",
             "Wisconsin No. 38"]


@pytest.mark.parametrize("answer", ["Manchuria", "'Manchuria'", "Manchuria\n", "manchuria", "  MANCHURIA ",
                                    "['Manchuria']", "Manchuria (mean 35.2)", "The variety is Manchuria.",
                                    "`Manchuria`", "np.str_('Manchuria')"])
def test_a_category_is_right_alone_or_clearly_named(answer):
    assert right(answer, category("Manchuria", VARIETIES))


@pytest.mark.parametrize("answer", ["Trebi", "Manchuria, Trebi", "Manchurian", "Manchuria or Velvet", "", "42"])
def test_a_category_is_wrong_when_another_is_named_too_or_it_is_absent(answer):
    assert not right(answer, category("Manchuria", VARIETIES))


def test_categories_that_contain_each_other_are_told_apart():
    series = ["I", "II", "III", "IV"]
    assert right("III", category("III", series)) and right("Series III", category("III", series))
    assert not right("II", category("III", series)) and not right("I and III", category("III", series))
    assert right("No. 475", category("No. 475", VARIETIES)) and not right("No. 457", category("No. 475", VARIETIES))


def test_a_real_problem_is_graded_by_its_own_rules(problems):
    d04 = by_id(problems, "d04")
    assert d04.gold == "38.8"
    assert right("38.84", d04) and right("38.8", d04) and not right("38.9", d04)
    d21 = by_id(problems, "d21")
    assert right("III", d21) and not right("IV", d21)


def test_other_data_sets_keep_their_grading():
    plain = datasets.Problem("g", "q", "72", {})
    assert right("72.0", plain) and not right("71", plain)


def test_an_answer_too_large_for_a_float_is_no_number_rather_than_a_crash():
    assert read_number("1e400") is None and read_number("9" * 400) is None


@pytest.mark.parametrize("answer,right", [("AK has the most airports, as expected", True),
                                          ("Alaska (AK), with 263 airports in total", True),
                                          ("AK or TX", False), ("AK, not IN", False)])
def test_a_short_code_names_its_category_only_as_written(answer, right):
    assert grading._grade_category(answer, "AK", ["AK", "AS", "IN", "TX"]).correct is right


def test_the_data_set_without_its_tables_packages_is_refused_in_one_line(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "sklearn" else real(name, *a))
    with pytest.raises(SystemExit, match=r"^the data questions read their tables from sklearn, not installed: "
                                         r"pip install 'nbreason\[bench\]'$"):
        datasets.load("data-report")
