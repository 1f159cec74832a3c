"""Runtime numbers of the embedded models, measured through the server as the loop uses it.

    python benchmarks/bench_embedded.py [--models local-small local] [--reps 3]

Per model: server start to first /health (load), prompt and generation speed (llama.cpp's
own timings, median of --reps), a repeated prefix through the prompt cache, two requests
in parallel, and the server's peak RSS. Writes benchmarks/results/embedded_runtime.json.
The server is started for the assembled file as `local:/path`, with its registry in a
temporary folder: it neither reuses nor disturbs a server other notebooks are using.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nbreason.models import embedded, local_server  # noqa: E402

FILLER = ("The quarterly report lists revenue, costs and head count for each region; "
          "analysts compare them with the previous quarter and note any change above five percent. ")


def chat(handle, messages, **extra) -> dict:
    body = {"model": handle.model_name, "messages": messages, "temperature": 0, **extra}
    request = urllib.request.Request(
        handle.base_url + "/chat/completions", data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {handle.api_key}"})
    with urllib.request.urlopen(request, timeout=600) as resp:
        return json.loads(resp.read())


def long_prompt(tag: str, repeats: int = 24) -> list[dict]:
    return [{"role": "system", "content": f"[{tag}] You summarise reports briefly."},
            {"role": "user", "content": FILLER * repeats + "\nSummarise in one sentence."}]


def memory(pid: int) -> dict:
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            values[key] = int(rest.split()[0]) * 1024
    return {"peak_rss_bytes": values.get("VmHWM"), "rss_bytes": values.get("VmRSS")}


def cpu_pressure() -> float | None:
    """Share of the last minute in which runnable tasks waited for a CPU (Linux PSI): other
    work on the machine, which these numbers are only valid without."""
    try:
        some = Path("/proc/pressure/cpu").read_text().splitlines()[0]
        return float(some.split("avg60=")[1].split()[0])
    except (OSError, IndexError, ValueError):
        return None


def load_seconds_from_log(log: Path, pid: int) -> float | None:
    for line in reversed(log.read_text(errors="replace").splitlines()):
        if f"[{pid}]: ready at" in line:
            return float(line.rsplit("after ", 1)[1].split()[0])
    return None


def bench_model(name: str, reps: int, threads: int) -> dict:
    entry = embedded.lookup(name)
    path = embedded.install(name)  # in the user's cache: assembled once
    saved = os.environ.get("NBREASON_CACHE")
    os.environ["NBREASON_CACHE"] = tempfile.mkdtemp(prefix="nbreason-bench-")  # our own registry
    started = time.monotonic()
    handle = local_server.ensure_server(f"local:{path}", threads=threads)
    start_s = time.monotonic() - started
    try:
        chat(handle, [{"role": "user", "content": "hi"}], max_tokens=1)  # first-request setup
        prompt = [chat(handle, long_prompt(f"p{i}"), max_tokens=1, cache_prompt=False)["timings"]
                  for i in range(reps)]
        gen = [chat(handle, [{"role": "system", "content": "You write Python."},
                             {"role": "user", "content": f"Write a long Python module #{i} with many functions."}],
                    max_tokens=128, ignore_eos=True)["timings"] for i in range(reps)]

        cold = chat(handle, long_prompt("cache"), max_tokens=1)["timings"]
        warm = chat(handle, long_prompt("cache") + [
            {"role": "assistant", "content": "Revenue rose."}, {"role": "user", "content": "And costs?"}],
            max_tokens=1)["timings"]

        results: list[dict] = []
        def one(i):
            results.append(chat(handle, [{"role": "user", "content": f"Count upwards from {i * 100}."}],
                                max_tokens=96, ignore_eos=True)["timings"])
        t0 = time.monotonic()
        threads = [threading.Thread(target=one, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.monotonic() - t0
        mem = memory(handle.pid)
        return {
            "cpu_pressure_avg60": cpu_pressure(), "loadavg": os.getloadavg(),
            "model": entry.name, "file": str(path), "file_bytes": entry.size,
            "server_start_s": round(start_s, 2),
            "load_s": load_seconds_from_log(handle.log_path, handle.pid),
            "prompt_tokens": prompt[0]["prompt_n"],
            "prompt_tok_s": round(statistics.median(t["prompt_per_second"] for t in prompt), 1),
            "gen_tokens": gen[0]["predicted_n"],
            "gen_tok_s": round(statistics.median(t["predicted_per_second"] for t in gen), 1),
            "prompt_cache": {"cold_prompt_n": cold["prompt_n"], "cold_prompt_ms": round(cold["prompt_ms"]),
                             "warm_cached_n": warm.get("cache_n"), "warm_prompt_n": warm["prompt_n"],
                             "warm_prompt_ms": round(warm["prompt_ms"])},
            "parallel_2": {"tokens": sum(r["predicted_n"] for r in results), "wall_s": round(wall, 2),
                           "aggregate_gen_tok_s": round(sum(r["predicted_n"] for r in results) / wall, 1)},
            **mem,
            "peak_rss_gb": round(mem["peak_rss_bytes"] / 1e9, 2),
        }
    finally:
        handle.release()
        local_server.stop_servers(f"local:{path}")
        if saved is None:
            os.environ.pop("NBREASON_CACHE")
        else:
            os.environ["NBREASON_CACHE"] = saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["local-small", "local"])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=local_server.DEFAULT_THREADS)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "embedded_runtime.json")
    args = parser.parse_args()

    import xllamacpp

    report = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "loadavg_before": os.getloadavg(), "cpu_pressure_avg60_before": cpu_pressure()},
        "runtime": {"xllamacpp": xllamacpp.__version__, "threads": args.threads,
                    "ctx_per_slot": local_server.DEFAULT_CTX, "parallel": local_server.DEFAULT_PARALLEL},
        "models": [],
    }
    for name in args.models:
        row = bench_model(name, args.reps, args.threads)
        print(json.dumps(row, indent=1), flush=True)
        report["models"].append(row)
    report["machine"]["loadavg_after"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
