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

import ast
import builtins
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
_NOT_FOUND = re.compile(r"Columns? not found: '?([^',]+)'?")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_ARROW = re.compile(r"^\s*-*>\s*\d+\s(.*)$")
_CHAINED = re.compile(r"\n\s*(?:The above exception was the direct cause of the following exception:|"
                      r"During handling of the above exception, another exception occurred:)\s*\n")
_FRAME = re.compile(r"\n(?=\s*(?:Cell In\s*\[|Input In\s*\[|File ))")
_CELL = re.compile(r"(?:Cell In\s*\[\d*\]|Input In\s*\[\d*\])")
_ISOLATED = re.compile(r"File <independent solution>:(\d+)")
_DATE_TEXT = re.compile(r"^\d{4}-\d{2}(-\d{2})?([ T]\d{2}:\d{2}(:\d{2})?)?$")
_TEXT_IN_NUMBERS = re.compile(r"could not convert string to float|Cannot perform reduction '\w+' with string dtype|"
                              r"dtype '(?:str|object)' does not support operation|agg function failed|"
                              r"Could not convert .* to numeric|unsupported operand type\(s\) for [^:]+: 'str'")
_DATES_AS_TEXT = ("`.dt` needs a datetime column and this one holds text (see its dtype): convert it first, "
                  "`pd.to_datetime(column).dt.year`.")
# Names a program uses without importing them, and the import that defines them.
_IMPORTS = {"pd": "import pandas as pd", "np": "import numpy as np", "plt": "import matplotlib.pyplot as plt",
            "math": "import math", "stats": "from scipy import stats", "datetime": "import datetime",
            "re": "import re", "statistics": "import statistics"}


def correction(error_name: str, error_value: str, variables: Mapping[str, object] | Sequence[str],
               traceback: str = "", code: str = "") -> str | None:
    """One sentence telling the model what to do instead, or None when there is nothing specific to say.

    `error_name` and `error_value` are the exception's class name and message (an execution's
    `error["name"]` and `error["value"]`); `variables` the passed variables, by name, or the
    name -> value mapping (with values, a missing column is matched against the real ones);
    `traceback` the error's traceback, whose failing line tells which frame a missing column was
    asked of; `code` the program, which may have replaced a passed variable with data it made up."""
    names = list(variables)
    values = variables if isinstance(variables, Mapping) else {}
    text = str(error_value or "")
    if error_name in ("FileNotFoundError", "OSError", "IOError") and names:
        return _file(text, names)
    if error_name == "NameError":
        return _name(text, names)
    if replaced := replaced_variables(code, names):
        return (f"{_listed(replaced)} already {_is(replaced, 'holds', 'hold')} the real data: do not replace "
                f"{_it(replaced)} with data you make up; use {_it(replaced)} as {_is(replaced, 'it is', 'they are')}.")
    if error_name == "KeyError" and values:
        return _column(_key(text), values, failing_line(traceback, code))
    if error_name == "AttributeError" and "Can only use .dt accessor with datetimelike values" in text:
        return _DATES_AS_TEXT
    if error_name == "AttributeError" and (match := _MODULE.search(text)):
        return _removed(f"pd.{match.group(1)}", _REMOVED_FUNCTIONS.get(match.group(1)))
    if error_name == "AttributeError" and (match := _ATTRIBUTE.search(text)):
        if match.group(1) in _REMOVED_METHODS:  # a method pandas dropped, not a column
            return _removed(f".{match.group(1)}", _REMOVED_METHODS[match.group(1)])
        return _column(match.group(1), values, failing_line(traceback, code)) if values else None
    if error_name in ("TypeError", "ValueError") and values and _TEXT_IN_NUMBERS.search(text):
        return _text_columns(values)
    return None


def replaced_variables(code: str, names: Sequence[str]) -> list[str]:
    """The passed variables a program replaces with data it makes up: assigned a frame, series,
    array or literal built from modules and constants alone (`df = DataFrame({'x': np.random…})`,
    `df = pd.read_csv('jobs.csv')`, `df = [1, 2]`; not `df = df.dropna()`, nor `pd.DataFrame(rows)`,
    whatever `rows` holds). Statements inside functions are the function's own."""
    if not code or not names:
        return []
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    modules = {alias.asname or alias.name.split(".")[0] for node in ast.walk(tree)
               if isinstance(node, (ast.Import, ast.ImportFrom)) for alias in node.names}
    modules |= set(dir(builtins)) | set(_IMPORTS)  # pd and np may come from the session
    replaced: list[str] = []
    for node in _top_level(tree.body):
        if not isinstance(node, (ast.Assign, ast.AnnAssign)) or node.value is None:
            continue
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        used = {n.id for n in ast.walk(node.value) if isinstance(n, ast.Name)}
        if _made_up(node.value) and used <= modules:
            replaced += [t.id for t in targets if isinstance(t, ast.Name) and t.id in names and t.id not in replaced]
    return replaced


def _top_level(body: list[ast.stmt]):
    """The statements a program runs at its top level, inside if/for/while/with/try blocks too."""
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        yield node
        for field in ("body", "orelse", "finalbody"):
            yield from _top_level(getattr(node, field, []) or [])
        for handler in getattr(node, "handlers", []) or []:
            yield from _top_level(handler.body)


def _made_up(value: ast.expr) -> bool:
    """A frame, series or array built here (`DataFrame(...)`, `pd.read_csv(...)`, `np.random…`) or a literal."""
    if isinstance(value, (ast.Dict, ast.List, ast.Tuple, ast.Constant)):
        return True
    if not isinstance(value, ast.Call):
        return False
    func = value.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    return name in ("DataFrame", "Series", "array") or name.startswith("read_")


def _removed(shown: str, instead: str | None) -> str | None:
    return f"pandas has no `{shown}` (it was removed): {instead}." if instead else None


def _text_columns(values: Mapping[str, object]) -> str | None:
    """Arithmetic over a frame that still holds text: name the text columns and how to leave them out."""
    for name, value in values.items():
        dtypes = getattr(value, "dtypes", None)
        if dtypes is None or not hasattr(dtypes, "items"):
            continue
        text = [str(c) for c, dtype in dtypes.items()
                if getattr(dtype, "kind", "") in ("O", "S", "U") or str(dtype) in ("string", "str")]
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


def failing_line(traceback: str, code: str = "") -> str:
    """The line of the program that raised. IPython prints chained exceptions first ("The above
    exception was the direct cause…"), and a check's program runs inside a wrapper, so the line is
    read from the last exception's frames: the last frame of an independent solution
    ("File <independent solution>:3", its line taken from `code`), else the last frame of the cell
    ("Cell In[4], line 6", its marked "---->" line)."""
    text = _ANSI.sub("", traceback or "")
    text = _CHAINED.split(text)[-1]
    isolated, cell = None, None
    for frame in _FRAME.split(text):
        head = frame.strip().splitlines()[0] if frame.strip() else ""
        if match := _ISOLATED.match(head):
            shown = next((m.group(1) for line in frame.splitlines() if (m := _ARROW.match(line))), None)
            isolated = shown if shown is not None else int(match.group(1))
        elif _CELL.match(head):
            cell = next((m.group(1) for line in frame.splitlines() if (m := _ARROW.match(line))), cell)
    if isinstance(isolated, str):  # IPython showed the line itself
        return isolated.strip()
    if isolated is not None:  # only its number, counted in `code` (IPython drops leading blank lines)
        lines = (code or "").lstrip("\n").splitlines()
        return lines[isolated - 1].strip() if 0 < isolated <= len(lines) else ""
    if cell is None:  # no frame headers at all (a shortened traceback): its first marked line
        cell = next((m.group(1) for line in text.splitlines() if (m := _ARROW.match(line))), "")
    return cell.strip()


def _key(text: str) -> str:
    text = text.strip().strip("\"'")
    match = _NOT_FOUND.match(text)  # pandas' groupby: "Column not found: nonfarm"
    return match.group(1).strip() if match else text


def _column(key: str, values: Mapping[str, object], line: str = "") -> str | None:
    """A column name a passed frame does not have: the closest real ones, or all of them. With
    several frames, the one the failing line asks (df2.groupby('year') when only df has a year),
    and which frame does have it."""
    frames = {name: [str(c) for c in list(columns)] for name, value in values.items()
              if (columns := getattr(value, "columns", None)) is not None and not callable(columns)}
    asked = [name for name in frames if re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", line)]
    if asked and all(key in frames[name] for name in asked):
        return None  # the frames the line asks of have it: the KeyError is about something else
    lacking = [name for name in (asked or frames) if key not in frames[name]]
    if not lacking or (not asked and len(lacking) < len(frames)):
        return None  # no line to tell which frame was asked, and one of them has the column
    name, labels = lacking[0], frames[lacking[0]]
    if _row_label(key, values[name]):
        return (f"`{name}[{key}]` asks for a column, and {key} is a row label of `{name}` (what idxmax() returns): "
                f"read that row's value with `{name}.loc[{key}, column]`.")
    holders = [other for other in frames if key in frames[other]]
    elsewhere = f" (it is in {_listed(holders)})" if holders else ""
    close = [c for c in labels if c.casefold() == key.casefold()] or \
        difflib.get_close_matches(key, labels, n=1, cutoff=0.7)
    if close:
        return f"`{name}` has no column {key!r}{elsewhere}; did you mean {close[0]!r}?"
    shown = ", ".join(repr(c) for c in labels[:30]) + (", …" if len(labels) > 30 else "")
    return f"`{name}` has no column {key!r}{elsewhere}; its columns are {shown}.{_dates(key, name, values[name])}"


def _row_label(key: str, frame: object) -> bool:
    """`key` is a whole number that labels one of the frame's rows."""
    if not key.lstrip("-").isdigit():
        return False
    try:
        return int(key) in getattr(frame, "index", ())
    except (TypeError, ValueError):
        return False


def _dates(key: str, name: str, frame: object) -> str:
    """A year (month, day) asked of a frame that keeps its dates in another column: how to get it."""
    part = key.strip().casefold()
    if part not in ("year", "month", "day", "quarter", "date"):
        return ""
    for column, dtype in getattr(frame, "dtypes", {}).items():
        if str(column).casefold() == part:
            continue
        kind = getattr(dtype, "kind", "")
        if kind == "M":
            accessor = "" if part == "date" else f".dt.{part}"
            return f" Its dates are in {column!r}: `{name}[{column!r}]{accessor}`."
        if kind in ("O", "S", "U") or str(dtype) in ("string", "str"):
            sample = [v for v in list(frame[column].head(5)) if isinstance(v, str)]
            if sample and all(_DATE_TEXT.match(v) for v in sample):
                accessor = "" if part == "date" else f".dt.{part}"
                return (f" Its dates are text in {column!r} ({sample[0]!r}): "
                        f"`pd.to_datetime({name}[{column!r}]){accessor}`.")
    return ""


def _listed(names: list[str]) -> str:
    shown = [f"`{n}`" for n in names]
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]


def _is(names: list[str], one: str = "is", many: str = "are") -> str:
    return one if len(names) == 1 else many


def _it(names: list[str]) -> str:
    return "it" if len(names) == 1 else "them"
