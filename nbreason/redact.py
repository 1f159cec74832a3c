"""Keeping secrets out of everything a run shows or saves.

The runner passes every event through one `Redactor` before any subscriber (console, widgets,
trace, RunResult) sees it. It replaces with `***`:

* the known secrets: the configured API key, the keys in OPENAI_API_KEY / NBREASON_API_KEY /
  E2B_API_KEY, and the credentials inside the base URL (user, password, `?api-key=` …), also
  percent-decoded, wherever they appear (a server echoing "Incorrect API key provided: sk-…");
* any credential inside any URL: `scheme://user:password@host` and the values of query
  parameters named like keys, tokens, signatures or passwords (`?key=`, `?api-key=`,
  `?access_token=`, `?sig=`, `X-Amz-Signature=` …).

A known secret shorter than MIN_SECRET_CHARS is not searched for in text: placeholder keys
for local servers ("local", "EMPTY", "k") are ordinary words, and replacing them everywhere
would mangle the trace (code, answers, the word "local" in the config) while hiding nothing
of value. Such keys are still masked where structure marks them: the config's `api_key` and
URL credentials. Streamed pieces (ModelDelta) are redacted one by one, so a secret split
across two pieces can show in the live stream; the ModelCall that follows, which the trace
keeps, carries the whole text, redacted.
"""

from __future__ import annotations

import dataclasses
import os
import re
from typing import Any, Iterable, Mapping
from urllib.parse import parse_qsl, quote, unquote, urlsplit

MASK = "***"
MIN_SECRET_CHARS = 8
SECRET_VARIABLES = ("OPENAI_API_KEY", "NBREASON_API_KEY", "E2B_API_KEY")

# scheme://userinfo@ : userinfo stops at what cannot be in it (or would end a quoted URL)
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@?#\"'<>`]+@")
# a query parameter whose last word names a credential: key, api-key, access_token, X-Amz-Signature, ...
_SECRET_NAME = r"(?:[a-z0-9]+[-_.])*(?:key|apikey|token|secret|password|passwd|pwd|sig|signature|credential|auth)"
_QUERY = re.compile(rf"(?i)([?&;]{_SECRET_NAME}=)[^&#\s\"'<>`,)]+")
_SECRET_PARAM = re.compile(rf"(?i)^{_SECRET_NAME}$")


def redact_urls(text: str) -> str:
    """Mask the credentials inside URLs: `https://***@host/v1?api-key=***`."""
    if "://" in text and "@" in text:
        text = _USERINFO.sub(rf"\1{MASK}@", text)
    if "=" in text:
        text = _QUERY.sub(rf"\1{MASK}", text)
    return text


def url_secrets(url: str | None) -> list[str]:
    """The credentials inside one URL: user, password, and the values of credential parameters."""
    if not url:
        return []
    try:
        parts = urlsplit(url)
        found = [parts.username, parts.password]
    except ValueError:  # a malformed URL (bad port, brackets): take nothing from it
        return []
    found += [value for name, value in parse_qsl(parts.query, keep_blank_values=False)
              if _SECRET_PARAM.match(name)]
    return [s for s in found if s]


class Redactor:
    """Masks secrets in text, in nested data and in events."""

    def __init__(self, secrets: Iterable[str | None] = ()):
        forms = set()
        for secret in secrets:
            if secret:  # as given, and as a URL carries it (percent-encoded) or a server echoes it (decoded),
                # without the line end it was read with, and escaped as an error quotes bytes or a repr
                forms.update({secret, unquote(secret), quote(unquote(secret), safe=""), secret.strip(),
                              repr(secret)[1:-1]})
        # longest first, so a secret containing another is masked whole
        self.secrets = tuple(sorted((s for s in forms if len(s) >= MIN_SECRET_CHARS), key=len, reverse=True))

    @classmethod
    def for_config(cls, config: Any, env: Mapping[str, str] | None = None) -> "Redactor":
        env = os.environ if env is None else env
        return cls([getattr(config, "api_key", None), *(env.get(name) for name in SECRET_VARIABLES),
                    *url_secrets(getattr(config, "base_url", None))])

    def text(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return redact_urls(text)

    def value(self, value: Any) -> Any:
        """`value` with every string inside it redacted: dicts (keys too), lists, tuples and
        dataclasses, recursively. Unchanged parts are returned as they are, not copied."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            items = [(self.value(k), self.value(v)) for k, v in value.items()]
            if all(k is k0 and v is v0 for (k, v), (k0, v0) in zip(items, value.items())):
                return value
            return dict(items)
        if isinstance(value, (list, tuple)):
            items = [self.value(v) for v in value]
            if all(a is b for a, b in zip(items, value)):
                return value
            return type(value)(items) if isinstance(value, list) else tuple(items)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            changes = {}
            for f in dataclasses.fields(value):
                if f.init:
                    old = getattr(value, f.name)
                    new = self.value(old)
                    if new is not old:
                        changes[f.name] = new
            return dataclasses.replace(value, **changes) if changes else value
        return value

    event = value  # an Event is a dataclass: the same walk
