"""`nbreason bench`: accuracy against test-time compute, per strategy.

    nbreason bench --dataset gsm8k --limit 60 --strategies single-shot,loop,vote@4,vote@8,adaptive@8 \\
        --model local --out benchmarks/results/gsm8k-local

Rerunning with the same --out resumes: finished problems are not run again. --summarize-only
rebuilds the tables and the figure from the files already there.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import subprocess
import sys
import time
from pathlib import Path

from .. import strategies
from ..allowed import Allowed
from ..cli import Parser
from ..config import allowed, load
from . import datasets
from .plot import plot
from .run import Bench, summarize

DEFAULT_STRATEGIES = "single-shot,loop,vote@4,vote@8,adaptive@8"
# What each numeric option accepts: the bench's own, and the run settings it passes on (checked by load()).
OPTIONS = {"limit": Allowed(int, low=1), "skip": Allowed(int, low=0), "parallel": Allowed(int, low=1),
           "threads": Allowed(int, low=1), "confidence": allowed("confidence")}
SETTINGS = {"model": "--model", "base_url": "--base-url", "max_steps": "--max-steps",
            "exec_timeout": "--exec-timeout", "seed": "--seed"}


def parser() -> argparse.ArgumentParser:
    p = Parser(prog="nbreason bench", description=__doc__.split("\n\n")[0],
               formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="gsm8k", help="gsm8k, math500 or a JSONL file of {question, answer}")
    p.add_argument("--limit", type=int, default=60, help="the first N problems (default 60)")
    p.add_argument("--skip", type=int, default=0,
                   help="leave out the first K problems: a held-out set after rules were tuned on the first ones")
    p.add_argument("--strategies", default=DEFAULT_STRATEGIES,
                   help=f"comma-separated (default {DEFAULT_STRATEGIES}); vote@N:single-shot votes on single shots")
    p.add_argument("--model", default=None, help='"local", "local-small" or an API model name (with --base-url)')
    p.add_argument("--base-url", default=None)
    p.add_argument("--out", default=None, help="output folder (default benchmarks/results/<dataset>-<model>)")
    p.add_argument("--parallel", type=int, default=None,
                   help="attempts at once; starts the embedded server with this many slots (a running one keeps its own)")
    p.add_argument("--threads", type=int, default=None,
                   help="run the embedded model on a server of its own with this many threads (on a busy "
                        "machine 1 thread is far faster than 2: llama.cpp threads wait on each other)")
    p.add_argument("--confidence", type=float, default=0.95, help="adaptive stopping confidence (default 0.95)")
    p.add_argument("--max-steps", type=int, default=None, help="loop steps per attempt")
    p.add_argument("--exec-timeout", type=float, default=30.0, help="seconds per code run (default 30)")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--summarize-only", action="store_true", help="only rebuild summary and figure from --out")
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


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        for name, spec in OPTIONS.items():
            if getattr(args, name) is not None:  # not given: the default
                setattr(args, name, spec.check(getattr(args, name), f"--{name}"))
        specs = [strategies.parse_spec(s) for s in args.strategies.split(",") if s.strip()]
        config = load({name: getattr(args, name) for name in SETTINGS}, labels=SETTINGS)
    except ValueError as exc:
        print(f"nbreason bench: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out or f"benchmarks/results/{Path(args.dataset).stem}-{config.model}")
    if not args.summarize_only:
        problems = datasets.load(args.dataset, args.skip + args.limit)[args.skip:]
        version = source_version()  # now: the tree may change while the benchmark runs
        if args.threads:
            config = strategies.dedicated_model(config)
        parallel = strategies.server_slots(config, args.parallel, args.threads)
        if args.parallel and parallel != args.parallel:
            print(f"note: the running model server has {parallel} parallel slots; using {parallel}")
        solver = strategies.Solver(config, parallel=parallel)
        bench = Bench(problems, specs, solver, out, confidence=args.confidence)
        started = time.monotonic()

        async def go():
            try:
                await bench.run()
            finally:
                await solver.close()

        asyncio.run(go())
        meta = {"dataset": args.dataset, "limit": args.limit, "skip": args.skip, "model": args.model or config.model,
                "served": config.model, "threads": args.threads, "nbreason": version,
                "strategies": args.strategies, "parallel": parallel, "confidence": args.confidence,
                "max_steps": config.max_steps, "exec_timeout": config.exec_timeout,
                "sample_temperature": strategies.SAMPLE_TEMPERATURE, "machine": f"{platform.machine()}",
                "wall_seconds": round(time.monotonic() - started, 1)}
        summary = summarize(out, meta)
    else:
        summary = summarize(out)
    plot(summary, out / "accuracy_vs_compute.png",
         title=f"{summary['meta'].get('dataset', '')} · {summary['meta'].get('model', '')}")
    print((out / "summary.md").read_text())
    print(f"written to {out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
