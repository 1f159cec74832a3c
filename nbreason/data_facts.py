"""What the policy needs to know about the passed tables, read once when a run starts.

The rules in nbreason/policy/data_use.py judge a program against the data it was given: whether
it selects the category the question names, whether it lines up two tables by row position when
their rows are in different orders. They stay pure by reading these small facts, never the
tables. Read in the notebook's process from the passed values (`--with`); a value that is not a
table, or that cannot be read, adds no facts: reading must never be what ends a run.
"""

from __future__ import annotations

from typing import Any, Mapping

from .policy.data_use import DataFacts, Misaligned, Value

FEW = 30  # a text column with at most this many distinct values holds categories


def data_facts(variables: Mapping[str, Any]) -> DataFacts:
    frames = {name: value for name, value in variables.items() if _is_frame(value)}
    values: list[Value] = []
    for name, df in frames.items():
        try:
            values += _categories(name, df)
        except Exception:
            continue
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
    return all(hasattr(value, attr) for attr in ("columns", "dtypes", "index", "iloc"))


def _text_columns(df) -> list[str]:
    return [c for c in df.columns if isinstance(c, str) and str(df[c].dtype) in ("object", "category", "string", "str")]


def _categories(name: str, df) -> list[Value]:
    out: list[Value] = []
    for column in _text_columns(df):
        distinct = df[column].dropna().unique()
        if len(distinct) > FEW:
            continue
        out += [Value(name, column, v) for v in distinct if isinstance(v, str) and v.strip()]
    return out


def _misaligned(a: str, df_a, b: str, df_b) -> Misaligned | None:
    """Two tables a program could line up by position (same length, same index) whose shared
    text columns (the keys) differ at some position: only a join matches their rows."""
    if len(df_a) != len(df_b) or not df_a.index.equals(df_b.index):
        return None
    keys = [c for c in _text_columns(df_a) if c in set(_text_columns(df_b))]
    if not keys:
        return None
    left, right = df_a[keys].astype(str).to_numpy(), df_b[keys].astype(str).to_numpy()
    differ = (left != right).any(axis=1)
    if not differ.any():
        return None
    row = int(differ.argmax())
    return Misaligned(a, b, tuple(keys), row, tuple(left[row]), tuple(right[row]))
