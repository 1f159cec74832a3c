"""Run configuration and where it comes from.

Precedence, lowest to highest (later wins):
  1. the defaults below
  2. the config file: $NBREASON_CONFIG, else ~/.config/nbreason/config.toml
  3. environment variables NBREASON_<FIELD> (e.g. NBREASON_MODEL, NBREASON_MAX_STEPS)
  4. explicit options (CLI flags, %%reason options, traitlets %config)

The API key is also read from OPENAI_API_KEY when NBREASON_API_KEY is unset. Keys never
reach the sandbox and are removed from every event (nbreason.redact).

Every field declares the values it accepts (`setting(default, Allowed(...))`); RunConfig checks
them itself, so a bad value fails the same way from any source, with one line naming the source:
"--max-steps: expected an integer >= 1, got 0", "NBREASON_TEMPERATURE: …", "max_cost in FILE: …".
`allowed(name)` reads a field's declaration back (for flags, help and docs).
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

from .allowed import Allowed, ConfigError
from .redact import redact_urls

#: Model spec meaning "the embedded offline model unless an endpoint is configured".
AUTO_MODEL = "auto"
SELF_CHECK_MODES = ("auto", "off", "methods", "verify", "recompute")
# self_check was a true/false setting: true still means "verify"
SELF_CHECK_ALIASES = (("true", "verify"), ("yes", "verify"), ("on", "verify"), ("false", "off"), ("no", "off"),
                      ("none", "off"))
PROTOCOLS = ("auto", "tools", "text")
SANDBOXES = ("local", "e2b")
ANSWER_TYPES = ("any", "number")
STRATEGIES = ("vote", "wvote", "adaptive")

__all__ = ["AUTO_MODEL", "Allowed", "ConfigError", "RunConfig", "allowed", "load"]


MAX_ATTEMPTS = 64  # each attempt is a whole run with its own sandbox: more would only exhaust the machine


def setting(default: Any, allowed: Allowed) -> Any:
    """A RunConfig field with the values it accepts (read back with `allowed(name)`)."""
    return field(default=default, metadata={"allowed": allowed})


@dataclass
class RunConfig:
    """Every setting of a run. Each field declares the values it accepts; a value outside them
    raises ConfigError (a ValueError) with a one-line message naming the field."""

    # model
    # "auto", "local", "local-small", "local:/path.gguf" or an API model name
    model: str = setting(AUTO_MODEL, Allowed(str, what="a model name"))
    base_url: str | None = setting(None, Allowed(str, url=True, unset="the default endpoint"))
    api_key: str | None = setting(None, Allowed(str, secret=True, what="a key", unset="no key"))
    temperature: float = setting(0.0, Allowed(float, low=0, high=2))
    seed: int | None = setting(None, Allowed(int, unset="no seed"))
    max_tokens: int = setting(1024, Allowed(int, low=1))  # per model call
    protocol: str = setting("auto", Allowed(str, choices=PROTOCOLS))
    request_timeout: float = setting(120.0, Allowed(float, low=0, above=True))
    max_retries: int = setting(4, Allowed(int, low=0, high=100))
    # sandbox
    sandbox: str = setting("local", Allowed(str, choices=SANDBOXES))
    exec_timeout: float = setting(60.0, Allowed(float, low=0, above=True))  # seconds per code execution
    network: bool = setting(True, Allowed(bool))  # sandbox network access
    # sandbox address-space limit; an idle kernel already reserves about 0.8 GB (docs/sandboxes-local.md)
    memory_mb: int = setting(4096, Allowed(int, low=1024, high=2**24))  # at most 16 TB: a limit the OS takes
    # local sandbox: own PID namespace, read-only file system outside its folder
    confine: bool = setting(False, Allowed(bool))
    workdir: str | None = setting(None, Allowed(str, what="a folder", path=True, unset="a fresh temporary folder"))
    # budget
    max_steps: int = setting(8, Allowed(int, low=1))
    max_total_tokens: int | None = setting(40_000, Allowed(int, low=1, unset="no limit"))
    max_seconds: float | None = setting(600.0, Allowed(float, low=0, above=True, unset="no limit"))
    max_cost: float | None = setting(None, Allowed(float, low=0, above=True, unset="no limit"))
    # reward / stopping
    reward_threshold: float = setting(0.7, Allowed(float, low=0, high=1))
    # code printing one short line proposes it as the answer (on for embedded models)
    answer_from_output: bool = setting(False, Allowed(bool))
    # a stalled run goes back to its last good step once and tries another way
    backtrack: bool = setting(True, Allowed(bool))
    # Before accepting an answer: "methods" = solve it again by other routes (prose, simulation,
    # enumeration, exact arithmetic, a quantities table) until two route families agree;
    # "verify" = the model writes a check that must print True; "recompute" = solve again by the
    # same route, sampled, until two solutions agree; "auto" = methods for the embedded models in a
    # one-attempt run, else off (see policy/stopping.py).
    self_check: str = setting("auto", Allowed(str, choices=SELF_CHECK_MODES, aliases=SELF_CHECK_ALIASES))
    recompute_max: int = setting(4, Allowed(int, low=1))  # methods / recompute: further solutions, at most
    answer_type: str = setting("any", Allowed(str, choices=ANSWER_TYPES))  # what a well-formed final answer looks like
    # test-time scaling: several attempts, each a whole loop in its own sandbox
    attempts: int = setting(1, Allowed(int, low=1, high=MAX_ATTEMPTS))
    # vote | wvote | adaptive (stop once the leading answer is settled)
    strategy: str = setting("adaptive", Allowed(str, choices=STRATEGIES))
    # adaptive: P(leader is the majority) needed to stop sampling
    confidence: float = setting(0.95, Allowed(float, low=0.5, high=1))
    parallel: int = setting(2, Allowed(int, low=1, high=MAX_ATTEMPTS))  # attempts running at once
    # output
    trace: str | None = setting(None, Allowed(str, what="a file path", path=True, unset="no trace"))
    context_chars: int = setting(12_000, Allowed(int, low=1_000))  # history kept verbatim for the model (history.py)
    observation_chars: int = setting(2_000, Allowed(int, low=200))  # one observation, as the model sees it

    def __post_init__(self) -> None:
        for f in fields(self):
            setattr(self, f.name, f.metadata["allowed"].check(getattr(self, f.name), f.name))

    def replace(self, **changes: Any) -> "RunConfig":
        """A copy with `changes`, checked like any value. None is a value here, the setting's
        "none" (`trace=None`: no trace, `max_seconds=None`: no limit), refused where a setting
        needs one; leave a field out to keep it."""
        unknown = set(changes) - {f.name for f in fields(self)}
        if unknown:
            raise ValueError(f"unknown option(s): {', '.join(sorted(unknown))}")
        return dataclasses.replace(self, **changes)

    def public(self) -> dict:
        """The configuration without secrets, for traces and headers."""
        data = dataclasses.asdict(self)
        data["api_key"] = "***" if self.api_key else None
        data["base_url"] = redact_urls(self.base_url) if self.base_url else None
        return data


def allowed(name: str) -> Allowed:
    """What setting `name` accepts."""
    try:
        return _ALLOWED[name]
    except KeyError:
        raise ValueError(f"unknown setting {name!r}") from None


_ALLOWED = {f.name: f.metadata["allowed"] for f in fields(RunConfig)}


def _coerce(name: str, raw: Any, label: str | None = None) -> Any:
    """A value for setting `name` from text (or as is), checked; ConfigError if it is not allowed."""
    spec = allowed(name)
    label = label or name
    return spec.from_text(raw, label) if isinstance(raw, str) else spec.check(raw, label)


def config_file_path(env: dict | None = None) -> Path:
    env = os.environ if env is None else env
    if env.get("NBREASON_CONFIG"):
        return Path(env["NBREASON_CONFIG"]).expanduser()
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "nbreason" / "config.toml"


def from_file(path: Path) -> dict:
    if not path.is_file():
        return {}
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file ({exc.strerror or exc})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:  # TOML is UTF-8
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    unknown = set(data) - set(_ALLOWED)
    if unknown:
        raise ConfigError(f"{path}: unknown setting(s) {', '.join(sorted(unknown))}")
    values = {}
    for name, value in data.items():
        label = f"{name} in {path}"
        spec = _ALLOWED[name]
        values[name] = spec.from_text(value, label) if isinstance(value, str) else spec.check(value, label)
    return values


def from_env(env: Mapping[str, str] | None = None) -> dict:
    env = os.environ if env is None else env
    values = {}
    for name, spec in _ALLOWED.items():
        key = f"NBREASON_{name.upper()}"
        if key in env:
            values[name] = spec.from_text(env[key], key)
    for name, key in (("api_key", "OPENAI_API_KEY"), ("base_url", "OPENAI_BASE_URL")):
        if name not in values and env.get(key):
            values[name] = _ALLOWED[name].from_text(env[key], key)
    return values


def load(overrides: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None, *,
         labels: Mapping[str, str] | None = None) -> RunConfig:
    """Build the effective configuration (see the module docstring for the order).

    In `overrides`, None means "not given". A value a setting does not accept raises
    ConfigError naming its source: the config file, the variable, or `labels[name]` (the
    flag or option it came from, e.g. "--max-steps"), else the setting's name."""
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    unknown = set(overrides) - set(_ALLOWED)
    if unknown:
        raise ValueError(f"unknown option(s): {', '.join(sorted(unknown))}")
    labels = labels or {}
    values = from_file(config_file_path(env))
    values.update(from_env(env))  # an explicit "none" here clears a limit: it is kept, not dropped
    for name, value in overrides.items():
        # text is read like a variable's: "none" is the setting's none (`--max-seconds none`, `--trace none`)
        values[name] = _coerce(name, value, labels.get(name, name))
    return RunConfig(**values)


def field_help() -> dict[str, tuple[Any, str]]:
    """Each setting with its default and environment variable, for docs and `--help`."""
    return {f.name: (f.default, f"NBREASON_{f.name.upper()}") for f in fields(RunConfig)}
