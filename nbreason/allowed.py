"""What values a setting accepts, and the one-line message when it gets something else.

Every RunConfig field declares an `Allowed` (see config.py), and so do the options that are
not settings (`nbreason bench --limit`, `%reason_replay --speed`, `nbreason replay --delay`).
The one declaration parses text (environment, config file, `%reason_config`), checks typed
values (flags, magic options, the Python API) and describes itself for messages and docs, so
flags can be generated from it too.

    Allowed(int, low=1).check(0, "--max-steps")
    ConfigError: --max-steps: expected an integer >= 1, got 0
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .redact import redact_urls

_KINDS = {bool: "true or false", int: "an integer", float: "a number", str: "a text"}
_NONE_WORDS = ("", "none", "null")
_TRUE_WORDS = ("1", "true", "yes", "on")
_FALSE_WORDS = ("0", "false", "no", "off")
_SHOWN_CHARS = 60  # a value quoted in a message is cut to this


class ConfigError(ValueError):
    """A value outside what its setting accepts, or a configuration source that cannot be used.
    The message is one line and names where the value came from (flag, variable, file, field)."""


@dataclass(frozen=True)
class Allowed:
    """The values one setting accepts."""

    kind: type  # bool, int, float or str
    low: float | None = None  # smallest value allowed
    high: float | None = None  # largest value allowed
    above: bool = False  # the value must be greater than `low`, not equal to it
    choices: tuple[str, ...] = ()  # for text: one of these (case-insensitive)
    aliases: tuple[tuple[str, str], ...] = ()  # older spellings of choices: (("true", "verify"), ...)
    unset: str | None = None  # None is allowed and means this ("no limit"); None here: a value is required
    url: bool = False  # an http:// or https:// URL
    secret: bool = False  # never quote the value in a message
    path: bool = False  # a file or folder: its name may be bytes that are not UTF-8, as the OS allows
    what: str = ""  # what the value is, when "a text" says too little: "a model name", "a file path"

    def describe(self) -> str:
        """'an integer >= 1', 'a number from 0 to 2, or none (no limit)', 'one of auto, tools, text'."""
        if self.choices:
            text = f"one of {', '.join(self.choices)}"
        elif self.url:
            text = "an http:// or https:// URL"
        else:
            text = self.what or _KINDS[self.kind]
            if self.low is not None and self.high is not None and not self.above:
                text += f" from {_number(self.low)} to {_number(self.high)}"
            elif self.low is not None and self.high is not None:
                text += f" > {_number(self.low)} and <= {_number(self.high)}"
            elif self.low is not None:
                text += f" {'>' if self.above else '>='} {_number(self.low)}"
            elif self.high is not None:
                text += f" <= {_number(self.high)}"
        return text + (f", or none ({self.unset})" if self.unset is not None else "")

    def check(self, value: Any, label: str) -> Any:
        """The value, normalised (text parsed, ints for floats made floats, choices lower-cased),
        or ConfigError naming `label` (a flag, a variable, a field)."""
        if isinstance(value, str) and self.kind is not str:
            value = self._parse(value, label)
        if value is None or (self.kind is str and isinstance(value, str) and not value.strip()):
            if self.unset is None:
                raise self.error(value, label)
            return None
        if self.kind is bool:
            if not isinstance(value, bool):
                raise self.error(value, label)
            return value
        if self.kind in (int, float):
            return self._number(value, label)
        if self.choices:
            if not isinstance(value, (str, bool)):
                raise self.error(value, label)
            choice = str(value).strip().lower()
            choice = dict(self.aliases).get(choice, choice)
            if choice not in self.choices:
                raise self.error(value, label)
            return choice
        if not isinstance(value, str):
            raise self.error(value, label)
        if not self.path and any("\ud800" <= c <= "\udfff" for c in value):  # bytes that were not UTF-8 (argv)
            raise ConfigError(f"{label}: not UTF-8 text")
        if self.url:
            try:  # a bad port or bracket is a ValueError of urllib's, naming no setting
                parts = urlsplit(value.strip())
                ok = parts.scheme.lower() in ("http", "https") and bool(parts.hostname) and parts.port != 0
            except ValueError:
                ok = False
            if not ok or _unprintable(value.strip()):
                raise self.error(value, label)
            return value.strip()
        if self.secret:
            # A key read with its line end (a .env file with CRLF, a pasted key) is refused by the HTTP
            # library, which then quotes it escaped, where no redactor looks for it.
            value = value.strip()
            if _unprintable(value) or any(c.isspace() for c in value):
                raise self.error(value, label)
        elif "\0" in value:  # a path or name: the OS refuses it later, with a traceback
            raise self.error(value, label)
        return value

    def from_text(self, text: str, label: str) -> Any:
        """`check` for text from a variable or a file, where none / null / empty mean None."""
        if text.strip().lower() in _NONE_WORDS and text.strip().lower() not in dict(self.aliases):
            return self.check(None, label)
        return self.check(text.strip() if self.kind is not str else text, label)

    def error(self, value: Any, label: str) -> ConfigError:
        return ConfigError(f"{label}: expected {self.describe()}, got {self._show(value)}")

    def _parse(self, text: str, label: str) -> Any:
        word = text.strip().lower()
        if word in _NONE_WORDS:
            return None
        if self.kind is bool:
            if word in _TRUE_WORDS:
                return True
            if word in _FALSE_WORDS:
                return False
            raise self.error(text, label)
        try:
            return self.kind(word)
        except ValueError:
            raise self.error(text, label) from None

    def _number(self, value: Any, label: str) -> int | float:
        # bool is an int to Python, never a count or an amount to a user
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(value, label)
        if self.kind is int and not isinstance(value, int):
            raise self.error(value, label)
        if self.kind is float:
            value = float(value)
            if not math.isfinite(value):
                raise self.error(value, label)
        too_low = self.low is not None and (value <= self.low if self.above else value < self.low)
        too_high = self.high is not None and value > self.high
        if too_low or too_high:
            raise self.error(value, label)
        return value

    def _show(self, value: Any) -> str:
        if value is None:
            return "none"
        if self.secret:
            return "'***'"
        if isinstance(value, str) and self.url and "@" in value and redact_urls(value) == value:
            # A refused URL `redact_urls` cannot read ("admin:pw@host/v1", "https//admin:pw@host"):
            # all before its last @ is hidden.
            return repr("***@" + value.rsplit("@", 1)[1][:_SHOWN_CHARS])
        if isinstance(value, str):
            text = redact_urls(value)
            return repr(text if len(text) <= _SHOWN_CHARS else text[:_SHOWN_CHARS] + "…")
        return repr(value) if not isinstance(value, float) else _number(value)


def _unprintable(text: str) -> bool:
    return any(ord(c) < 32 or ord(c) == 127 for c in text)


def _number(x: float) -> str:
    if isinstance(x, float) and math.isfinite(x) and x.is_integer() and abs(x) < 1e16:
        return str(int(x))
    return str(x)
