"""Specific corrections for programs that did not use the data they were given."""

from __future__ import annotations

import pytest
from vega_datasets import local_data

from nbreason.corrections import correction

MISSING = "[Errno 2] No such file or directory: 'cars.csv'"


def test_reading_an_invented_file_is_answered_with_the_variable_to_use():
    assert correction("FileNotFoundError", MISSING, ["df"]) == \
        "`df` is already defined in the session; use it instead of reading 'cars.csv'."


def test_several_variables_are_all_named():
    assert correction("FileNotFoundError", "[Errno 2] No such file or directory: 'your_data.xlsx'",
                      ["df", "df2"]) == \
        "`df` and `df2` are already defined in the session; use them instead of reading 'your_data.xlsx'."


def test_pandas_wording_of_a_missing_file_is_understood():
    assert correction("FileNotFoundError", "File data/penguins.csv does not exist", ["df"]) == \
        "`df` is already defined in the session; use it instead of reading 'data/penguins.csv'."


def test_a_missing_file_without_passed_variables_has_no_specific_correction():
    assert correction("FileNotFoundError", MISSING, []) is None


def test_an_invented_name_for_the_data_points_to_the_real_one():
    assert correction("NameError", "name 'data' is not defined", ["df"]) == \
        "There is no `data`: the data is in `df`, already defined in the session; use it."


def test_a_forgotten_import_is_named():
    assert correction("NameError", "name 'pd' is not defined", ["df"]) == \
        "`pd` is not imported: add `import pandas as pd` at the top."
    assert correction("NameError", "name 'np' is not defined", []) == \
        "`np` is not imported: add `import numpy as np` at the top."


def test_a_passed_variable_that_is_gone_is_not_the_programs_fault():
    assert correction("NameError", "name 'df' is not defined", ["df"]) is None


def test_a_misspelt_column_gets_the_real_spelling():
    frame = local_data("barley")
    assert correction("KeyError", "'Variety'", {"df": frame}) == "`df` has no column 'Variety'; did you mean 'variety'?"
    assert correction("KeyError", "'yeild'", {"df": frame}) == "`df` has no column 'yeild'; did you mean 'yield'?"
    assert correction("AttributeError", "'DataFrame' object has no attribute 'Site'", {"df": frame}) == \
        "`df` has no column 'Site'; did you mean 'site'?"


def test_an_unrelated_column_name_lists_the_columns():
    frame = local_data("barley")
    assert correction("KeyError", "'price'", {"df": frame}) == \
        "`df` has no column 'price'; its columns are 'yield', 'variety', 'year', 'site'."


def test_a_key_error_about_an_existing_column_or_without_values_says_nothing():
    frame = local_data("barley")
    assert correction("KeyError", "'yield'", {"df": frame}) is None
    assert correction("KeyError", "'Variety'", ["df"]) is None


TRACEBACK = """---------------------------------------------------------------------------
KeyError                                  Traceback (most recent call last)
Cell In[4], line 6
      5 df_yearly = df.groupby('year')['net_generation'].sum()
\x1b[0;32m----> 6\x1b[0m df_monthly = df2.groupby({key!r})['nonfarm'].mean()

File /venv/lib/python3.11/site-packages/pandas/core/frame.py:13788, in DataFrame.groupby(self, by)
> 13788         return DataFrameGroupBy(obj=self, keys=by)
"""


def two_frames():
    return {"df": local_data("iowa-electricity"), "df2": local_data("us-employment")}


def test_a_column_one_frame_has_is_named_missing_in_the_frame_the_failing_line_asks():
    said = correction("KeyError", "'year'", two_frames(), TRACEBACK.format(key="year"))
    assert said.startswith("`df2` has no column 'year' (it is in `df`); its columns are 'month', 'nonfarm',")
    assert said.endswith("Its dates are text in 'month' ('2006-01-01'): `pd.to_datetime(df2['month']).dt.year`.")


def test_pandas_groupby_wording_of_a_missing_column_is_understood():
    assert correction("KeyError", "'Column not found: nonfarm'", two_frames(),
                      TRACEBACK.replace("df2.groupby", "df.groupby").format(key="year")) == \
        "`df` has no column 'nonfarm' (it is in `df2`); its columns are 'year', 'source', 'net_generation'."


@pytest.mark.parametrize("line, expected", [
    ("df.groupby('year')", None),  # df has it: the KeyError is about something else
    ("", None),  # no line to tell the frames apart, and one of them has it
    ("df2.groupby('year')", "`df2`"),
    ("x = df2 ['year']", "`df2`"),
    ("mydf2.groupby('year')", None),  # another name that only ends like one of the frames
])
def test_which_frame_a_missing_column_was_asked_of_is_read_from_the_failing_line(line, expected):
    traceback = f"Cell In[3], line 1\n----> 1 {line}\n" if line else ""
    said = correction("KeyError", "'year'", two_frames(), traceback)
    assert (said.split(" ")[0] if said else None) == expected


def test_a_year_asked_of_a_frame_with_real_dates_points_to_the_dt_accessor():
    import pandas as pd

    frame = pd.DataFrame({"when": pd.to_datetime(["2001-01-01", "2002-01-01"]), "v": [1, 2]})
    assert correction("KeyError", "'year'", {"df": frame}).endswith("Its dates are in 'when': `df['when'].dt.year`.")
    assert "dates" not in correction("KeyError", "'price'", {"df": frame})


@pytest.mark.parametrize("code, replaced", [
    ("from pandas import DataFrame\ndf = DataFrame({'nonfarm': np.random.randint(1, 9, 120)})\nprint(df.nonfarm.max())",
     ["df"]),
    ("import pandas as pd\ndf = pd.read_csv('jobs.csv')", ["df"]),
    ("df: pd.DataFrame = pd.DataFrame()\ndf2 = [1, 2]", ["df", "df2"]),
    ("try:\n    df = pd.read_csv('x.csv')\nexcept Exception:\n    pass", ["df"]),  # inside a block too
    ("df = df.dropna()\nprint(df.x.max())", []),  # from itself: the real data, narrowed
    ("rows = df.to_dict('records')\ndf = pd.DataFrame(rows)", []),  # rebuilt from the real data
    ("import pandas as pd\nrows = []\nfor r in df.to_dict('records'):\n    rows.append(r)\ndf = pd.DataFrame(rows)",
     []),  # rebuilt record by record, as the row-by-row route is asked to
    ("df['flag'] = 0\ndf = pd.DataFrame(df.values)", []),  # a column changed first: still its own data
    ("a = df[df.x > 0]\nb = df2\ndf = pd.merge(a, b)", []),  # joined from it
    ("df = make()", []),  # no frame built here that the program shows
    ("from pandas import DataFrame\nimport numpy as np\ndf = DataFrame({'x': np.random.rand(3), 'n': range(3)})",
     ["df"]),
    ("def f():\n    df = pd.DataFrame()\n    return df", []),  # a function's own local
    ("frame = pd.DataFrame({'a': [1]})", []),  # a name of its own
    ("df = (", []),  # not Python
])
def test_a_failed_program_that_replaced_the_passed_data_is_told_to_use_it_as_it_is(code, replaced):
    from nbreason.corrections import replaced_variables

    assert replaced_variables(code, ["df", "df2"]) == replaced
    said = correction("ValueError", "All arrays must be of the same length", {"df": None, "df2": None}, "", code)
    if replaced == ["df"]:
        assert said == "`df` already holds the real data: do not replace it with data you make up; use it as it is."
    elif replaced:
        assert said.startswith("`df` and `df2` already hold the real data")
    else:
        assert said is None


# What the kernel sends for `df2['year']`: pandas raises a KeyError from a KeyError, and IPython
# prints the inner exception first, its marked lines inside pandas.
CHAINED = ("\x1b[91mKeyError\x1b[39m    Traceback (most recent call last)\n"
           "\x1b[96mFile \x1b[39m\x1b[32m/venv/pandas/core/indexes/base.py:3816\x1b[39m, in Index.get_loc(self, key)\n"
           "\x1b[92m-> \x1b[39m\x1b[92m3816\x1b[39m     return self._engine.get_loc(casted_key)\n\n"
           "\x1b[91mKeyError\x1b[39m: 'year'\n\n"
           "The above exception was the direct cause of the following exception:\n\n"
           "\x1b[91mKeyError\x1b[39m    Traceback (most recent call last)\n"
           "\x1b[96mCell\x1b[39m\x1b[96m \x1b[39m\x1b[32mIn[1]\x1b[39m\x1b[32m, line 3\x1b[39m\n"
           "\x1b[92m      2\x1b[39m df_yearly = df.groupby('year').net_generation.sum()\n"
           "\x1b[92m----> \x1b[39m\x1b[92m3\x1b[39m x = \x1b[30;43mdf2\x1b[39;49m\x1b[30;43m[\x1b[39;49m'year']\n\n"
           "\x1b[96mFile \x1b[39m\x1b[32m/venv/pandas/core/frame.py:4330\x1b[39m, in DataFrame.__getitem__(self, key)\n"
           "\x1b[92m-> \x1b[39m\x1b[92m4330\x1b[39m     indexer = self.columns.get_loc(key)\n\n"
           "\x1b[91mKeyError\x1b[39m: 'year'")
# An independent solution runs inside a wrapper whose call names every passed frame; its own frame
# shows no source, only its line number.
ISOLATED = ("KeyError    Traceback (most recent call last)\n"
            "Cell In[7], line 1\n----> 1 _nbreason_isolated('...', {'df': df, 'df2': df2})\n\n"
            "Cell In[2], line 40, in _nbreason_isolated(code, passed)\n"
            "---> 40     exec(compile(tree, filename, 'exec'))\n\n"
            "File <independent solution>:2\n\n"
            "File /venv/pandas/core/frame.py:13788, in DataFrame.groupby(self, by)\n"
            "> 13788   return DataFrameGroupBy(\n\n"
            "KeyError: 'year'")


def test_the_failing_line_is_the_programs_own_in_a_chained_traceback_and_in_an_independent_solution():
    from nbreason.corrections import failing_line

    assert failing_line(CHAINED) == "x = df2['year']"
    code = "a = df.groupby('year').net_generation.sum()\nb = df2.groupby('year').nonfarm.mean()\nprint(a.corr(b))"
    assert failing_line(ISOLATED, code) == "b = df2.groupby('year').nonfarm.mean()"
    assert failing_line(ISOLATED, "") == ""  # no program to read the line from
    assert failing_line(ISOLATED, "\n\n" + code) == "b = df2.groupby('year').nonfarm.mean()"  # IPython drops them
    frame = "File <independent solution>:2\n"
    shown = ISOLATED.replace(frame, frame + "----> 2 x = df2['year']\n")
    assert failing_line(shown, code) == "x = df2['year']"  # the line IPython shows, when it shows one
    for traceback, program in ((CHAINED, ""), (ISOLATED, code)):
        assert correction("KeyError", "'year'", two_frames(), traceback, program).startswith(
            "`df2` has no column 'year' (it is in `df`)")


def test_several_missing_columns_name_the_first():
    assert correction("KeyError", "\"Columns not found: 'nonfarm', 'private'\"", two_frames(),
                      "----> 1 df.groupby('year')[['nonfarm', 'private']].sum()") == \
        "`df` has no column 'nonfarm' (it is in `df2`); its columns are 'year', 'source', 'net_generation'."


def test_a_row_label_used_as_a_column_is_pointed_to_loc():
    frame = local_data("driving")
    assert correction("KeyError", "52", {"df": frame}, "----> 2 print(df[df['gas'].idxmax()]['year'])") == \
        "`df[52]` asks for a column, and 52 is a row label of `df` (what idxmax() returns): read that row's value " \
        "with `df.loc[52, column]`."
    assert correction("KeyError", "999", {"df": frame}).startswith("`df` has no column '999'; its columns are")


def test_dates_stored_as_text_are_pointed_to_pd_to_datetime():
    assert correction("AttributeError", "Can only use .dt accessor with datetimelike values", ["df"]) == \
        "`.dt` needs a datetime column and this one holds text (see its dtype): convert it first, " \
        "`pd.to_datetime(column).dt.year`."


def test_a_pandas_function_that_was_removed_gets_what_replaces_it():
    assert correction("AttributeError", "module 'pandas' has no attribute 'ols'", ["df"]) == \
        "pandas has no `pd.ols` (it was removed): fit with `np.polyfit(x, y, 1)` (slope, intercept) or " \
        "`scipy.stats.linregress(x, y)`."
    assert correction("AttributeError", "module 'pandas' has no attribute 'rolling_mean'", []) == \
        "pandas has no `pd.rolling_mean` (it was removed): use `series.rolling(n).mean()`."


def test_a_removed_method_is_not_mistaken_for_a_column():
    frame = local_data("barley")
    assert correction("AttributeError", "'DataFrame' object has no attribute 'append'", {"df": frame}) == \
        "pandas has no `.append` (it was removed): use `pd.concat([first, second])`."
    assert correction("AttributeError", "'Series' object has no attribute 'iteritems'", ["df"]) == \
        "pandas has no `.iteritems` (it was removed): use `.items()`."
    # a module function's name used on a frame is a column guess, not a removed method
    assert correction("AttributeError", "'DataFrame' object has no attribute 'datetime'", {"df": frame}) == \
        "`df` has no column 'datetime'; its columns are 'yield', 'variety', 'year', 'site'."


def test_a_pandas_attribute_never_there_has_no_specific_correction():
    assert correction("AttributeError", "module 'pandas' has no attribute 'frobnicate'", ["df"]) is None


@pytest.mark.parametrize("name,value", [
    ("TypeError", "Cannot perform reduction 'mean' with string dtype"),
    ("TypeError", "dtype 'str' does not support operation 'mean'"),
    ("ValueError", "could not convert string to float: 'Manchuria'"),
    ("TypeError", "agg function failed [how->mean,dtype->object]"),
])
def test_arithmetic_over_text_columns_names_them_and_how_to_leave_them_out(name, value):
    assert correction(name, value, {"df": local_data("barley")}) == \
        "`df` has text columns ('variety', 'site'): compute over the numeric columns only " \
        "(`df.select_dtypes('number')`, or `numeric_only=True`) or over the columns the question names."


def test_text_errors_without_a_frame_with_text_columns_say_nothing():
    import pandas as pd

    assert correction("ValueError", "could not convert string to float: 'x'", ["df"]) is None
    assert correction("ValueError", "could not convert string to float: 'x'", {"df": pd.DataFrame({"a": [1]})}) is None


@pytest.mark.parametrize("name,value", [
    ("ZeroDivisionError", "division by zero"),
    ("NameError", "something else entirely"),
    ("FileNotFoundError", "permission denied"),
    ("ValueError", "No such file or directory: 'x.csv'"),
])
def test_other_errors_have_no_specific_correction(name, value):
    assert correction(name, value, {"df": local_data("barley")}) is None
