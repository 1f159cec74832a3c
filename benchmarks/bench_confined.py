"""Measure what confinement (bubblewrap) costs the local sandbox: start, round trip, restart
and a first `import matplotlib.pyplot`, plain and confined, interleaved so both see the same
load.

    python benchmarks/bench_confined.py [--starts 7] [--round-trips 100]

Prints JSON and writes it to benchmarks/results/sandbox_confined.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_sandbox import summary  # noqa: E402
from nbreason.sandboxes.kernelspec import confine_problem  # noqa: E402
from nbreason.sandboxes.local import LocalSandbox  # noqa: E402


async def one_kernel(confine: bool, round_trips: int, times: dict) -> None:
    sb = LocalSandbox(confine=confine)
    t = time.perf_counter()
    await sb.start()
    times["start_s"].append(time.perf_counter() - t)
    try:
        assert sb.confined is confine, sb.warnings
        for _ in range(round_trips):
            t = time.perf_counter()
            await sb.run_code("1")
            times["round_trip_ms"].append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        await sb.run_code("import matplotlib.pyplot")
        times["import_matplotlib_s"].append(time.perf_counter() - t)
        t = time.perf_counter()
        await sb.restart()
        times["restart_s"].append(time.perf_counter() - t)
    finally:
        await sb.close()


async def measure(starts: int, round_trips: int) -> dict:
    keys = ("start_s", "round_trip_ms", "import_matplotlib_s", "restart_s")
    times = {mode: {k: [] for k in keys} for mode in ("plain", "confined")}
    for _ in range(starts):
        await one_kernel(False, round_trips, times["plain"])
        await one_kernel(True, round_trips, times["confined"])
    result = {mode: {k: summary(v) for k, v in values.items()} for mode, values in times.items()}
    result["confined_extra_start_s"] = round(
        result["confined"]["start_s"]["median"] - result["plain"]["start_s"]["median"], 4)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=7)
    parser.add_argument("--round-trips", type=int, default=100)
    args = parser.parse_args()
    if confine_problem():
        sys.exit(f"cannot confine here: {confine_problem()}")
    result = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "system": platform.platform(), "load_average_1m": os.getloadavg()[0]},
        **asyncio.run(measure(args.starts, args.round_trips)),
    }
    out = ROOT / "benchmarks" / "results" / "sandbox_confined.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
