"""Several attempts run side by side: N attempts should take about one attempt's time when the
model server and the sandboxes each take a fixed time per call (an API model, E2B sandboxes).

Each attempt is a real run through the one attempts engine (`nbreason/attempts.py`, what
`%%reason --attempts N` runs): the real `openai` client against the scripted OpenAI-compatible
server, which answers every call after `--model-delay` seconds (two calls per attempt: the code,
then the answer), and the real E2B SDK against the local E2B stand-in, which starts a sandbox and
runs each execution after `--sandbox-delay` seconds. The stand-in runs code inline rather than in
one Jupyter kernel per sandbox, so 32 sandboxes do not measure 32 kernel start-ups on 2 cores.

    python benchmarks/bench_attempts_scaling.py --attempts 8,32
Results: benchmarks/results/attempts_scaling.json (target: N attempts ≤ 1.3 × one attempt).
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

from nbreason.config import RunConfig  # noqa: E402
from nbreason.runner import reason  # noqa: E402
from tests.support.fake_e2b import FakeE2B  # noqa: E402
from tests.support.scripted_server import Reply, ScriptedServer  # noqa: E402


def replies(delay: float):
    def reply(body: dict) -> Reply:
        if body["messages"][-1]["content"].startswith("Output:"):
            return Reply("FINAL ANSWER: 42", delay=delay)
        return Reply("Multiply.\n```python\nprint(6 * 7)\n```", delay=delay)
    return reply


async def timed(config: RunConfig) -> tuple[float, object]:
    started = time.perf_counter()
    result = await reason("What is 6 times 7?", config=config)
    return time.perf_counter() - started, result


async def main(counts: list[int], model_delay: float, sandbox_delay: float, repeats: int) -> dict:
    fake = FakeE2B(kernels=False).start()
    fake.faults.create_delay = fake.faults.execute_delay = sandbox_delay
    os.environ.update(E2B_API_KEY=fake.api_key, E2B_API_URL=fake.url, E2B_SANDBOX_URL=fake.url)
    rows = []
    try:
        with ScriptedServer([replies(model_delay)] * (4 * (1 + sum(counts)) * repeats)) as server:
            base = RunConfig(model="scripted", base_url=server.base_url, api_key="sk-scaling-bench", protocol="text",
                             sandbox="e2b", self_check="off", max_seconds=None)
            one = []
            for _ in range(repeats):
                seconds, result = await timed(base)
                assert result.answer == "42", result.stop_reason
                one.append(seconds)
            single = statistics.median(one)
            rows.append({"attempts": 1, "seconds": round(single, 3), "ratio": 1.0})
            for n in counts:
                times = []
                for _ in range(repeats):
                    seconds, result = await timed(base.replace(attempts=n, parallel=n, strategy="vote"))
                    assert result.answer == "42" and len(result.attempts) == n, result.stop_reason
                    times.append(seconds)
                median = statistics.median(times)
                rows.append({"attempts": n, "seconds": round(median, 3), "ratio": round(median / single, 3),
                             "runs": [round(t, 3) for t in times]})
    finally:
        fake.stop()
    return {"model_delay_s": model_delay, "sandbox_delay_s": sandbox_delay, "model_calls_per_attempt": 2,
            "repeats": repeats, "target_ratio": 1.3, "rows": rows,
            "met": all(r["ratio"] <= 1.3 for r in rows),
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()}}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--attempts", default="8,32", help="comma-separated N")
    parser.add_argument("--model-delay", type=float, default=2.0, help="seconds per model call")
    parser.add_argument("--sandbox-delay", type=float, default=0.5, help="seconds per sandbox start and execution")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "attempts_scaling.json"))
    args = parser.parse_args()
    report = asyncio.run(main([int(n) for n in args.attempts.split(",")], args.model_delay, args.sandbox_delay,
                              args.repeats))
    Path(args.out).write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report["rows"], indent=1))
