"""What the model is told about a passed variable: real tables, the character budget, odd values."""

from __future__ import annotations

import datetime
import re

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris, load_wine
from vega_datasets import local_data

from nbreason.describe import BUDGET, describe

TEXT = r"(?:str|object)"  # pandas 3 calls text columns str, pandas 2 object


def lines(text: str) -> list[str]:
    return text.splitlines()


def test_iris_shows_shape_ranges_the_class_counts_and_the_first_rows():
    text = describe("df", load_iris(as_frame=True).frame)
    assert lines(text)[:8] == [
        "df: pandas DataFrame, 150 rows × 5 columns, no missing values",
        "columns:",
        "  sepal length (cm): float64, 4.3 to 7.9",
        "  sepal width (cm): float64, 2 to 4.4",
        "  petal length (cm): float64, 1 to 6.9",
        "  petal width (cm): float64, 0.1 to 2.5",
        "  target: int64, 3 values, 50 each: 0, 1, 2",
        "first 3 rows:",
    ]
    assert lines(text)[9].split() == ["0", "5.1", "3.5", "1.4", "0.2", "0"]
    assert len(text) <= BUDGET


def test_wine_lists_every_column_with_its_range_and_uneven_class_counts():
    text = describe("df", load_wine(as_frame=True).frame)
    assert "  alcohol: float64, 11.03 to 14.83" in lines(text)
    assert "  od280/od315_of_diluted_wines: float64, 1.27 to 4" in lines(text)
    assert "  proline: float64, 278 to 1680" in lines(text)
    assert "  target: int64, 3 values: 0 (59), 1 (71), 2 (48)" in lines(text)
    assert len(text) <= BUDGET


def test_diabetes_in_measured_units_shows_its_ranges():
    text = describe("df", load_diabetes(as_frame=True, scaled=False).frame)
    assert "df: pandas DataFrame, 442 rows × 11 columns, no missing values" in text
    assert "  bmi: float64, 18 to 42.2" in lines(text)
    assert "  target: float64, 25 to 346" in lines(text)


def test_barley_spells_out_every_category_so_no_program_has_to_guess():
    text = describe("df", local_data("barley"))
    assert re.search(rf"^  variety: {TEXT}, 10 values, 12 each: 'Manchuria', 'Glabron', 'Svansota', 'Velvet', "
                     r"'Trebi', 'No. 457', 'No. 462', 'Peatland', 'No. 475', 'Wisconsin No. 38'$", text, re.M)
    assert re.search(rf"^  site: {TEXT}, 6 values, 20 each: 'University Farm', 'Waseca', 'Morris', 'Crookston', "
                     r"'Grand Rapids', 'Duluth'$", text, re.M)
    assert "  year: int64, 2 values, 60 each: 1931, 1932" in lines(text)
    assert "  yield: float64, 14.4333 to 65.7667" in lines(text)


def test_iowa_electricity_shows_the_date_range_and_the_sources():
    text = describe("df", local_data("iowa-electricity"))
    assert re.search(r"^  year: datetime64\[\w+\], 2001-01-01 to 2017-01-01$", text, re.M)
    assert re.search(rf"^  source: {TEXT}, 3 values, 17 each: 'Fossil Fuels', 'Nuclear Energy', 'Renewables'$",
                     text, re.M)
    assert "  net_generation: int64, 1437 to 42750" in lines(text)


def test_hourly_timestamps_are_shown_to_the_minute():
    text = describe("df", local_data("sf-temps"))
    assert re.search(r"^  date: datetime64\[\w+\], 2010-01-01 00:00 to 2010-12-31 23:00$", text, re.M)


def test_missing_values_are_counted_per_column_and_in_the_heading():
    text = describe("df", local_data("la-riots"))
    assert lines(text)[0] == "df: pandas DataFrame, 63 rows × 11 columns, missing values in 1 column"
    assert "  age: float64, 1 missing, 15 to 87" in lines(text)
    assert re.search(rf"^  gender: {TEXT}, 2 values: 'Male' \(56\), 'Female' \(7\)$", text, re.M)


def test_a_long_tail_of_values_shows_only_the_most_common_and_how_many_more():
    text = describe("df", local_data("airports"))
    assert re.search(rf"^  state: {TEXT}, 12 missing, 56 distinct, most common: 'AK' \(263\), 'TX' \(209\), "
                     r"'CA' \(205\), 'OK' \(102\), 'FL' \(100\), … 51 more$", text, re.M)
    assert re.search(rf"^  iata: {TEXT}, all 3,376 distinct, e\.g\. '00M', '00R', '00V'$", text, re.M)
    assert len(text) <= BUDGET


# -- the budget ----------------------------------------------------------------------------------

def test_a_24_column_frame_fits_the_budget_and_keeps_every_column_with_its_range():
    frame = local_data("us-employment")
    text = describe("df", frame)
    assert len(text) <= BUDGET
    for column in frame.columns:
        assert re.search(rf"^  {column}: \S+", text, re.M), column
    assert "  nonfarm_change: int64, -802 to 522" in lines(text)
    assert "first 3 rows" not in text  # the sample rows go first when space is short


def test_a_31_column_frame_drops_ranges_before_it_drops_a_column_or_the_categories():
    frame = load_breast_cancer(as_frame=True).frame
    text = describe("df", frame)
    assert len(text) <= BUDGET
    assert all(re.search(rf"^  {re.escape(c)}: float64$", text, re.M) for c in frame.columns[:30])
    assert "  target: int64, 2 values: 0 (212), 1 (357)" in lines(text)


def test_a_very_wide_frame_names_the_columns_that_fit_and_counts_the_rest():
    frame = pd.DataFrame(np.zeros((3, 400)), columns=[f"feature_{i:03d}" for i in range(400)])
    text = describe("wide", frame)
    assert len(text) <= BUDGET
    assert lines(text)[0] == "wide: pandas DataFrame, 3 rows × 400 columns, no missing values"
    assert "  feature_000: float64" in lines(text)
    shown = len(re.findall(r"^  feature_\d+", text, re.M))
    assert lines(text)[-1] == f"  … and {400 - shown} more columns (all names: wide.columns)"


def test_long_text_cells_and_names_stay_within_the_budget():
    frame = pd.DataFrame({"note " * 30: ["word " * 200] * 5, "code": list("abcde")})
    text = describe("df", frame)
    assert len(text) <= BUDGET
    assert "code:" in text and "'a', 'b', 'c', 'd', 'e'" in text


def test_a_smaller_budget_is_respected():
    text = describe("df", local_data("barley"), budget=300)
    assert len(text) <= 300
    assert text.startswith("df: pandas DataFrame, 120 rows × 4 columns")


# -- other kinds of value --------------------------------------------------------------------------

def test_a_series_shows_its_name_length_range_and_first_values():
    text = describe("s", local_data("barley")["yield"])
    assert lines(text)[0] == "s: pandas Series yield, 120 values, float64, 14.4333 to 65.7667"
    assert lines(text)[1].startswith("first values: 27.0, 48.86667, 27.43334")


def test_a_meaningful_index_is_described():
    frame = local_data("sf-temps").set_index("date")
    text = describe("df", frame)
    assert "index date (DatetimeIndex): datetime64" in text and "2010-12-31 23:00" in text


def test_an_array_shows_shape_dtype_nans_range_and_first_rows():
    arr = np.arange(12.0).reshape(3, 4)
    arr[1, 1] = np.nan
    text = describe("a", arr)
    assert lines(text)[0] == "a: numpy ndarray, shape (3, 4), dtype float64, 1 NaN, 0 to 11"
    assert lines(text)[1] == "first 3 rows:"
    assert describe("n", np.array(7)) == "n: numpy ndarray, shape (), dtype int64 = 7"


def test_dicts_lists_and_scalars_are_described_briefly():
    assert describe("d", {"a": 1, "b": [1, 2], "c": pd.DataFrame({"x": [1]})}) == \
        "d: dict, 3 keys: 'a': 1, 'b': list of 2, 'c': DataFrame 1 × 1"
    assert describe("rows", [{"id": 1, "v": 2}, {"id": 2, "v": 3}]) == \
        "rows: list, 2 items of dict (keys of the first: 'id', 'v'); first: {'id': 1, 'v': 2}, {'id': 2, 'v': 3}"
    assert describe("x", 3.5) == "x: float = 3.5"
    assert describe("flag", None) == "flag: NoneType = None"
    assert describe("t", (1, "a")) == "t: tuple, 2 items; first: 1, 'a'"
    assert describe("empty", []) == "empty: list, 0 items"
    long = describe("s", "x" * 5000)
    assert long.startswith("s: str = 'xxx") and len(long) <= BUDGET


def test_a_huge_dict_is_cut_to_the_budget_and_says_how_many_keys_are_left():
    text = describe("d", {f"key{i}": i for i in range(1000)})
    assert len(text) <= BUDGET and text.startswith("d: dict, 1,000 keys: 'key0': 0")
    assert re.search(r"… \d+ more$", text)


class BrokenRepr:
    def __repr__(self):
        raise RuntimeError("no")


class BrokenFrame(pd.DataFrame):
    @property
    def shape(self):
        raise RuntimeError("broken")


EXOTIC = {
    "unhashable cells": pd.DataFrame({"lists": [[1], [2, 3], None], "n": [1, 2, 3]}),
    "mixed types": pd.DataFrame({"m": [1, "a", 2.5, None]}),
    "duplicate names": pd.DataFrame([[1, 2], [3, 4]], columns=["a", "a"]),
    "multiindex columns": pd.DataFrame([[1, 2]], columns=pd.MultiIndex.from_tuples([("x", 1), ("x", 2)])),
    "integer names": pd.DataFrame({0: [1.5], 1: ["z"]}),
    "odd names": pd.DataFrame({" padded ": [1], "new\nline": [2], "": [3]}),
    "empty": pd.DataFrame(),
    "no rows": pd.DataFrame({"a": pd.Series([], dtype=float)}),
    "all missing": pd.DataFrame({"a": [np.nan, np.nan]}),
    "categorical": pd.DataFrame({"c": pd.Categorical(["lo", "hi", "lo"])}),
    "booleans": pd.DataFrame({"b": [True, False, True]}),
    "complex": pd.DataFrame({"z": [1 + 2j, 3j]}),
    "timedeltas": pd.DataFrame({"t": pd.to_timedelta([1, 2], unit="h")}),
    "time zones": pd.DataFrame({"t": pd.date_range("2024-03-30", periods=3, freq="D", tz="Europe/Paris")}),
    "infinities": pd.DataFrame({"f": [1.0, np.inf, -np.inf]}),
    "object array": np.array([{"a": 1}, None], dtype=object),
    "structured array": np.array([(1, 2.0)], dtype=[("a", "i4"), ("b", "f8")]),
    "empty array": np.zeros((0, 3)),
    "broken repr": BrokenRepr(),
    "set": {3, 1, 2},
    "bytes": b"\x00\xff",
    "date": datetime.date(2024, 1, 2),
    "generator": (i for i in range(3)),
    "class": BrokenRepr,
    "nested": {"inner": {"deep": [BrokenRepr()]}},
}


@pytest.mark.parametrize("label", list(EXOTIC))
def test_odd_values_get_a_description_within_budget_and_never_an_exception(label):
    text = describe("v", EXOTIC[label])
    assert text.startswith("v: ") and 3 < len(text) <= BUDGET


def test_odd_column_names_are_quoted_so_the_model_can_spell_them():
    text = describe("df", EXOTIC["odd names"])
    assert "  ' padded ': int64" in text and "  'new\\nline': int64" in text and "  '': int64" in text


def test_unhashable_cells_show_an_example_instead_of_counts():
    assert "  lists: object, 1 missing, e.g. [1]" in describe("df", EXOTIC["unhashable cells"])


def test_a_value_that_breaks_while_being_described_still_gets_its_type():
    assert describe("df", BrokenFrame({"a": [1]})) == \
        "df: tests.BrokenFrame (could not be described: RuntimeError)"
    assert describe("b", BrokenRepr()) == "b: tests.BrokenRepr\n<tests.BrokenRepr>"
