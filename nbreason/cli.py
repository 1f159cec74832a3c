"""The `nbreason` command: run a question in the terminal, manage the embedded model, bench.

    nbreason run "How many primes are below 1000?"
    nbreason run --model gpt-4o-mini --base-url https://api.openai.com/v1 "..."
    nbreason model status
    nbreason bench --dataset gsm8k --limit 60
    nbreason replay run.jsonl
    nbreason export run.jsonl -o run.ipynb     (or run.html)

Every `run` option can also come from an environment variable or the config file; the
order is documented in nbreason.config (flags win).

Bad input is one line on stderr and exit code 2, never a traceback: an option outside its
range (checked by the setting's own declaration, nbreason.allowed), a question too long, a
trace another run is writing, a file that is not a trace. A run that ends in an error exits
with 1, a stopped one with 130.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys

from . import __version__
from .allowed import Allowed
from .config import allowed, config_file_path, field_help, load

RUN_OPTIONS = [
    # flag, setting, help (what the value may be comes from the setting: nbreason.allowed)
    ("--model", "model", "model: auto (embedded unless an endpoint is set), local, local-small, "
                          "local:/path/file.gguf, or an API model name"),
    ("--base-url", "base_url", "OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1"),
    ("--api-key", "api_key", "API key (prefer the environment: NBREASON_API_KEY or OPENAI_API_KEY)"),
    ("--temperature", "temperature", "sampling temperature"),
    ("--seed", "seed", "sampling seed, where the server supports it"),
    ("--max-call-tokens", "max_tokens", "completion tokens per model call"),
    ("--protocol", "protocol", "action protocol: auto, tools (native tool calls) or text (fenced code)"),
    ("--sandbox", "sandbox", "where code runs: local (a kernel on this machine) or e2b"),
    ("--timeout", "exec_timeout", "seconds allowed for one code execution"),
    ("--memory-mb", "memory_mb", "sandbox memory limit (address space), MB"),
    ("--max-steps", "max_steps", "budget: steps"),
    ("--max-tokens", "max_total_tokens", "budget: total prompt + completion tokens"),
    ("--max-seconds", "max_seconds", "budget: wall-clock seconds"),
    ("--max-cost", "max_cost", "budget: US dollars (needs a known price)"),
    ("--threshold", "reward_threshold", "reward needed to accept an answer (0-1)"),
    ("--answer-type", "answer_type", "what a final answer looks like: any or number"),
    ("--attempts", "attempts", "several attempts, each a whole loop in its own sandbox, then a vote"),
    ("--strategy", "strategy", "with --attempts: vote, wvote (reward-weighted) or adaptive (stop once settled)"),
    ("--trace", "trace", "write the run's events to this JSONL file as they happen"),
]


# flags that are not in RUN_OPTIONS, by the setting they set (for messages)
OTHER_FLAGS = {"network": "--no-network", "confine": "--confine", "self_check": "--self-check",
               "backtrack": "--no-backtrack"}
RUN_FLAGS = {name: flag for flag, name, _ in RUN_OPTIONS} | OTHER_FLAGS
REPLAY_DELAY = Allowed(float, low=0)


class Parser(argparse.ArgumentParser):
    """argparse with usage errors on one line (the full usage is in --help)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def flag_type(name: str):
    """argparse `type` for a setting's flag: its kind, plus "none" where the setting allows
    none (`--max-seconds none`: no limit). Ranges and choices are checked by load()."""
    spec = allowed(name)
    if spec.kind is str or spec.unset is None:
        return spec.kind

    def parse(text: str):
        return text if text.strip().lower() in ("none", "null") else spec.kind(text)  # "none": load() reads it

    parse.__name__ = spec.kind.__name__  # argparse says "invalid int value: 'lots'"
    return parse


def _fail(message: str, code: int = 2) -> int:
    print(f"nbreason: {message}", file=sys.stderr)
    return code


def _run_parser(sub) -> None:
    defaults = field_help()
    p = sub.add_parser("run", help="answer a question with the reasoning loop",
                       description="Answer a question: plan, write code, run it in a sandbox, check, decide.",
                       epilog=f"Config file: {config_file_path()} (NBREASON_CONFIG overrides). "
                              "Precedence: defaults < config file < environment < flags.")
    p.add_argument("question", help="the question; '-' reads it from standard input")
    for flag, name, text in RUN_OPTIONS:
        default, env = defaults[name]
        spec = allowed(name)
        if spec.kind is not str:  # the range, from the setting's declaration
            text = f"{text}; {spec.describe()}"
        p.add_argument(flag, dest=name, type=flag_type(name), default=None,
                       help=f"{text} [default {default}; env {env}]")
    p.add_argument("--no-network", dest="network", action="store_false", default=None,
                   help="turn the sandbox's network off [env NBREASON_NETWORK=false]")
    p.add_argument("--confine", dest="confine", action="store_true", default=None,
                   help="local sandbox: hide other processes and the home folder, read-only file system outside "
                        "the sandbox folder [env NBREASON_CONFINE=true]")
    p.add_argument("--self-check", dest="self_check", choices=allowed("self_check").choices, default=None,
                   help="before accepting an answer: verify = the model writes a check that must print True; "
                        "recompute = solve again from scratch until two solutions agree; auto = recompute for "
                        "the embedded models [default auto; env NBREASON_SELF_CHECK]")
    p.add_argument("--no-backtrack", dest="backtrack", action="store_false", default=None,
                   help="end a stalled run instead of going back to its last good step [env NBREASON_BACKTRACK]")
    p.add_argument("--context", default="", help="extra context given to the model with the question")
    p.add_argument("--json", action="store_true", help="print the result as JSON on standard output")
    p.add_argument("--quiet", action="store_true", help="show only the final answer")


def _model_parser(sub) -> None:
    p = sub.add_parser("model", help="the embedded offline model: status, install")
    p.add_argument("action", choices=["status", "install"])
    p.add_argument("name", nargs="?", default="local", help="local (1.5B, default) or local-small (0.5B)")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="nbreason", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"nbreason {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    _run_parser(sub)
    _model_parser(sub)
    sub.add_parser("bench", help="accuracy vs compute over a problem set (see `nbreason bench --help`)",
                   add_help=False)
    rp = sub.add_parser("replay", help="replay a trace in the terminal")
    rp.add_argument("trace")
    rp.add_argument("--delay", type=float, default=0.0, help="seconds between events (0 or more)")
    ep = sub.add_parser("export", help="turn a trace into a notebook (.ipynb) or a one-file HTML report (.html)")
    ep.add_argument("trace")
    ep.add_argument("-o", "--output", required=True, help="FILE.ipynb or FILE.html")
    return parser


def cmd_run(args) -> int:
    from rich.console import Console

    from .runner import QuestionError, clean_question, reason
    from .trace import TraceInUse
    from .views.console import ConsoleView

    # bytes, decoded here: text that is not UTF-8 is replaced, not a UnicodeDecodeError
    question = sys.stdin.buffer.read().decode("utf-8", "replace") if args.question == "-" else args.question
    try:
        question = clean_question(question)
        config = load({name: getattr(args, name) for name in RUN_FLAGS}, labels=RUN_FLAGS)
    except (QuestionError, ValueError) as exc:
        return _fail(str(exc))
    # With --json, the live view goes to stderr so stdout stays machine-readable.
    view = ConsoleView(Console(stderr=args.json, highlight=False), quiet=args.quiet)

    async def main():
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGINT, stop.set)  # first Ctrl-C: stop cleanly, keep the trace
        try:
            return await reason(question, config=config, subscribers=[view], stop=stop, context=args.context)
        finally:
            loop.remove_signal_handler(signal.SIGINT)

    try:
        result = asyncio.run(main())
    except TraceInUse as exc:  # refused before the run started; the other run's trace is untouched
        return _fail(str(exc))
    if args.json:
        print(json.dumps(result.to_json(), default=str))
    if result.stop_reason == "stopped by user":
        return 130
    return 0 if result.stop_reason != "error" else 1


def cmd_model(args) -> int:
    from rich.console import Console

    from .models import embedded

    console = Console()
    if args.action == "status":
        console.print(embedded.model_status_table())
        return 0
    try:
        path = embedded.install(args.name)
    except Exception as exc:
        console.print(f"[red]{exc}[/red]")
        return 1
    console.print(f"ready: {path}")
    return 0


def _read(path: str):
    """The trace's contents, or TraceError (nothing to show); a note on stderr for lines it could not read."""
    from .trace import TraceError, load_trace

    contents = load_trace(path)
    if not contents.events:
        raise TraceError(f"{path}: no event to show" + (f" ({contents.note()})" if contents.note() else ""))
    if contents.note():
        print(f"nbreason: {path}: {contents.note()}", file=sys.stderr)
    return contents


def cmd_replay(args) -> int:
    import time

    from .trace import TraceError
    from .views.console import ConsoleView

    try:
        delay = REPLAY_DELAY.check(args.delay, "--delay")
        contents = _read(args.trace)
    except (TraceError, ValueError) as exc:
        return _fail(str(exc))
    view = ConsoleView()
    for event in contents.events:
        view(event)
        if delay:
            time.sleep(delay)
    return 1 if contents.skipped else 0  # shown, but the trace is damaged


def cmd_export(args) -> int:
    from pathlib import Path

    from .export import write_export
    from .trace import TraceError

    if Path(args.output).suffix not in (".ipynb", ".html", ".htm"):
        return _fail(f"-o {args.output}: export to a .ipynb or .html file")
    try:
        contents = _read(args.trace)
    except TraceError as exc:
        return _fail(str(exc))
    try:
        print(write_export(contents.events, args.output))
    except (OSError, ValueError) as exc:
        return _fail(f"cannot write {args.output}: {exc}", 1)
    return 1 if contents.skipped else 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["bench"]:
        from .bench.cli import main as bench_main
        return bench_main(argv[1:])
    args = build_parser().parse_args(argv)
    handler = {"run": cmd_run, "model": cmd_model, "replay": cmd_replay, "export": cmd_export}[args.command]
    try:
        return handler(args)
    except KeyboardInterrupt:  # before or after a run (a run itself stops cleanly on Ctrl-C)
        print("nbreason: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
