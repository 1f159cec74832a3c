"""Framework overhead per step: the time a step spends in nbreason itself, neither in the model
nor in the user's code.

Runs the real loop against the scripted OpenAI-compatible server (which answers at once) and a
real sandbox kernel. For each run, from RunStarted to FinalAnswer:

    overhead = wall time - model call time (client side) - sandbox execution time

so it covers reading replies, checks, history, events and subscribers. The sandbox round trip for
trivial code (transport, not user code) is reported apart. Results: benchmarks/results/overhead.json.

    python benchmarks/bench_overhead.py --runs 30
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nbreason.config import RunConfig  # noqa: E402
from nbreason.events import FinalAnswer, ModelCall, Observation, RunStarted  # noqa: E402
from nbreason.runner import reason  # noqa: E402
from nbreason.sandboxes.local import LocalSandbox  # noqa: E402
from tests.support.scripted_server import Reply, ScriptedServer  # noqa: E402


async def main(runs: int, typical_step: float) -> dict:
    per_step, trips = [], []
    async with LocalSandbox() as sandbox:
        for _ in range(20):
            started = time.perf_counter()
            await sandbox.run_code("x = 1")
            trips.append(time.perf_counter() - started)
        with ScriptedServer() as server:
            for _ in range(runs):
                server.add(Reply("Compute.\n```python\nprint(6 * 7)\n```"), Reply("FINAL ANSWER: 42"))
                config = RunConfig(model="scripted", base_url=server.base_url, api_key="k", protocol="text")
                events = []
                await reason("6*7?", config=config, sandbox=sandbox, subscribers=[events.append])
                start = next(e for e in events if isinstance(e, RunStarted)).elapsed
                end = next(e for e in events if isinstance(e, FinalAnswer)).elapsed
                model = sum(e.duration for e in events if isinstance(e, ModelCall))
                code = sum(e.duration for e in events if isinstance(e, Observation))
                steps = next(e for e in events if isinstance(e, FinalAnswer)).steps
                per_step.append((end - start - model - code) / steps)
    overhead = statistics.median(per_step)
    trip = statistics.median(trips)
    return {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "loadavg": os.getloadavg(),
        "runs": runs,
        "overhead_per_step_ms_median": round(overhead * 1000, 2),
        "overhead_per_step_ms_p90": round(sorted(per_step)[int(0.9 * len(per_step))] * 1000, 2),
        "sandbox_round_trip_ms_median": round(trip * 1000, 2),
        "typical_step_s": typical_step,
        "overhead_share_of_typical_step": round((overhead + trip) / typical_step, 5),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--typical-step", type=float, default=10.0,
                        help="seconds of a typical step with the embedded 1.5B model (see gsm8k results)")
    args = parser.parse_args()
    result = asyncio.run(main(args.runs, args.typical_step))
    out = ROOT / "benchmarks" / "results" / "overhead.json"
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
