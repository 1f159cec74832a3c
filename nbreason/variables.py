"""Passing the user's variables (`--with df`) into the sandbox.

Objects travel as pickles written into the sandbox's working folder and loaded there, so
DataFrames, arrays and plain objects arrive intact. The model gets a short description of
each one instead of the data itself (see nbreason.describe): shape, dtypes, missing values,
category spellings, ranges and a few rows, so its first program can use the object as it is.
"""

from __future__ import annotations

import pickle

from . import prompts
from .describe import describe as describe_value


class VariableError(ValueError):
    """A variable cannot be passed to the sandbox; the message says which and why."""


def pickle_name(name: str) -> str:
    """The file, in the sandbox's working folder, that holds the passed variable `name`."""
    return f".nbreason_{name}.pkl"


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
    """Code that defines `name` from its pickle. It runs again after the model's code (after a
    backtrack), so it relies on nothing that code may have
    rebound in the session (`open`, `pickle`, `_f`): imports inside a function, no names left."""
    return (f"def _nbreason_load():\n    import pathlib, pickle\n"
            f"    return pickle.loads(pathlib.Path({path!r}).read_bytes())\n"
            f"{name} = _nbreason_load()\ndel _nbreason_load")


def describe(name: str, value: object) -> str:
    """What the model is told about one variable (see nbreason.describe)."""
    return describe_value(name, value)


def context(descriptions: list[str], names: list[str]) -> str:
    """The text the question message carries: that the variables are already loaded, then
    each one's description."""
    return "\n".join([prompts.variables_note(names), *descriptions]) if names else ""
