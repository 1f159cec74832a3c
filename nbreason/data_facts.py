"""What the policy needs to know about the passed tables, read once when a run starts.

The rules in nbreason/policy/data_use.py judge a program against the data it was given: whether
it selects the category the question names, whether it lines up two tables by row position when
their rows are in different orders. They stay pure by reading these small facts, never the
tables. Read in the notebook's process from the values passed with `--with`; a value that is not
a table, or a column that cannot be read, adds no facts: reading must never be what ends a run.
"""

from __future__ import annotations

from typing import Any, Mapping

from .policy.data_use import DataFacts, Misaligned, Value

FEW = 30  # a text column with at most this many distinct values holds categories


def data_facts(variables: Mapping[str, Any]) -> DataFacts:
    try:
        frames = {name: value for name, value in variables.items() if _is_frame(value)}
    except Exception:
        return DataFacts()
    values: list[Value] = []
    for name, df in frames.items():
        values += _categories(name, df)
    misaligned: list[Misaligned] = []
    names = list(frames)
    for i, first in enumerate(names):
        for second in names[i + 1:]:
            try:
                found = _misaligned(first, frames[first], second, frames[second])
            except Exception:
                found = None
            if found is not None:
                misaligned.append(found)
    return DataFacts(tuple(values), tuple(misaligned))


def _is_frame(value: Any) -> bool:
    try:
        return all(hasattr(value, attr) for attr in ("columns", "dtypes", "index", "iloc"))
    except Exception:  # a proxy whose attributes raise something other than AttributeError
        return False


def _text_columns(df) -> list[str]:
    out = []
    try:
        columns = list(df.columns)
    except Exception:
        return out
    for column in columns:
        try:
            dtype = str(df[column].dtype)
        except Exception:  # a duplicated name gives a frame, not a column
            continue
        if isinstance(column, str) and (dtype in ("object", "category", "str") or "string" in dtype):
            out.append(column)
    return out


def _categories(name: str, df) -> list[Value]:
    out: list[Value] = []
    for column in _text_columns(df):
        try:
            distinct = df[column].dropna().unique()
        except Exception:
            continue
        if len(distinct) > FEW:
            continue
        out += [Value(name, column, v) for v in distinct if isinstance(v, str) and v.strip()]
    return out


def _misaligned(a: str, df_a, b: str, df_b) -> Misaligned | None:
    """Two tables a program could line up by position (same length, same index) that share key
    columns (text columns whose values together name each row once, the same rows in both) in
    a different order: only a join matches their rows."""
    if len(df_a) != len(df_b) or not df_a.index.equals(df_b.index):
        return None
    keys = [c for c in _text_columns(df_a) if c in set(_text_columns(df_b))]
    if not keys:
        return None
    left = [tuple(str(v) for v in row) for row in df_a[keys].itertuples(index=False)]
    right = [tuple(str(v) for v in row) for row in df_b[keys].itertuples(index=False)]
    if len(set(left)) != len(left) or set(left) != set(right):
        return None  # not keys (a status that changes, a repeated name): no order to get wrong
    row = next((i for i, (x, y) in enumerate(zip(left, right)) if x != y), None)
    if row is None:
        return None
    return Misaligned(a, b, tuple(keys), row, left[row], right[row])
