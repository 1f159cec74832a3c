"""Passing the user's variables (`--with df`) into the sandbox.

Objects travel as pickles written into the sandbox's working folder and loaded there, so
DataFrames, arrays and plain objects arrive intact. The model gets a short description of
each one (type, shape, columns) instead of the data itself.
"""

from __future__ import annotations

import pickle


class VariableError(ValueError):
    """A variable cannot be passed to the sandbox; the message says which and why."""


def dump(name: str, value: object) -> bytes:
    if not name.isidentifier():
        raise VariableError(f"{name!r} is not a valid Python name")
    try:
        return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:
        raise VariableError(
            f"--with {name}: a {type(value).__name__} cannot be sent to the sandbox ({type(exc).__name__}: {exc}). "
            "Pass plain data (DataFrame, array, list, dict, numbers, strings) instead."
        ) from None


def load_code(name: str, path: str) -> str:
    return f"import pickle as _p\nwith open({path!r}, 'rb') as _f:\n    {name} = _p.load(_f)\ndel _p, _f"


def describe(name: str, value: object) -> str:
    kind = type(value).__name__
    shape = getattr(value, "shape", None)
    columns = getattr(value, "columns", None)
    parts = [f"{name}: {type(value).__module__.split('.')[0]}.{kind}" if hasattr(value, "shape") else f"{name}: {kind}"]
    if shape is not None:
        parts.append(f"shape {tuple(shape)}")
    if columns is not None:
        cols = [str(c) for c in list(columns)[:20]]
        dtypes = getattr(value, "dtypes", None)
        if dtypes is not None:
            cols = [f"{c} ({dtypes.iloc[i]})" for i, c in enumerate(cols)]
        parts.append("columns " + ", ".join(cols) + (" …" if len(columns) > 20 else ""))
    elif isinstance(value, (list, tuple, dict, set)):
        parts.append(f"length {len(value)}")
        parts.append("e.g. " + repr(value)[:120])
    elif shape is None:
        parts.append(repr(value)[:120])
    return ", ".join(parts)
