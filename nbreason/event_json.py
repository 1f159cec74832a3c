"""Events read back from their JSON (the trace reader's half of `Event.to_json`): typed again,
nested records included, and refused when a field has the wrong type, so a damaged or
hand-edited trace cannot reach the views."""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from typing import Any

from .events import EVENT_TYPES, Event, clean_strings

# The largest integer a number field may hold. JSON integers have no limit and Python reads them
# exactly, but no count, time or price comes near this one: a float cannot hold 10**400
# (OverflowError wherever it is shown as one), and sums of 4,300-digit counts cannot be printed.
MAX_INTEGER = 2**63


def event_from_json(data: dict) -> Event:
    """Rebuild a typed event from `Event.to_json()` output (used by the trace reader).

    ValueError when `data` is not an event this version knows: no or an unknown `kind`, or a
    field of the wrong type (so a damaged or hand-edited trace cannot reach the views).
    Fields this version does not know are ignored. Lone surrogates (JSON's "\\ud800", valid in a
    file anyone can write) are replaced: no view, export or terminal could encode them."""
    if not isinstance(data, dict):
        raise ValueError(f"an event is a JSON object, not {type(data).__name__}")
    try:
        data = clean_strings(data)
    except RecursionError:  # nested as deep as the JSON decoder allows
        raise ValueError("an event nested too deep to read") from None
    kind = data.get("kind")
    cls = EVENT_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ValueError(f"unknown event kind {kind!r}")
    return _build(cls, {k: v for k, v in data.items() if k != "kind"})


def _build(cls: type, data: dict) -> Any:
    hints = _hints(cls)
    forms = {f.name: f.metadata["json"] for f in dataclasses.fields(cls) if "json" in f.metadata}
    kwargs = {}
    for name, value in data.items():
        if name not in hints:
            continue
        if name in forms:
            kwargs[name] = forms[name][1](value)  # raises ValueError on a wrong shape
            continue
        hint = hints[name]
        if not _conforms(value, hint):
            raise ValueError(f"{cls.__name__}.{name}: unexpected {type(value).__name__} {str(value)[:40]!r}")
        nested = _dataclass_in(hint)
        if nested is not None and isinstance(value, dict):
            value = _read(nested, value)
        elif nested is not None and isinstance(value, list):
            value = [_read(nested, item) for item in value]
        kwargs[name] = value
    try:
        return cls(**kwargs)
    except TypeError as exc:  # a required field is missing
        raise ValueError(f"{cls.__name__}: {exc}") from None


def _read(cls: type, data: dict) -> Any:
    """A nested record: by its own `from_json` where it has one (it knows its older forms)."""
    reader = getattr(cls, "from_json", None)
    return reader(data) if reader is not None else _build(cls, data)


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    resolved = typing.get_type_hints(cls)
    return {f.name: resolved[f.name] for f in dataclasses.fields(cls) if f.init}


def _dataclass_in(hint: Any) -> type | None:
    """Usage for `usage: Usage`, Signal for `signals: list[Signal]`, else None."""
    for candidate in (hint, *typing.get_args(hint)):
        if dataclasses.is_dataclass(candidate):
            return candidate
    return None


def _in_range(number: int | float) -> bool:
    """An int no larger than MAX_INTEGER either way (floats, inf and nan among them, always are)."""
    return isinstance(number, float) or -MAX_INTEGER <= number <= MAX_INTEGER


def _conforms(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_conforms(value, arg) for arg in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is Any:
        return True
    if dataclasses.is_dataclass(hint):
        return isinstance(value, dict)
    if origin is list or hint is list:
        args = typing.get_args(hint)
        return isinstance(value, list) and (not args or all(_conforms(v, args[0]) for v in value))
    if origin is dict or hint is dict:
        return isinstance(value, dict)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and _in_range(value)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool) and _in_range(value)
    if isinstance(hint, type):
        return isinstance(value, hint)
    return True
