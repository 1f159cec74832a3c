"""The one table of flags for run settings, and the surfaces it generates.

Each row names a flag, the RunConfig field it sets, a short help, and where it is offered:
`nbreason run`, the `%%reason` magic, `nbreason bench`. The parsers of all three are built
from this table (argparse for the commands; IPython's magic_arguments, which is argparse too,
for the magic), so a flag means the same thing, takes the same values and says the same help
everywhere. What a value may be comes from the field's declaration (nbreason.allowed).

Every flag defaults to "not given" (None): a setting nobody passes on the command line comes
from the config file, the environment or the built-in default, in every command.
A true/false setting gets both spellings, `--network` / `--no-network`.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

from .config import RunConfig, allowed, field_help, load
from .redact import redact_urls

RUN, MAGIC, BENCH = "run", "magic", "bench"
SURFACES = (RUN, MAGIC, BENCH)
_ALL = frozenset(SURFACES)
_COMMANDS = frozenset({RUN, BENCH})  # not in a notebook cell, which is saved with the notebook
_RUNS = frozenset({RUN, MAGIC})  # one question at a time, not a benchmark


@dataclass(frozen=True)
class Flag:
    name: str  # "--max-steps"; a true/false setting also gets "--no-..."
    field: str  # the RunConfig field it sets
    help: str
    surfaces: frozenset[str] = _ALL
    aliases: tuple[str, ...] = ()  # other spellings that still work ("--exec-timeout")
    metavar: str | None = None  # None: from the kind ("N", "X") or the choices ("{a,b}")

    @property
    def option_strings(self) -> tuple[str, ...]:
        if allowed(self.field).kind is bool:
            return (self.name, "--no-" + self.name[2:], *self.aliases)
        return (self.name, *self.aliases)


FLAGS: tuple[Flag, ...] = (
    # model
    Flag("--model", "model", "auto (embedded unless a base URL or an API key is set), local, local-small, "
                             "local:/path/file.gguf, or an API model name", metavar="NAME"),
    Flag("--base-url", "base_url", "OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1", metavar="URL"),
    Flag("--api-key", "api_key", "API key (prefer the environment: NBREASON_API_KEY or OPENAI_API_KEY)",
         _COMMANDS, metavar="KEY"),
    Flag("--temperature", "temperature", "sampling temperature"),
    Flag("--seed", "seed", "sampling seed, where the server supports it"),
    Flag("--max-call-tokens", "max_tokens", "completion tokens per model call"),
    Flag("--protocol", "protocol", "how the model acts: tools (native tool calls), text (fenced code), or auto "
                                   "(text for the embedded models, else tools)"),
    # sandbox
    Flag("--sandbox", "sandbox", "where code runs: local (a kernel on this machine) or e2b"),
    Flag("--timeout", "exec_timeout", "seconds allowed for one code execution", aliases=("--exec-timeout",),
         metavar="S"),
    Flag("--memory-mb", "memory_mb", "sandbox memory limit (address space), MB"),
    Flag("--network", "network", "sandbox network access"),
    Flag("--confine", "confine", "local sandbox: hide other processes and the home folder, read-only file "
                                 "system outside the sandbox folder"),
    # budget
    Flag("--max-steps", "max_steps", "budget: steps"),
    Flag("--max-tokens", "max_total_tokens", "budget: total prompt + completion tokens over the run"),
    Flag("--max-seconds", "max_seconds", "budget: wall-clock seconds", metavar="S"),
    Flag("--max-cost", "max_cost", "budget: US dollars (needs a known price)", metavar="USD"),
    # accepting an answer
    Flag("--threshold", "reward_threshold", "reward needed to accept an answer"),
    Flag("--answer-type", "answer_type", "what a final answer looks like"),
    Flag("--self-check", "self_check", "before accepting an answer: methods = solve again by other routes chosen "
                                       "for the question until two route families agree; verify = the model "
                                       "writes a check that must print True; recompute = the same route again, "
                                       "sampled, until two solutions agree; auto = methods for the embedded "
                                       "models with one attempt, else off"),
    Flag("--backtrack", "backtrack", "a stalled run goes back to its last good step once and tries another way"),
    # several attempts
    Flag("--attempts", "attempts", "several attempts, each a whole loop in its own sandbox, then a vote", _RUNS),
    Flag("--strategy", "strategy", "with --attempts: vote, wvote (reward-weighted) or adaptive (stop once settled)",
         _RUNS),
    Flag("--confidence", "confidence", "adaptive: how sure the leading answer must be to stop sampling"),
    Flag("--parallel", "parallel", "attempts running at once (the embedded server starts with this many slots; "
                                   "a running one keeps its own)"),
    # output
    Flag("--trace", "trace", "write the run's events to this JSONL file as they happen", _RUNS, metavar="FILE"),
)


def flags_for(surface: str) -> tuple[Flag, ...]:
    if surface not in SURFACES:
        raise ValueError(f"unknown surface {surface!r}: one of {', '.join(SURFACES)}")
    return tuple(f for f in FLAGS if surface in f.surfaces)


def flag_for(field: str) -> Flag:
    return next(f for f in FLAGS if f.field == field)


def option_strings(surface: str) -> set[str]:
    """Every flag a surface accepts for run settings."""
    return {s for f in flags_for(surface) for s in f.option_strings}


def effective(env=None) -> RunConfig | None:
    """The settings a command runs with when no flag is given, for help; None when they cannot
    be read (the command itself then says why)."""
    try:
        return load(env=env)
    except ValueError:
        return None


def help_text(flag: Flag, current: RunConfig | None = None) -> str:
    """'budget: steps; an integer >= 1 [default 8; env NBREASON_MAX_STEPS]' (escaped for argparse)."""
    spec = allowed(flag.field)
    default, env = field_help()[flag.field]
    if current is not None:
        default = getattr(current, flag.field)
    text = flag.help
    if spec.kind is not bool and not spec.choices and (spec.kind is not str or spec.unset):
        text += f"; {spec.describe()}"  # choices are in the metavar: {a,b}
    shown = "none" if default is None else str(default).lower() if isinstance(default, bool) else default
    if spec.secret and default:
        shown = "***"
    elif spec.url and default:  # help is printed, and `%%reason?` saved in the notebook
        shown = redact_urls(str(default))
    return f"{text} [default {shown}; env {env}]".replace("%", "%%")


class _Store(argparse.Action):
    """Stores the value and remembers the spelling used, so a message names the flag as typed."""

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, values)
        _spellings(namespace)[self.dest] = option_string


class _Switch(argparse.BooleanOptionalAction):
    def __call__(self, parser, namespace, values, option_string=None):
        super().__call__(parser, namespace, values, option_string)
        _spellings(namespace)[self.dest] = option_string


def _spellings(namespace) -> dict:
    if "_flag_spellings" not in vars(namespace):
        namespace._flag_spellings = {}
    return namespace._flag_spellings


def value_type(field: str):
    """argparse `type` for a setting's flag: its kind, plus the word none where the setting has
    a none (`--max-seconds none`: no limit). Ranges and choices are checked by config.load(),
    which names the flag in its message."""
    spec = allowed(field)
    if spec.kind is str or spec.unset is None:
        return spec.kind

    def parse(text: str):
        return text if text.strip().lower() in ("none", "null") else spec.kind(text)  # "none": load() reads it

    parse.__name__ = spec.kind.__name__  # argparse says "invalid int value: 'lots'"
    return parse


def _metavar(flag: Flag) -> str:
    spec = allowed(flag.field)
    if flag.metavar:
        return flag.metavar
    if spec.choices:
        return "{" + ",".join(spec.choices) + "}"
    return {int: "N", float: "X"}.get(spec.kind, "TEXT")


def add_flags(parser, surface: str, current: RunConfig | None = None) -> None:
    """Add a surface's setting flags to an argparse parser or group; each defaults to None."""
    for flag in flags_for(surface):
        if allowed(flag.field).kind is bool:
            parser.add_argument(flag.name, *flag.aliases, dest=flag.field, action=_Switch, default=None,
                                help=help_text(flag, current))
        else:
            parser.add_argument(*flag.option_strings, dest=flag.field, action=_Store, type=value_type(flag.field),
                                default=None, metavar=_metavar(flag), help=help_text(flag, current))


def given(args: argparse.Namespace, surface: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The settings the flags gave (not given: left out) and, for messages, the flag each came from."""
    spellings = vars(args).get("_flag_spellings", {})
    values, labels = {}, {}
    for flag in flags_for(surface):
        value = getattr(args, flag.field, None)
        if value is not None:
            values[flag.field] = value
            labels[flag.field] = spellings.get(flag.field) or flag.name
    return values, labels
