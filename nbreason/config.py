"""Run configuration and where it comes from.

Precedence, lowest to highest (later wins):
  1. the defaults below
  2. the config file: $NBREASON_CONFIG, else ~/.config/nbreason/config.toml
  3. environment variables NBREASON_<FIELD> (e.g. NBREASON_MODEL, NBREASON_MAX_STEPS)
  4. explicit options (CLI flags, %%reason options, traitlets %config)

The API key is also read from OPENAI_API_KEY when NBREASON_API_KEY is unset. Keys never
reach the sandbox and are removed from anything written to a trace.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

#: Model spec meaning "the embedded offline model unless an endpoint is configured".
AUTO_MODEL = "auto"
SELF_CHECK_MODES = ("auto", "off", "verify", "recompute")


@dataclass
class RunConfig:
    # model
    model: str = AUTO_MODEL  # "auto", "local", "local-small", "local:/path.gguf" or an API model name
    base_url: str | None = None
    api_key: str | None = None
    temperature: float = 0.0
    seed: int | None = None
    max_tokens: int = 1024  # per model call
    protocol: str = "auto"  # auto | tools | text
    request_timeout: float = 120.0
    max_retries: int = 4
    # sandbox
    sandbox: str = "local"  # local | e2b
    exec_timeout: float = 60.0  # seconds per code execution
    network: bool = True  # sandbox network access
    memory_mb: int = 4096  # sandbox address-space limit
    confine: bool = False  # local sandbox: own PID namespace, read-only file system outside its folder
    workdir: str | None = None  # sandbox working folder; a fresh temp folder when unset
    # budget
    max_steps: int = 8
    max_total_tokens: int | None = 40_000
    max_seconds: float | None = 600.0
    max_cost: float | None = None
    # reward / stopping
    reward_threshold: float = 0.7
    answer_from_output: bool = False  # code printing one short line proposes it as the answer (on for embedded models)
    backtrack: bool = True  # a stalled run goes back to its last good step once and tries another way
    # Before accepting an answer: "verify" = the model writes a check that must print True;
    # "recompute" = solve again from scratch until two solutions agree; "auto" = recompute for
    # the embedded models in a one-attempt run, else off (see policy/stopping.py).
    self_check: str = "auto"  # auto | off | verify | recompute
    recompute_max: int = 3  # recompute: further independent solutions, at most
    answer_type: str = "any"  # any | number: what a well-formed final answer looks like
    # test-time scaling: several attempts, each a whole loop in its own sandbox
    attempts: int = 1
    strategy: str = "adaptive"  # vote | wvote | adaptive (stop once the leading answer is settled)
    confidence: float = 0.95  # adaptive: P(leader is the majority) needed to stop sampling
    parallel: int = 2  # attempts running at once
    # output
    trace: str | None = None
    context_chars: int = 12_000  # history kept verbatim for the model (see history.py)
    observation_chars: int = 2_000  # one observation, as the model sees it

    def __post_init__(self) -> None:
        # self_check was a true/false setting: true still means "verify".
        mode = {True: "verify", False: "off"}.get(self.self_check, self.self_check)
        mode = {"true": "verify", "yes": "verify", "on": "verify", "false": "off", "no": "off",
                "none": "off"}.get(str(mode).strip().lower(), str(mode).strip().lower())
        if mode not in SELF_CHECK_MODES:
            raise ValueError(f"self_check: expected one of {', '.join(SELF_CHECK_MODES)}, got {self.self_check!r}")
        self.self_check = mode
        if self.recompute_max < 1:
            raise ValueError(f"recompute_max: expected at least 1, got {self.recompute_max}")

    def replace(self, **changes: Any) -> "RunConfig":
        changes = {k: v for k, v in changes.items() if v is not None}
        unknown = set(changes) - {f.name for f in fields(self)}
        if unknown:
            raise ValueError(f"unknown option(s): {', '.join(sorted(unknown))}")
        return dataclasses.replace(self, **changes)

    def public(self) -> dict:
        """The configuration without secrets, for traces and headers."""
        data = dataclasses.asdict(self)
        data["api_key"] = "***" if self.api_key else None
        return data


def _coerce(name: str, raw: Any) -> Any:
    target = {f.name: f for f in fields(RunConfig)}[name]
    default = target.default
    if not isinstance(raw, str):
        return raw
    text = raw.strip()
    if text.lower() in ("", "none", "null"):
        return None
    if isinstance(default, bool):
        if text.lower() in ("1", "true", "yes", "on"):
            return True
        if text.lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"{name}: expected true/false, got {raw!r}")
    annotation = str(target.type)
    try:
        if isinstance(default, int) or annotation.startswith("int"):
            return int(text)
        if isinstance(default, float) or annotation.startswith("float"):
            return float(text)
    except ValueError:
        raise ValueError(f"{name}: expected a number, got {raw!r}") from None
    return text


def config_file_path(env: dict | None = None) -> Path:
    env = os.environ if env is None else env
    if env.get("NBREASON_CONFIG"):
        return Path(env["NBREASON_CONFIG"]).expanduser()
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "nbreason" / "config.toml"


def from_file(path: Path) -> dict:
    if not path.is_file():
        return {}
    with open(path, "rb") as fh:
        data = tomllib.load(fh)
    known = {f.name for f in fields(RunConfig)}
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"{path}: unknown setting(s) {', '.join(sorted(unknown))}")
    return {k: _coerce(k, v) for k, v in data.items()}


def from_env(env: dict | None = None) -> dict:
    env = os.environ if env is None else env
    values = {}
    for f in fields(RunConfig):
        key = f"NBREASON_{f.name.upper()}"
        if key in env:
            values[f.name] = _coerce(f.name, env[key])
    if "api_key" not in values and env.get("OPENAI_API_KEY"):
        values["api_key"] = env["OPENAI_API_KEY"]
    if "base_url" not in values and env.get("OPENAI_BASE_URL"):
        values["base_url"] = env["OPENAI_BASE_URL"]
    return values


def load(overrides: dict | None = None, env: dict | None = None) -> RunConfig:
    """Build the effective configuration (see the module docstring for the order)."""
    config = RunConfig()
    config = config.replace(**from_file(config_file_path(env)))
    config = config.replace(**from_env(env))
    return config.replace(**{k: v for k, v in (overrides or {}).items() if v is not None})


def field_help() -> dict[str, tuple[Any, str]]:
    """Each setting with its default and environment variable, for docs and `--help`."""
    return {f.name: (f.default, f"NBREASON_{f.name.upper()}") for f in fields(RunConfig)}
