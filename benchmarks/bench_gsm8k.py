"""Accuracy against test-time compute on GSM8K with the embedded models.

    python benchmarks/bench_gsm8k.py                      # 0.5B: single-shot and loop, 60 problems
    python benchmarks/bench_gsm8k.py --model local --limit 30 \\
        --strategies single-shot,loop,vote@4:single-shot,vote@8:single-shot,adaptive@8:single-shot

A thin wrapper over `nbreason bench` that fixes the output folder
(benchmarks/results/gsm8k-<model>-<limit>) so reruns resume instead of starting again.
Every other option is passed through (see `nbreason bench --help`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nbreason.bench.cli import main  # noqa: E402


def run(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="local-small")
    p.add_argument("--limit", type=int, default=60)
    p.add_argument("--strategies", default="single-shot,loop")
    args, rest = p.parse_known_args(argv)
    out = ROOT / "benchmarks" / "results" / f"gsm8k-{args.model}-{args.limit}"
    return main(["--dataset", "gsm8k", "--limit", str(args.limit), "--model", args.model,
                 "--strategies", args.strategies, "--out", str(out), *rest])


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
