"""Measure the local sandbox: kernel start, trivial round trip, restart, close.

    python benchmarks/bench_sandbox.py [--starts 5] [--round-trips 200]

Prints JSON and writes it to benchmarks/results/sandbox.json. Targets: start <= 1 s,
round trip <= 15 ms (medians).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nbreason.sandboxes.local import LocalSandbox  # noqa: E402


def summary(values: list[float]) -> dict:
    ordered = sorted(values)
    return {
        "median": round(statistics.median(ordered), 4),
        "min": round(ordered[0], 4),
        "p90": round(ordered[int(0.9 * (len(ordered) - 1))], 4),
        "n": len(ordered),
    }


async def plain_kernel_start() -> float:
    """Stock jupyter-client start of the default python3 kernel, for comparison under the same load."""
    from jupyter_client.manager import AsyncKernelManager

    km = AsyncKernelManager(kernel_name="python3", transport="ipc")
    t = time.perf_counter()
    await km.start_kernel()
    kc = km.client()
    kc.start_channels()
    await kc.wait_for_ready(timeout=60)
    elapsed = time.perf_counter() - t
    kc.stop_channels()
    await km.shutdown_kernel(now=True)
    return elapsed


async def measure(starts: int, round_trips: int, network: bool) -> dict:
    start_times, close_times, plain_times = [], [], []
    for _ in range(starts):
        plain_times.append(await plain_kernel_start())  # interleaved, so both see the same load
        sb = LocalSandbox(network=network)
        t = time.perf_counter()
        await sb.start()
        start_times.append(time.perf_counter() - t)
        t = time.perf_counter()
        await sb.close()
        close_times.append(time.perf_counter() - t)

    async with LocalSandbox(network=network) as sb:
        for _ in range(5):  # warm up
            await sb.run_code("pass")
        trips = []
        for _ in range(round_trips):
            t = time.perf_counter()
            await sb.run_code("x = 1")
            trips.append(time.perf_counter() - t)
        t = time.perf_counter()
        await sb.restart()
        restart = time.perf_counter() - t
        t = time.perf_counter()
        await sb.run_code("import time\ntime.sleep(30)", timeout=0.5)
        timeout_stop = time.perf_counter() - t - 0.5

    return {
        "start_s": summary(start_times),
        "plain_ipykernel_start_s": summary(plain_times),
        "round_trip_ms": {k: (round(v * 1000, 2) if k != "n" else v) for k, v in summary(trips).items()},
        "restart_s": round(restart, 3),
        "close_s": summary(close_times),
        "timeout_overrun_s": round(timeout_stop, 3),  # how long after the deadline a sleep was stopped
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--round-trips", type=int, default=200)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "sandbox.json"))
    args = parser.parse_args()
    report = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "system": platform.platform(),
                    "load_average_1m": os.getloadavg()[0]},
        "network_on": asyncio.run(measure(args.starts, args.round_trips, True)),
        "network_off": asyncio.run(measure(args.starts, args.round_trips, False)),
    }
    on = report["network_on"]
    report["targets_met"] = {
        "start_le_1s": on["start_s"]["median"] <= 1.0,
        "round_trip_le_15ms": on["round_trip_ms"]["median"] <= 15.0,
    }
    text = json.dumps(report, indent=2)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
