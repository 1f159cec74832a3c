"""`nbreason bench`: accuracy against test-time compute, per strategy.

    nbreason bench --dataset gsm8k --limit 60 --strategies single-shot,loop,vote@4,vote@8,adaptive@8 \\
        --model local --out benchmarks/results/gsm8k-local

Rerunning with the same --out resumes: finished problems are not run again. --summarize-only
rebuilds the tables and the figure from the files already there.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from .. import flags, models, strategies
from ..allowed import Allowed
from ..cli import Parser
from ..config import load
from . import datasets
from .plot import plot
from .progress import BenchProgress, duration, line
from .run import Bench, WriteError
from .summary import summarize
from .trust import plot_reliability

DEFAULT_STRATEGIES = "single-shot,loop,vote@4,vote@8,adaptive@8"
# The bench's own numeric options; run settings (--model, --max-steps, ...) come from the one
# table in nbreason.flags and are checked by config.load().
OPTIONS = {"limit": Allowed(int, low=1), "skip": Allowed(int, low=0), "threads": Allowed(int, low=1)}
# The summary votes on every k-subset of a pool of N samples (2^N votes a problem, exact): at 16
# that is already some seconds a problem, and each problem runs N attempts besides.
MAX_ATTEMPTS = 16


def parse_strategies(text: str) -> list:
    specs = [strategies.parse_spec(s) for s in text.split(",") if s.strip()]
    if not specs:
        raise ValueError(f"--strategies {text!r} names no strategy: use e.g. {DEFAULT_STRATEGIES}")
    for spec in specs:
        if spec.n > MAX_ATTEMPTS:
            raise ValueError(f"{spec.name}: at most {MAX_ATTEMPTS} attempts (the summary votes on every subset "
                             f"of them), e.g. {spec.kind}@{MAX_ATTEMPTS}")
    return specs


def output_folder(out: Path, summarize_only: bool) -> str | None:
    """Why `out` cannot hold (or, for --summarize-only, does not hold) a benchmark's results, or None."""
    if summarize_only:
        if not out.is_dir():
            return f"--out {out}: no such folder, nothing to summarise"
        if not (out / "results.jsonl").is_file():
            return f"--out {out}: no results.jsonl in it, nothing to summarise"
        return None
    if out.exists() and not out.is_dir():
        return f"--out {out}: a file, not a folder"
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return f"--out {out}: cannot make the folder ({exc.strerror or exc})"
    if not os.access(out, os.W_OK | os.X_OK):
        return f"--out {out}: the folder is not writable"
    return None


def parser() -> argparse.ArgumentParser:
    p = Parser(prog="nbreason bench", description=__doc__.split("\n\n")[0],
               formatter_class=argparse.RawDescriptionHelpFormatter,
               epilog="Run settings not given here come from the config file and NBREASON_* variables, "
                      "as for `nbreason run`; a default shown is the one in effect now.")
    p.add_argument("--dataset", default="gsm8k", help="gsm8k, math500, data (data-tune, data-report: its halves) or a JSONL file of {question, answer}")
    p.add_argument("--limit", type=int, default=60, help="the first N problems (default 60)")
    p.add_argument("--skip", type=int, default=0,
                   help="leave out the first K problems: a held-out set after rules were tuned on the first ones")
    p.add_argument("--strategies", default=DEFAULT_STRATEGIES,
                   help=f"comma-separated (default {DEFAULT_STRATEGIES}); vote@N:single-shot votes on single shots")
    p.add_argument("--out", default=None, help="output folder (default benchmarks/results/<dataset>-<model>)")
    p.add_argument("--threads", type=int, default=None,
                   help="run the embedded model on a server of its own with this many threads (on a busy "
                        "machine 1 thread is far faster than 2: llama.cpp threads wait on each other)")
    p.add_argument("--summarize-only", action="store_true", help="only rebuild summary and figure from --out")
    flags.add_flags(p.add_argument_group("run settings"), flags.BENCH, flags.effective())
    return p


def source_version() -> str:
    """The nbreason commit measured (with "+changes" when the tree differs), for the summary."""
    root = Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--", "nbreason"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (commit or "unknown") + ("+changes" if dirty else "")


class LiveTable:
    """BenchProgress on a terminal: a table of strategies (problems done, accuracy so far)
    under a line saying which pass runs and the time left, redrawn as results arrive."""

    def __init__(self, console):
        from rich.live import Live

        self.console = console
        self.live = Live(console=console, refresh_per_second=2, transient=False)
        self.started = False

    def __call__(self, progress: BenchProgress) -> None:
        if not self.started:
            self.live.start()
            self.started = True
        self.live.update(self.render(progress))

    def close(self) -> None:
        if self.started:
            self.live.stop()
            self.started = False

    @staticmethod
    def render(progress: BenchProgress):
        from rich.console import Group
        from rich.progress_bar import ProgressBar
        from rich.table import Table
        from rich.text import Text

        table = Table(box=None, pad_edge=False)
        for column, justify in (("strategy", "left"), ("problems", "right"), ("", "left"), ("accuracy", "right")):
            table.add_column(column, justify=justify)
        for score in progress.scores:
            accuracy = f"{score.accuracy:.1%}" if score.accuracy is not None else "-"
            table.add_row(score.strategy, f"{score.done}/{score.total}",
                          ProgressBar(total=max(1, score.total), completed=score.done, width=24), accuracy)
        if progress.finished:
            head = f"done after {duration(progress.elapsed)}"
        else:
            left = (f"about {duration(progress.seconds_left)} left" if progress.seconds_left is not None
                    else "time left: estimated once an attempt has finished")
            head = (f"pass {progress.phase_index}/{progress.phases}: {progress.phase}, {progress.phase_done}/"
                    f"{progress.phase_total} problems · {duration(progress.elapsed)} elapsed · {left}")
        return Group(Text(head, style="bold"), table)


class PlainLines:
    """BenchProgress where output is not a terminal (a log file, CI): one line per change."""

    def __init__(self, write=print):
        self.write = write
        self.last = None

    def __call__(self, progress: BenchProgress) -> None:
        text = line(progress)
        key = (progress.phase_index, progress.phase_done, progress.finished)
        if key != self.last:
            self.last = key
            self.write(text)

    def close(self) -> None:
        pass


def progress_display(stream=None):
    """(bench progress, model progress) renderers for where the output goes."""
    stream = stream or sys.stdout
    if stream.isatty():
        from rich.console import Console

        from ..progress_display import RichProgress

        console = Console(file=stream)
        return LiveTable(console), RichProgress(console)
    from ..progress_display import TextProgress

    write = lambda text: print(text, file=stream, flush=True)  # noqa: E731
    return PlainLines(write), TextProgress(write)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        for name, spec in OPTIONS.items():
            if getattr(args, name) is not None:  # not given: the default
                setattr(args, name, spec.check(getattr(args, name), f"--{name}"))
        specs = parse_strategies(args.strategies)
        values, labels = flags.given(args, flags.BENCH)
        config = load(values, labels=labels)  # the config file and environment count here too
        out = Path(args.out or f"benchmarks/results/{Path(args.dataset).stem}-{config.model}")
        if not args.summarize_only:
            problems = datasets.load(args.dataset, args.skip + args.limit)[args.skip:]
            if not problems:
                after = f" after --skip {args.skip}" if args.skip else ""
                raise ValueError(f"--dataset {args.dataset}: no problems{after}")
        problem = output_folder(out, args.summarize_only)  # after the data set: a typo there makes no folder
        if problem:
            raise ValueError(problem)
    except ValueError as exc:
        print(f"nbreason bench: {exc}", file=sys.stderr)
        return 2
    meta = None  # --summarize-only: the run's settings are kept from summary.json
    if not args.summarize_only:
        version = source_version()  # now: the tree may change while the benchmark runs
        show, show_model = progress_display()
        requested = config.model
        if args.threads:
            config = models.dedicated(config, on_progress=show_model)
        parallel = models.slots(config, config.parallel, args.threads, on_progress=show_model)
        show_model.close()  # the model is ready: the bench table takes the console
        if parallel != config.parallel:
            print(f"note: the running model server has {parallel} parallel slots; using {parallel}")
        solver = strategies.Solver(config, parallel=parallel)
        bench = Bench(problems, specs, solver, out, confidence=config.confidence, on_progress=show)
        started = time.monotonic()

        async def go():
            try:
                await bench.run()
            finally:
                await solver.close()

        try:
            asyncio.run(go())
        except WriteError as exc:  # every line before it is whole: rerunning resumes from there
            show.close()
            print(f"nbreason bench: {exc}; rerun the same command to resume", file=sys.stderr)
            return 1
        finally:
            show.close()
        meta = {"dataset": args.dataset, "limit": args.limit, "skip": args.skip, "model": requested,
                "served": config.model, "threads": args.threads, "nbreason": version,
                "strategies": args.strategies, "parallel": parallel, "confidence": config.confidence,
                "max_steps": config.max_steps, "exec_timeout": config.exec_timeout,
                "sample_temperature": strategies.SAMPLE_TEMPERATURE, "machine": f"{platform.machine()}",
                "wall_seconds": round(time.monotonic() - started, 1)}
    try:
        summary = summarize(out, meta)
        title = f"{summary['meta'].get('dataset', '')} · {summary['meta'].get('model', '')}"
        plot(summary, out / "accuracy_vs_compute.png", title=title)
        plot_reliability(summary.get("trust") or [], out / "reliability.png", title=f"reliability · {title}")
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"nbreason bench: cannot summarise {out}: {where}{exc.strerror or exc}", file=sys.stderr)
        return 1
    print((out / "summary.md").read_text())
    print(f"written to {out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
