"""The `nbreason` command: run a question in the terminal, manage the embedded model, bench.

    nbreason run "How many primes are below 1000?"
    nbreason run --model gpt-4o-mini --base-url https://api.openai.com/v1 "..."
    nbreason model status
    nbreason bench --dataset gsm8k --limit 60
    nbreason replay run.jsonl
    nbreason replay checked.jsonl unchecked.jsonl      (two runs side by side)
    nbreason export run.jsonl -o run.ipynb     (or run.html)
    nbreason export checked.jsonl unchecked.jsonl -o compare.html

Every `run` option can also come from an environment variable or the config file; the
order is documented in nbreason.config (flags win).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys

from . import __version__
from .config import RunConfig, config_file_path, field_help, load

RUN_OPTIONS = [
    # flag, field, type, help
    ("--model", "model", str, "model: auto (embedded unless an endpoint is set), local, local-small, "
                               "local:/path/file.gguf, or an API model name"),
    ("--base-url", "base_url", str, "OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1"),
    ("--api-key", "api_key", str, "API key (prefer the environment: NBREASON_API_KEY or OPENAI_API_KEY)"),
    ("--temperature", "temperature", float, "sampling temperature"),
    ("--seed", "seed", int, "sampling seed, where the server supports it"),
    ("--max-call-tokens", "max_tokens", int, "completion tokens per model call"),
    ("--protocol", "protocol", str, "action protocol: auto, tools (native tool calls) or text (fenced code)"),
    ("--sandbox", "sandbox", str, "where code runs: local (a kernel on this machine) or e2b"),
    ("--timeout", "exec_timeout", float, "seconds allowed for one code execution"),
    ("--memory-mb", "memory_mb", int, "sandbox memory limit (address space), MB"),
    ("--max-steps", "max_steps", int, "budget: steps"),
    ("--max-tokens", "max_total_tokens", int, "budget: total prompt + completion tokens"),
    ("--max-seconds", "max_seconds", float, "budget: wall-clock seconds"),
    ("--max-cost", "max_cost", float, "budget: US dollars (needs a known price)"),
    ("--threshold", "reward_threshold", float, "reward needed to accept an answer (0-1)"),
    ("--answer-type", "answer_type", str, "what a final answer looks like: any or number"),
    ("--attempts", "attempts", int, "several attempts, each a whole loop in its own sandbox, then a vote"),
    ("--strategy", "strategy", str, "with --attempts: vote, wvote (reward-weighted) or adaptive (stop once settled)"),
    ("--trace", "trace", str, "write the run's events to this JSONL file as they happen"),
]


def _run_parser(sub) -> None:
    defaults = field_help()
    p = sub.add_parser("run", help="answer a question with the reasoning loop",
                       description="Answer a question: plan, write code, run it in a sandbox, check, decide.",
                       epilog=f"Config file: {config_file_path()} (NBREASON_CONFIG overrides). "
                              "Precedence: defaults < config file < environment < flags.")
    p.add_argument("question", help="the question; '-' reads it from standard input")
    for flag, name, typ, text in RUN_OPTIONS:
        default, env = defaults[name]
        p.add_argument(flag, dest=name, type=typ, default=None, help=f"{text} [default {default}; env {env}]")
    p.add_argument("--no-network", dest="network", action="store_false", default=None,
                   help="turn the sandbox's network off [env NBREASON_NETWORK=false]")
    p.add_argument("--confine", dest="confine", action="store_true", default=None,
                   help="local sandbox: hide other processes and the home folder, read-only file system outside "
                        "the sandbox folder [env NBREASON_CONFINE=true]")
    p.add_argument("--self-check", dest="self_check", choices=["auto", "off", "verify", "recompute"], default=None,
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
    parser = argparse.ArgumentParser(prog="nbreason", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"nbreason {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    _run_parser(sub)
    _model_parser(sub)
    sub.add_parser("bench", help="accuracy vs compute over a problem set (see `nbreason bench --help`)",
                   add_help=False)
    rp = sub.add_parser("replay", help="replay a trace in the terminal; two traces: the runs side by side")
    rp.add_argument("trace")
    rp.add_argument("other", nargs="?", help="a second trace: both runs side by side, the first difference marked")
    rp.add_argument("--delay", type=float, default=0.0, help="seconds between events")
    ep = sub.add_parser("export", help="turn a trace into a notebook (.ipynb) or a one-file HTML report (.html)")
    ep.add_argument("trace")
    ep.add_argument("other", nargs="?", help="a second trace: one page comparing the two runs (.html)")
    ep.add_argument("-o", "--output", required=True, help="FILE.ipynb or FILE.html")
    return parser


def cmd_run(args) -> int:
    from rich.console import Console

    from .runner import reason
    from .views.console import ConsoleView

    question = sys.stdin.read() if args.question == "-" else args.question
    if not question.strip():
        print("nbreason: the question is empty", file=sys.stderr)
        return 2
    try:
        config = load({name: getattr(args, name) for _, name, _, _ in RUN_OPTIONS} | {"network": args.network, "confine": args.confine,
                                                                                 "self_check": args.self_check,
                                                                                 "backtrack": args.backtrack})
    except ValueError as exc:
        print(f"nbreason: {exc}", file=sys.stderr)
        return 2
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

    result = asyncio.run(main())
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


def cmd_replay(args) -> int:
    if args.other:
        return cmd_compare(args)
    import time

    from .trace import read_trace
    from .views.console import ConsoleView

    view = ConsoleView()
    for event in read_trace(args.trace):
        view(event)
        if args.delay:
            time.sleep(args.delay)
    return 0


def cmd_compare(args) -> int:
    """`nbreason replay A B`: two runs side by side in the terminal (`views/compare.py`)."""
    from pathlib import Path

    from .trace import read_trace
    from .views.compare import print_comparison

    try:
        runs = [read_trace(path) for path in (args.trace, args.other)]
    except (OSError, ValueError) as exc:
        print(f"nbreason: {exc}", file=sys.stderr)
        return 1
    print_comparison(*runs, labels=(Path(args.trace).name, Path(args.other).name), delay=args.delay)
    return 0


def cmd_export_comparison(args) -> int:
    """`nbreason export A B -o compare.html`: one page with both runs side by side."""
    from pathlib import Path

    from .export import write_comparison
    from .trace import read_trace

    try:
        print(write_comparison(read_trace(args.trace), read_trace(args.other), args.output,
                               labels=(Path(args.trace).name, Path(args.other).name)))
    except (OSError, ValueError) as exc:
        print(f"nbreason: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_export(args) -> int:
    if args.other:
        return cmd_export_comparison(args)
    from .export import write_export
    from .trace import read_trace

    try:
        print(write_export(read_trace(args.trace), args.output))
    except (OSError, ValueError) as exc:
        print(f"nbreason: {exc}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["bench"]:
        from .bench.cli import main as bench_main
        return bench_main(argv[1:])
    args = build_parser().parse_args(argv)
    handler = {"run": cmd_run, "model": cmd_model, "replay": cmd_replay, "export": cmd_export}[args.command]
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
