"""Describing a passed variable to the model: what a careful analyst looks at first.

The model never sees the data, only this text, so it says what a program needs to get right
the first time: the exact column names and dtypes, missing values, how categories are spelled
(with counts), numeric and date ranges, and a few rows. A model that does not know that the
species is spelled 'Chinstrap' writes `df[df['species'] == 'Chinstrap penguin']`, selects
nothing and prints `nan`.

Every description fits in `budget` characters (default `BUDGET`): on a 2-core machine the
small embedded model reads ~40 prompt tokens/s, about 3 characters each, so 1,200 characters
cost ~10 s per run. A frame too wide for the budget loses detail in this order: the sample
rows, then category values beyond the most common, then numeric ranges, then the columns
that do not fit (named by count, with a pointer to `df.columns`). Names and dtypes go last.

Computed in the notebook's process from the value itself; a value that cannot be described
(a broken `__repr__`, unhashable cells, an exotic type) gets a shorter description, never an
exception: describing must not be what ends a run.
"""

from __future__ import annotations

import datetime
import math
import numbers
from collections import Counter
from dataclasses import dataclass

BUDGET = 1_200  # characters per variable
SAMPLE_ROWS = 3
CELL_CHARS = 24  # longest cell shown in the sample rows
VALUE_CHARS = 40  # longest category value shown
MOST_COMMON = 5  # values listed for a column with too many to list them all
FEW_NUMBERS = 5  # integer columns with at most this many distinct values list them, like categories


@dataclass(frozen=True)
class Detail:
    """How much a column line says; `describe` tries the richest that fits the budget."""

    values: int  # category values listed per column
    ranges: bool  # min/max of numeric and date columns
    rows: int  # sample rows shown


LEVELS = (Detail(12, True, SAMPLE_ROWS), Detail(12, True, 2), Detail(12, True, 0), Detail(8, True, 0), Detail(5, True, 0),
          Detail(3, True, 0), Detail(3, False, 0), Detail(0, False, 0))


def describe(name: str, value: object, budget: int = BUDGET) -> str:
    """`name: type, ...` in at most `budget` characters, whatever `value` is."""
    try:
        text = _describe(name, value, budget)
    except Exception as exc:  # an object that fights being looked at: say what it is and go on
        text = f"{name}: {_type_name(value)} (could not be described: {type(exc).__name__})"
    return _clip(text, budget)


def _describe(name: str, value: object, budget: int) -> str:
    pd = _pandas()
    if pd is not None and isinstance(value, pd.DataFrame):
        return _frame(name, value, budget)
    if pd is not None and isinstance(value, pd.Series):
        return _series(name, value, budget)
    np = _numpy()
    if np is not None and isinstance(value, np.ndarray):
        return _array(name, value, budget)
    if isinstance(value, dict):
        return _mapping(name, value, budget)
    if isinstance(value, (list, tuple, set, frozenset)):
        return _sequence(name, value, budget)
    if value is None or isinstance(value, (str, bytes, bool, numbers.Number, datetime.date, datetime.time,
                                           datetime.timedelta)):
        return f"{name}: {_type_name(value)} = {_repr(value, budget)}"
    return _other(name, value, budget)


# -- DataFrames --------------------------------------------------------------------------

def _frame(name: str, df, budget: int) -> str:
    rows, cols = df.shape
    missing = _missing_columns(df)
    head = f"{name}: pandas DataFrame, {_count(rows, 'row')} × {_count(cols, 'column')}"
    head += ", no missing values" if not missing else f", missing values in {missing} column{'s' * (missing > 1)}"
    index = _index_line(df.index)
    for detail in LEVELS:
        lines = [head, *index, *(["columns:"] if cols else [])]
        lines += [f"  {_label(df.columns[i])}: {_column_facts(df.iloc[:, i], detail)}" for i in range(cols)]
        text = "\n".join(lines)
        if detail.rows and rows:
            sample = _sample(df, detail.rows)
            if sample and len(text) + len(sample) + 20 <= budget:
                return f"{text}\nfirst {_count(min(detail.rows, rows), 'row')}:\n{sample}"
            continue
        if len(text) <= budget:
            return text
    # Too wide even for names and dtypes: as many columns as fit, then say how many are left.
    lines = [head, *index, "columns:"]
    used = sum(len(line) + 1 for line in lines)
    for i in range(cols):
        line = f"  {_label(df.columns[i])}: {_column_facts(df.iloc[:, i], LEVELS[-1])}"
        tail = f"  … and {cols - i} more columns (all names: {name}.columns)"
        if used + len(line) + 1 + len(tail) > budget:
            lines.append(tail)
            break
        lines.append(line)
        used += len(line) + 1
    return "\n".join(lines)


def _missing_columns(df) -> int:
    try:
        return int((df.isna().sum() > 0).sum())
    except Exception:
        return 0


def _index_line(index) -> list[str]:
    """A line for an index that carries information (dates, labels), none for 0..n-1."""
    pd = _pandas()
    if isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1:
        return []
    label = f" {_label(index.name)}" if index.name is not None else ""
    try:
        facts = _column_facts(index.to_series(), LEVELS[2])
    except Exception:
        facts = str(index.dtype)
    return [f"index{label} ({type(index).__name__}): {facts}"]


def _sample(df, rows: int) -> str:
    try:
        return df.head(rows).to_string(max_colwidth=CELL_CHARS)
    except Exception:
        return ""


# -- one column --------------------------------------------------------------------------

def _column_facts(s, detail: Detail) -> str:
    """`dtype, N missing, <values or range>` for one column (a Series)."""
    pd = _pandas()
    parts = [str(s.dtype)]
    try:
        missing = int(s.isna().sum())
    except Exception:
        missing = 0
    if missing:
        parts.append("all missing" if missing == len(s) else f"{missing:,} missing")
    present = s.dropna() if missing else s
    if len(present) == 0:
        return ", ".join(parts)
    try:
        kind = s.dtype.kind
        if pd.api.types.is_bool_dtype(s.dtype):
            parts.append(_values(present, detail.values, by_value=True))
        elif kind in "iu" and present.nunique() <= FEW_NUMBERS:
            parts.append(_values(present, detail.values, by_value=True))
        elif kind in "iuf":
            if detail.ranges:
                parts.append(f"{_scalar(present.min())} to {_scalar(present.max())}")
        elif kind in "mM":
            if detail.ranges:
                parts.append(_time_range(present))
        elif kind == "c":
            pass  # complex numbers have no order
        else:
            parts.append(_values(present, detail.values))
    except Exception:  # unhashable cells, mixed types without an order: show one value instead
        if detail.values:
            parts.append(f"e.g. {_repr(present.iloc[0], VALUE_CHARS)}")
    return ", ".join(p for p in parts if p)


def _time_range(present) -> str:
    """First to last: dates alone when every value is at midnight, else to the minute."""
    low, high = present.min(), present.max()
    if present.dtype.kind == "M":
        try:
            dates_only = bool((present.dt.normalize() == present).all())
        except Exception:
            dates_only = False
        shape = "%Y-%m-%d" if dates_only else "%Y-%m-%d %H:%M"
        return f"{low.strftime(shape)} to {high.strftime(shape)}"
    return f"{low} to {high}"


def _values(present, limit: int, by_value: bool = False) -> str:
    """Distinct values with their counts, most common first (ties in order of appearance)."""
    counts = present.value_counts(sort=False)
    distinct = len(counts)
    if by_value:
        try:
            counts = counts.sort_index()
        except TypeError:
            pass
    else:
        order = {v: i for i, v in enumerate(present.drop_duplicates())}
        keys = sorted(counts.index, key=lambda v: (-counts[v], order.get(v, 0)))
        counts = counts[keys]
    if distinct == len(present) and distinct > limit:
        shown = ", ".join(_repr(v, VALUE_CHARS) for v in list(counts.index[:min(limit, 3)]))
        return f"all {distinct:,} distinct" + (f", e.g. {shown}" if limit else "")
    if not limit:
        return f"{distinct:,} distinct"
    if distinct > limit:  # a long tail: its few most common values are what is worth the space
        limit = min(limit, MOST_COMMON)
    items = list(counts.items())[:limit]
    if distinct == 1:
        value = items[0][0]
        return f"always {_repr(value, VALUE_CHARS)}"
    if len(set(counts.tolist())) == 1:  # every value equally often: say the count once
        listed = ", ".join(_repr(v, VALUE_CHARS) for v, _ in items)
        head = f"{distinct} values, {counts.iloc[0]:,} each: "
    else:
        listed = ", ".join(f"{_repr(v, VALUE_CHARS)} ({n:,})" for v, n in items)
        head = f"{distinct} values: " if distinct <= limit else f"{distinct:,} distinct, most common: "
    more = f", … {distinct - limit:,} more" if distinct > limit else ""
    return head + listed + more


# -- other kinds of value ------------------------------------------------------------------

def _series(name: str, s, budget: int) -> str:
    head = f"{name}: pandas Series"
    if s.name is not None:
        head += f" {_label(s.name)}"
    head += f", {len(s):,} values"
    index = _index_line(s.index)
    for detail in LEVELS:
        text = "\n".join([f"{head}, {_column_facts(s, detail)}", *index])
        if detail.rows and len(s):
            first = ", ".join(_repr(v, CELL_CHARS) for v in s.head(detail.rows * 2).tolist())
            text += f"\nfirst values: {first}"
        if len(text) <= budget:
            return text
    return text


def _array(name: str, arr, budget: int) -> str:
    np = _numpy()
    head = f"{name}: numpy ndarray, shape {tuple(arr.shape)}, dtype {arr.dtype}"
    if arr.ndim == 0:
        return f"{head} = {_repr(arr.item(), budget)}"
    facts = []
    if arr.size and arr.dtype.kind in "iuf":
        if arr.dtype.kind == "f":
            nans = int(np.isnan(arr).sum())
            facts.append(f"{nans:,} NaN" if nans else "no NaN")
            if nans < arr.size:
                facts.append(f"{_scalar(np.nanmin(arr))} to {_scalar(np.nanmax(arr))}")
        else:
            facts.append(f"{_scalar(arr.min())} to {_scalar(arr.max())}")
    text = ", ".join([head, *facts])
    if arr.size:
        first = np.array2string(arr[:SAMPLE_ROWS], threshold=40, edgeitems=4, max_line_width=100)
        if len(text) + len(first) + 20 <= budget:
            text += f"\nfirst {min(SAMPLE_ROWS, len(arr))} {'rows' if arr.ndim > 1 else 'values'}:\n{first}"
    return text


def _mapping(name: str, value: dict, budget: int) -> str:
    head = f"{name}: dict, {len(value):,} keys"
    items = []
    used = len(head)
    for i, (key, item) in enumerate(value.items()):
        entry = f"{_repr(key, VALUE_CHARS)}: {_brief(item)}"
        if used + len(entry) + 40 > budget:
            items.append(f"… {len(value) - i:,} more")
            break
        items.append(entry)
        used += len(entry) + 2
    return head + (": " + ", ".join(items) if items else "")


def _sequence(name: str, value, budget: int) -> str:
    kind = type(value).__name__
    head = f"{name}: {kind}, {len(value):,} items"
    if not value:
        return head
    items = list(value)[:200] if not isinstance(value, (set, frozenset)) else list(value)[:200]
    types = Counter(_type_name(v) for v in items)
    if len(types) == 1:
        head += f" of {next(iter(types))}"
        if isinstance(items[0], dict):
            keys = ", ".join(_repr(k, VALUE_CHARS) for k in list(items[0])[:12])
            head += f" (keys of the first: {keys})"
    first = ", ".join(_repr(v, 80) for v in items[:5])
    return f"{head}; first: {_clip(first, max(40, budget - len(head) - 10))}"


def _other(name: str, value, budget: int) -> str:
    head = f"{name}: {_type_name(value)}"
    shape = getattr(value, "shape", None)
    if isinstance(shape, tuple):
        head += f", shape {shape}"
    columns = getattr(value, "columns", None)
    if columns is not None and not callable(columns):
        head += ", columns " + ", ".join(_label(c) for c in list(columns)[:40])
    return f"{head}\n{_repr(value, max(40, budget - len(head) - 1))}"


# -- small helpers -------------------------------------------------------------------------

def _brief(value) -> str:
    """A few words about a dict value: its type and size, or the value itself when short."""
    pd = _pandas()
    if pd is not None and isinstance(value, (pd.DataFrame, pd.Series)):
        return f"{type(value).__name__} {' × '.join(str(n) for n in value.shape)}"
    shape = getattr(value, "shape", None)
    if isinstance(shape, tuple):
        return f"{_type_name(value)} shape {shape}"
    if isinstance(value, (list, tuple, set, frozenset, dict)):
        return f"{type(value).__name__} of {len(value):,}"
    return _repr(value, VALUE_CHARS)


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'s' * (n != 1)}"


def _scalar(x) -> str:
    """A min or max as people write it: 1065 not 1065.0, 0.0380759 not 0.038075906."""
    if hasattr(x, "isoformat"):  # Timestamp, datetime, date
        text = str(x)
        return text[:10] if text.endswith("00:00:00") else text[:16] if text.endswith(":00") else text
    if isinstance(x, numbers.Integral):
        return str(int(x))
    if isinstance(x, numbers.Real):
        x = float(x)
        if math.isfinite(x) and x == int(x) and abs(x) < 1e15:
            return str(int(x))
        return f"{x:.6g}"
    return str(x)


def _label(name) -> str:
    """A column name as code would spell it; quoted when plain text would hide something."""
    if isinstance(name, str) and name and name == name.strip() and name.isprintable():
        return _clip(name, 60)
    return _repr(name, 60)


def _repr(value, limit: int) -> str:
    try:
        text = repr(value.item() if hasattr(value, "item") and getattr(value, "ndim", 1) == 0 else value)
    except Exception:
        text = f"<{_type_name(value)}>"
    return _clip(text, limit)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"


def _type_name(value) -> str:
    kind = type(value)
    module = (kind.__module__ or "").split(".")[0]
    return kind.__name__ if module in ("builtins", "") else f"{module}.{kind.__name__}"


def _pandas():
    try:
        import pandas
    except ImportError:  # pandas is a dependency, but describing must not need it
        return None
    return pandas


def _numpy():
    try:
        import numpy
    except ImportError:
        return None
    return numpy
