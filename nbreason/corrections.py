"""A specific correction for code that failed because it did not use the data it was given.

Small models asked about `df` often write `pd.read_csv('your_data.csv')`, or call the frame
`data`, or guess a column's spelling, or use `.dt` on dates stored as text, or call pandas
functions removed years ago (`pd.ols`, `df.append`), or average a frame that still holds a text
column. The generic "the code failed" reply does not help: with
greedy decoding the model rewrites the same program. A sentence that names the variable, the
file or the right column does:

    correction("FileNotFoundError", "[Errno 2] No such file or directory: 'cars.csv'", ["df"])
    -> "`df` is already defined in the session; use it instead of reading 'cars.csv'."

Pure: error text and the passed variables in, one sentence (or None) out. The loop appends the
sentence to its observation of the failed step.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence

_FILE = (re.compile(r"No such file or directory: '([^']+)'"), re.compile(r'No such file or directory: "([^"]+)"'),
         re.compile(r"File (\S+) does not exist"), re.compile(r"'([^']+)' does not exist"))
_NAME = re.compile(r"name '([^']+)' is not defined")
_ATTRIBUTE = re.compile(r"'(?:DataFrame|Series)' object has no attribute '([^']+)'")
_MODULE = re.compile(r"module 'pandas' has no attribute '([^']+)'")
# pandas functions and methods that are gone, and what replaces them (pandas 2 removed the last of them).
_REMOVED_FUNCTIONS = {
    "ols": "fit with `np.polyfit(x, y, 1)` (slope, intercept) or `scipy.stats.linregress(x, y)`",
    "rolling_mean": "use `series.rolling(n).mean()`", "rolling_sum": "use `series.rolling(n).sum()`",
    "rolling_std": "use `series.rolling(n).std()`", "rolling_max": "use `series.rolling(n).max()`",
    "rolling_min": "use `series.rolling(n).min()`", "ewma": "use `series.ewm(span=n).mean()`",
    "expanding_mean": "use `series.expanding().mean()`", "TimeGrouper": "use `pd.Grouper(freq=...)`",
    "datetime": "use `import datetime` (or `pd.Timestamp`)", "np": "use `import numpy as np`",
    "scatter_matrix": "use `pd.plotting.scatter_matrix`", "Panel": "use a DataFrame with a MultiIndex",
}
_REMOVED_METHODS = {
    "append": "use `pd.concat([first, second])`", "iteritems": "use `.items()`", "ix": "use `.loc` or `.iloc`",
    "as_matrix": "use `.to_numpy()`", "get_value": "use `.at[row, column]`", "set_value": "use `.at[row, column] = value`",
    "sort": "use `.sort_values(...)`", "mad": "use `(s - s.mean()).abs().mean()`", "lookup": "use `.loc`",
    "convert_objects": "use `pd.to_numeric(column)`", "sortlevel": "use `.sort_index(level=...)`",
}
_TEXT_IN_NUMBERS = re.compile(r"could not convert string to float|Cannot perform reduction '\w+' with string dtype|"
                              r"dtype '(?:str|object)' does not support operation|agg function failed|"
                              r"Could not convert .* to numeric|unsupported operand type\(s\) for [^:]+: 'str'")
_DATES_AS_TEXT = ("`.dt` needs a datetime column and this one holds text (see its dtype): convert it first, "
                  "`pd.to_datetime(column).dt.year`.")
# Names a program uses without importing them, and the import that defines them.
_IMPORTS = {"pd": "import pandas as pd", "np": "import numpy as np", "plt": "import matplotlib.pyplot as plt",
            "math": "import math", "stats": "from scipy import stats", "datetime": "import datetime",
            "re": "import re", "statistics": "import statistics"}


def correction(error_name: str, error_value: str, variables: Mapping[str, object] | Sequence[str]) -> str | None:
    """One sentence telling the model what to do instead, or None when there is nothing specific to say.

    `error_name` and `error_value` are the exception's class name and message (an execution's
    `error["name"]` and `error["value"]`); `variables` the passed variables, by name, or the
    name -> value mapping (with values, a missing column is matched against the real ones)."""
    names = list(variables)
    values = variables if isinstance(variables, Mapping) else {}
    text = str(error_value or "")
    if error_name in ("FileNotFoundError", "OSError", "IOError") and names:
        return _file(text, names)
    if error_name == "NameError":
        return _name(text, names)
    if error_name == "KeyError" and values:
        return _column(text.strip().strip("\"'"), values)
    if error_name == "AttributeError" and "Can only use .dt accessor with datetimelike values" in text:
        return _DATES_AS_TEXT
    if error_name == "AttributeError" and (match := _MODULE.search(text)):
        return _removed(f"pd.{match.group(1)}", _REMOVED_FUNCTIONS.get(match.group(1)))
    if error_name == "AttributeError" and (match := _ATTRIBUTE.search(text)):
        if match.group(1) in _REMOVED_METHODS:  # a method pandas dropped, not a column
            return _removed(f".{match.group(1)}", _REMOVED_METHODS[match.group(1)])
        return _column(match.group(1), values) if values else None
    if error_name in ("TypeError", "ValueError") and values and _TEXT_IN_NUMBERS.search(text):
        return _text_columns(values)
    return None


def _removed(shown: str, instead: str | None) -> str | None:
    return f"pandas has no `{shown}` (it was removed): {instead}." if instead else None


def _text_columns(values: Mapping[str, object]) -> str | None:
    """Arithmetic over a frame that still holds text: name the text columns and how to leave them out."""
    for name, value in values.items():
        dtypes = getattr(value, "dtypes", None)
        if dtypes is None or not hasattr(dtypes, "items"):
            continue
        text = [str(c) for c, dtype in dtypes.items() if getattr(dtype, "kind", "") in "OSU" or str(dtype) in ("string", "str")]
        if text:
            shown = ", ".join(repr(c) for c in text[:8]) + (", …" if len(text) > 8 else "")
            return (f"`{name}` has text columns ({shown}): compute over the numeric columns only "
                    f"(`{name}.select_dtypes('number')`, or `numeric_only=True`) or over the columns the question names.")
    return None


def _file(text: str, names: list[str]) -> str | None:
    match = next((m for pattern in _FILE if (m := pattern.search(text))), None)
    if match is None and "No such file" not in text:
        return None
    what = f"reading {match.group(1)!r}" if match else "reading a file"
    return f"{_listed(names)} {_is(names)} already defined in the session; use {_it(names)} instead of {what}."


def _name(text: str, names: list[str]) -> str | None:
    match = _NAME.search(text)
    if match is None:
        return None
    missing = match.group(1)
    if missing in _IMPORTS:
        return f"`{missing}` is not imported: add `{_IMPORTS[missing]}` at the top."
    if not names or missing in names:
        return None  # a passed variable gone missing is the session's fault, not the program's
    return (f"There is no `{missing}`: the data {_is(names, 'is', 'are')} in {_listed(names)}, already defined "
            f"in the session; use {_it(names)}.")


def _column(key: str, values: Mapping[str, object]) -> str | None:
    """A column name the passed frames do not have: the closest real ones, or all of them."""
    for name, value in values.items():
        columns = getattr(value, "columns", None)
        if columns is None or callable(columns):
            continue
        labels = [str(c) for c in list(columns)]
        if key in labels:
            return None  # the column exists; the KeyError is about something else
        close = [c for c in labels if c.casefold() == key.casefold()] or \
            difflib.get_close_matches(key, labels, n=1, cutoff=0.7)
        if close:
            return f"`{name}` has no column {key!r}; did you mean {close[0]!r}?"
        shown = ", ".join(repr(c) for c in labels[:30]) + (", …" if len(labels) > 30 else "")
        return f"`{name}` has no column {key!r}; its columns are {shown}."
    return None


def _listed(names: list[str]) -> str:
    shown = [f"`{n}`" for n in names]
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]


def _is(names: list[str], one: str = "is", many: str = "are") -> str:
    return one if len(names) == 1 else many


def _it(names: list[str]) -> str:
    return "it" if len(names) == 1 else "them"
