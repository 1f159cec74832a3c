"""The `nbreason` command: run a question in the terminal, manage the embedded model, bench.

    nbreason run "How many primes are below 1000?"
    nbreason run --model gpt-4o-mini --base-url https://api.openai.com/v1 "..."
    nbreason run --with sales.csv --trace one.jsonl "Which region sold most?"
    nbreason run --continue one.jsonl --with sales.csv "And per month?"   (a trace's files are given again)
    nbreason model status
    nbreason bench --dataset gsm8k --limit 60
    nbreason replay run.jsonl
    nbreason replay checked.jsonl unchecked.jsonl      (two runs side by side)
    nbreason export run.jsonl -o run.ipynb     (or run.html; traces of follow-ups, in order: one chain)
    nbreason export checked.jsonl unchecked.jsonl -o compare.html

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

from . import __version__, flags
from .allowed import Allowed
from .config import config_file_path, load

REPLAY_DELAY = Allowed(float, low=0, high=3600)  # past an hour between events, the clock overflows


class Parser(argparse.ArgumentParser):
    """argparse with usage errors on one line (the full usage is in --help)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _fail(message: str, code: int = 2) -> int:
    print(f"nbreason: {message}", file=sys.stderr)
    return code


def _run_parser(sub) -> None:
    p = sub.add_parser("run", help="answer a question with the reasoning loop",
                       description="Answer a question: plan, write code, run it in a sandbox, check, decide.",
                       epilog=f"Config file: {config_file_path()} (NBREASON_CONFIG overrides). "
                              "Precedence: defaults < config file < environment < flags; "
                              "a default shown is the one in effect now.")
    p.add_argument("question", help="the question; '-' reads it from standard input")
    flags.add_flags(p.add_argument_group("run settings"), flags.RUN, flags.effective())
    p.add_argument("--with", dest="with_", action="append", default=[], metavar="PATH",
                   help="a data file: copied into the sandbox's working folder and described to the model "
                        "(columns, types, rows, a few values for tables); repeat for several")
    p.add_argument("--continue", dest="continue_", metavar="TRACE",
                   help="a follow-up: continue the run this trace recorded; its state is rebuilt from its code")
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
    rp = sub.add_parser("replay", help="replay a trace in the terminal; two unrelated traces: side by side; "
                                       "follow-ups: the chain in order")
    rp.add_argument("trace", nargs="+")
    rp.add_argument("--delay", type=float, default=0.0, help="seconds between events (0 or more)")
    ep = sub.add_parser("export", help="turn a trace into a notebook (.ipynb) or a one-file HTML report (.html)")
    ep.add_argument("trace", nargs="+", help="one trace; several follow-ups in order (a chain); or two unrelated "
                                             "runs to compare (.html)")
    ep.add_argument("-o", "--output", required=True, help="FILE.ipynb or FILE.html")
    return parser


def cmd_run(args) -> int:
    from rich.console import Console

    from . import datafiles, followup
    from .progress_display import RichProgress
    from .returns import ReturnError
    from .runner import QuestionError, clean_question, reason
    from .trace import TraceInUse
    from .views.console import ConsoleView

    # bytes, decoded here: text that is not UTF-8 is replaced, not a UnicodeDecodeError
    question = sys.stdin.buffer.read().decode("utf-8", "replace") if args.question == "-" else args.question
    try:
        question = clean_question(question)
        values, labels = flags.given(args, flags.RUN)
        config = load(values, labels=labels)
    except (QuestionError, ValueError) as exc:
        return _fail(str(exc))
    try:  # data files and the trace to continue: checked before anything starts
        files = [datafiles.describe(path) for path in args.with_]
        datafiles.check_names(files)
        follows = followup.continues_of(args.continue_) if args.continue_ is not None else None
    except (datafiles.DataFileError, followup.FollowupError) as exc:
        return _fail(str(exc))
    # With --json, the live view goes to stderr so stdout stays machine-readable.
    view = ConsoleView(Console(stderr=args.json, highlight=False), quiet=args.quiet)
    show_progress = RichProgress(Console(stderr=True))  # preparing the model is not the run's output

    async def main():
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGINT, stop.set)  # first Ctrl-C: stop cleanly, keep the trace
        try:
            return await reason(question, config=config, subscribers=[view], stop=stop, context=args.context,
                                on_progress=show_progress, files=files, follows=follows)
        finally:
            loop.remove_signal_handler(signal.SIGINT)

    try:
        with show_progress:
            result = asyncio.run(main())
    except (TraceInUse, followup.FollowupError, datafiles.DataFileError, ReturnError) as exc:
        return _fail(str(exc))  # refused before the run started; the other run's trace is untouched
    if args.json:
        print(json.dumps(result.to_json(), default=str))
    if result.stop_reason == "stopped by user":
        return 130
    return 0 if result.stop_reason != "error" else 1


def model_status_table(rows: list[dict]):
    """`embedded.status()` as a rich Table for `nbreason model status`."""
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="nbreason embedded models")
    for column in ("model", "alias", "parts", "file", "size", "sha-256", "server"):
        table.add_column(column)
    for row in rows:
        if row["assembled"]:
            file_cell = escape(row["path"])
        elif row["installed"]:
            file_cell = "not assembled yet (assembled on first use)"
        else:
            file_cell = f"[yellow]{escape(row['install'])}[/]"
        server_cell = "\n".join(
            f"{s['base_url']} pid {s['pid']} ({s['leases']} client{'s' if s['leases'] != 1 else ''})"
            for s in row["servers"]
        ) or "-"
        table.add_row(escape(row["name"]), escape(row["alias"]), row["parts"], file_cell,
                      f"{row['size'] / 1e9:.2f} GB", row["hash"], escape(server_cell))
    return table


def cmd_model(args) -> int:
    from rich.console import Console

    from .models import embedded
    from .progress_display import RichProgress

    console = Console()
    if args.action == "status":
        console.print(model_status_table(embedded.status()))
        return 0
    try:
        with RichProgress(console) as show:
            path = embedded.install(args.name, on_progress=show)
    except Exception as exc:
        from rich.markup import escape

        console.print(f"[red]{escape(str(exc))}[/red]", highlight=False)
        return 1
    console.print(f"ready: {path}")
    return 0


def _read(path: str, quiet: bool = False):
    """The trace's contents, or TraceError (nothing to show); a note on stderr for lines it could not
    read (`quiet`: none, when the trace is only looked at before the command reads it)."""
    from .trace import TraceError, load_trace

    contents = load_trace(path)
    if not contents.events:
        raise TraceError(f"{path}: no event to show" + (f" ({contents.note()})" if contents.note() else ""))
    if contents.note() and not quiet:
        print(f"nbreason: {path}: {contents.note()}", file=sys.stderr)
    return contents


def _comparing(paths: list[str]) -> bool:
    """Two traces are compared side by side unless the second continues the first (a chain)."""
    if len(paths) != 2:
        return False
    from .followup import continues_from
    from .trace import TraceError

    try:
        return not continues_from(_read(paths[1], quiet=True).events, _read(paths[0], quiet=True).events)
    except TraceError:
        return False  # the chain path reports it


def cmd_replay(args) -> int:
    if _comparing(args.trace):
        return cmd_compare(args)
    import time

    from .trace import TraceError
    from .views.console import ConsoleView

    try:
        delay = REPLAY_DELAY.check(args.delay, "--delay")
        traces = [_read(path) for path in args.trace]  # all readable, or nothing shown
    except (TraceError, ValueError) as exc:
        return _fail(str(exc))
    view = ConsoleView()
    for contents in traces:
        for event in contents.events:
            view(event)
            if delay:
                time.sleep(delay)
    return 1 if any(c.skipped for c in traces) else 0  # shown, but a trace is damaged


def cmd_compare(args) -> int:
    """`nbreason replay A B`: two runs side by side in the terminal (`views/compare.py`)."""
    from pathlib import Path

    from .trace import TraceError
    from .views.compare import print_comparison

    try:
        delay = REPLAY_DELAY.check(args.delay, "--delay")
        runs = [_read(path) for path in args.trace]
    except (TraceError, ValueError) as exc:
        return _fail(str(exc))
    print_comparison(*(run.events for run in runs), labels=tuple(Path(path).name for path in args.trace),
                     delay=delay)
    return 1 if any(run.skipped for run in runs) else 0


def cmd_export(args) -> int:
    """`nbreason export TRACE... -o runs.ipynb|runs.html`; two traces that are not a chain of
    follow-ups give one .html page with both runs side by side."""
    from pathlib import Path

    from .export import write_comparison, write_runs
    from .trace import TraceError

    comparing = _comparing(args.trace)
    allowed = (".html", ".htm") if comparing else (".ipynb", ".html", ".htm")
    if Path(args.output).suffix not in allowed:
        return _fail(f"-o {args.output}: " + ("two runs are compared on one .html page" if comparing
                                              else "export to a .ipynb or .html file"))
    try:
        traces = [_read(path) for path in args.trace]
    except TraceError as exc:
        return _fail(str(exc))
    try:
        if comparing:
            print(write_comparison(traces[0].events, traces[1].events, args.output,
                                   labels=tuple(Path(path).name for path in args.trace)))
        else:
            print(write_runs([c.events for c in traces], args.output))
    except (OSError, ValueError) as exc:
        return _fail(f"cannot write {args.output}: {exc}", 1)
    return 1 if any(c.skipped for c in traces) else 0  # written, but lines of a trace were unreadable


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if any(arg.startswith(("--ap", "--ba")) for arg in argv):
        from .cmdline import hide_secret_arguments

        hide_secret_arguments()  # before any sandbox starts
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
