"""Running strategies over a data set and summarising accuracy against compute.

Output folder:
    results.jsonl   one line per (problem, strategy): answer, gold, correct, tokens, attempts
    pool.jsonl      per problem, the sampled attempts that vote@k / adaptive@k were read from
    summary.json    per strategy: accuracy with a 95% Wilson interval, mean tokens, seconds;
                    plus the vote@k and adaptive curves
    summary.md      the same as a table
    accuracy_vs_compute.png

Voting strategies share one pool of samples per problem and base: vote@4, vote@8 and
adaptive@8 all read the same 8 attempts (vote@k takes the first k; adaptive stops where
its rule would have stopped). Lines already in results.jsonl / pool.jsonl are kept and
not run again, so an interrupted benchmark resumes where it stopped.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .. import strategies
from ..strategies import Attempt, Sampler, Spec, StrategyResult
from .datasets import Problem
from .grading import grade, grade_problem

ADAPTIVE_CONFIDENCES = (0.6, 0.8, 0.9, 0.95, 0.99)


def wilson(correct: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The 95% Wilson score interval of a proportion (sensible at 0/n and n/n, unlike p ± 2se)."""
    if n == 0:
        return 0.0, 1.0
    p = correct / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def _read_jsonl(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _attempts(rows: list[dict]) -> list[Attempt]:
    return [Attempt(**row) for row in rows]  # rows without "code" (pooled results) default to None


def _all_failed(attempts: list[Attempt]) -> bool:
    """No attempt, or every one ended in an error outside the model's work (not a wrong answer)."""
    return all(a.stop_reason == "error" for a in attempts)


@dataclass
class Bench:
    problems: list[Problem]
    specs: list[Spec]
    sampler: Sampler
    out: Path
    confidence: float = 0.95
    log: Callable[[str], None] = print
    _done: set = field(default_factory=set)

    def __post_init__(self):
        self.out.mkdir(parents=True, exist_ok=True)
        self.results_path = self.out / "results.jsonl"
        self.pool_path = self.out / "pool.jsonl"
        # Failed lines (the model server down, say) are run again on resume; the summary keeps
        # the last line of each (problem, strategy).
        self._done = {(r["problem"], r["strategy"]) for r in _read_jsonl(self.results_path) if not r.get("failed")}
        self._pools = {(r["problem"], r["base"]): _attempts(r["attempts"]) for r in _read_jsonl(self.pool_path)
                       if not _all_failed(_attempts(r["attempts"]))}

    def _append(self, path: Path, row: dict) -> None:
        # One write of the whole line in append mode, so two benchmarks sharing a folder never
        # interleave parts of their lines.
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (json.dumps(row) + "\n").encode())
        finally:
            os.close(fd)

    def _record(self, problem: Problem, result: StrategyResult, pooled: bool = False) -> None:
        verdict = grade_problem(result.answer, problem)
        row = {"problem": problem.id, "strategy": result.strategy, "gold": problem.gold,
               "correct": verdict.correct, "graded_by": verdict.how, **result.to_json(),
               "failed": _all_failed(result.attempts)}
        if pooled:  # the attempts' code is in pool.jsonl already; do not repeat it per strategy
            for attempt in row["attempts"]:
                attempt.pop("code", None)
        self._append(self.results_path, row)
        self._done.add((problem.id, result.strategy))

    def pool_sizes(self) -> dict[str, int]:
        """Samples needed per pool ("loop", "single-shot", "loop+self-check", ...)."""
        sizes: dict[str, int] = {}
        for spec in self.specs:
            if spec.sampled:
                sizes[spec.pool] = max(sizes.get(spec.pool, 0), spec.n)
        return sizes

    async def _standalone(self, spec: Spec, problem: Problem) -> bool:
        name = spec.name
        if (problem.id, name) in self._done:
            return False
        try:
            result = await strategies.run(spec, problem.question, self.sampler)
        except Exception as exc:  # one broken problem must not end the benchmark; it counts as wrong
            result = StrategyResult(name, None, f"failed: {type(exc).__name__}: {exc}")
        self._record(problem, result)
        return True

    async def _pool(self, base: str, size: int, problem: Problem) -> bool:
        have = self._pools.get((problem.id, base), [])
        sampled = len(have) < size
        if sampled:
            spec = next(s for s in self.specs if s.sampled and s.pool == base)
            more = await self.sampler.sample(problem.question, spec.base, size - len(have), start=len(have),
                                             overrides=spec.overrides)
            have = have + more
            self._pools[(problem.id, base)] = have
            self._append(self.pool_path, {"problem": problem.id, "base": base,
                                          "attempts": [a.to_json() for a in have]})
        for spec in self.specs:
            if spec.sampled and spec.pool == base and (problem.id, spec.name) not in self._done:
                self._record(problem, strategies.from_pool(spec, have, self.confidence), pooled=True)
        return sampled

    async def run(self) -> None:
        for spec in self.specs:
            if spec.sampled:
                continue
            await self._pass(spec.name, lambda p, s=spec: self._standalone(s, p))
        for base, size in self.pool_sizes().items():
            await self._pass(f"pool of {size} {base} samples", lambda p, b=base, n=size: self._pool(b, n, p))

    async def _pass(self, label: str, job) -> None:
        started = time.monotonic()
        self.log(f"{label}: {len(self.problems)} problems, {self.sampler.parallel} at a time")
        finished = ran = 0

        async def one(problem: Problem) -> None:
            nonlocal finished, ran
            ran += bool(await job(problem))
            finished += 1
            if finished % 10 == 0 or finished == len(self.problems):
                self.log(f"  {label}: {finished}/{len(self.problems)} after {time.monotonic() - started:.0f} s")

        # Problems run concurrently; the sampler's slots bound how many attempts are live.
        await asyncio.gather(*(one(p) for p in self.problems))
        if not ran:  # everything was already done: no pass to time
            return
        self._append(self.out / "passes.jsonl", {"pass": label, "problems": ran,
                                                  "wall_seconds": round(time.monotonic() - started, 1),
                                                  "parallel": self.sampler.parallel})


# -- summarising ---------------------------------------------------------------------------

def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def strategy_rows(results: list[dict], problem_ids: list[str] | None = None) -> list[dict]:
    last = {(row["problem"], row["strategy"]): row for row in results}  # a rerun line replaces a failed one
    by_strategy: dict[str, list[dict]] = {}
    for (problem, strategy), row in last.items():
        if problem_ids is None or problem in problem_ids:
            by_strategy.setdefault(strategy, []).append(row)
    rows = []
    for name, items in by_strategy.items():
        n, correct = len(items), sum(bool(r["correct"]) for r in items)
        low, high = wilson(correct, n)
        rows.append({
            "strategy": name, "problems": n, "correct": correct, "accuracy": correct / n,
            "ci_low": low, "ci_high": high,
            "generated_tokens": _mean([r["generated_tokens"] for r in items]),
            "total_tokens": _mean([r["total_tokens"] for r in items]),
            "attempts": _mean([len(r["attempts"]) for r in items]),
            "seconds": _mean([sum(a["seconds"] for a in r["attempts"]) for r in items]),
        })
    return rows


def paired(results: list[dict], baseline: str = "single-shot") -> list[dict]:
    """Each strategy against the baseline on the problems both finished: problems it got right
    that the baseline got wrong (won), the reverse (lost), and the exact two-sided McNemar
    p-value of that split: whether "beats the baseline" is more than noise."""
    last = {(row["problem"], row["strategy"]): bool(row["correct"]) for row in results}
    base = {p: ok for (p, s), ok in last.items() if s == baseline}
    rows = []
    for name in dict.fromkeys(s for (_, s) in last):
        if name == baseline or not base:
            continue
        pairs = [(ok, base[p]) for (p, s), ok in last.items() if s == name and p in base]
        won = sum(1 for ok, b in pairs if ok and not b)
        lost = sum(1 for ok, b in pairs if b and not ok)
        n = won + lost
        tail = sum(math.comb(n, i) for i in range(min(won, lost) + 1)) / 2 ** n if n else 1.0
        rows.append({"strategy": name, "baseline": baseline, "problems": len(pairs), "won": won, "lost": lost,
                     "p_value": min(1.0, 2 * tail)})
    return rows


def vote_curve(pools: list[tuple[list[Attempt], str]]) -> list[dict]:
    """Accuracy of majority vote over k of the n pooled samples, k = 1..n, averaged over every
    k-subset (exact, no re-running), with mean generated and total tokens."""
    if not pools:
        return []
    n = min(len(p) for p, _ in pools)
    points = []
    for k in range(1, n + 1):
        accuracies, generated, total = [], [], []
        for attempts, gold in pools:
            subsets = list(itertools.combinations(attempts[:n], k))
            hits = sum(grade(strategies.vote_on(list(s)).answer, gold).correct for s in subsets)
            accuracies.append(hits / len(subsets))
            generated.append(k * _mean([a.generated_tokens for a in attempts[:n]]))
            total.append(k * _mean([a.total_tokens for a in attempts[:n]]))
        points.append({"k": k, "accuracy": _mean(accuracies), "generated_tokens": _mean(generated),
                       "total_tokens": _mean(total)})
    return points


def adaptive_curve(pools: list[tuple[list[Attempt], str]], confidences=ADAPTIVE_CONFIDENCES) -> list[dict]:
    if not pools:
        return []
    n = min(len(p) for p, _ in pools)
    points = []
    for confidence in confidences:
        hits, generated, total, used = [], [], [], []
        for attempts, gold in pools:
            k, _ = strategies.adaptive_prefix(attempts[:n], n, confidence)
            hits.append(grade(strategies.vote_on(attempts[:k]).answer, gold).correct)
            generated.append(sum(a.generated_tokens for a in attempts[:k]))
            total.append(sum(a.total_tokens for a in attempts[:k]))
            used.append(k)
        points.append({"confidence": confidence, "max_n": n, "accuracy": _mean(hits),
                       "generated_tokens": _mean(generated), "total_tokens": _mean(total),
                       "attempts": _mean(used)})
    return points


def summarize(out: Path, meta: dict | None = None) -> dict:
    """Build summary.json and summary.md from the result files in `out` (rerunnable)."""
    results = _read_jsonl(out / "results.jsonl")
    pools = _read_jsonl(out / "pool.jsonl")
    gold = {r["problem"]: r["gold"] for r in results}
    failed = sum(1 for r in {(r["problem"], r["strategy"]): r for r in results}.values() if r.get("failed"))
    latest: dict[tuple, dict] = {}
    for row in pools:  # a resumed pool is appended again, longer; keep the last line
        latest[(row["problem"], row["base"])] = row
    curves = {}
    for base in sorted({b for _, b in latest}):
        entries = [(_attempts(r["attempts"]), gold[p]) for (p, b), r in latest.items() if b == base and p in gold]
        curves[base] = {"vote": vote_curve(entries), "adaptive": adaptive_curve(entries)}
    rows = strategy_rows(results)
    common = None
    if len({r["problems"] for r in rows}) > 1:  # unequal sets: also compare on the shared problems
        sets = [{p for (p, s) in {(r["problem"], r["strategy"]) for r in results} if s == row["strategy"]} for row in rows]
        shared = sorted(set.intersection(*sets))
        common = {"problems": len(shared), "strategies": strategy_rows(results, set(shared))}
    summary = {"meta": meta or {}, "strategies": rows, "common": common, "paired": paired(results),
               "curves": curves, "failed_lines": failed,
               "passes": _read_jsonl(out / "passes.jsonl")}
    existing = out / "summary.json"
    if meta is None and existing.is_file():
        summary["meta"] = json.loads(existing.read_text()).get("meta", {})
    existing.write_text(json.dumps(summary, indent=1))
    (out / "summary.md").write_text(markdown(summary))
    return summary


def markdown(summary: dict) -> str:
    meta = summary.get("meta", {})
    lines = []
    if meta:
        lines.append("Run: " + ", ".join(f"{k}={v}" for k, v in meta.items()) + "\n")
    lines += ["| strategy | problems | accuracy | 95% CI | gen tokens/problem | total tokens/problem | attempts | attempt-seconds/problem |",
              "|---|---|---|---|---|---|---|---|"]
    for r in summary["strategies"]:
        lines.append(f"| {r['strategy']} | {r['problems']} | {r['accuracy']:.1%} | {r['ci_low']:.1%}–{r['ci_high']:.1%} "
                     f"| {r['generated_tokens']:.0f} | {r['total_tokens']:.0f} | {r['attempts']:.2f} | {r['seconds']:.1f} |")
    common = summary.get("common")
    if common:
        lines += ["", f"On the {common['problems']} problems every strategy finished:", "",
                  "| strategy | accuracy | 95% CI | gen tokens/problem | total tokens/problem |", "|---|---|---|---|---|"]
        lines += [f"| {r['strategy']} | {r['accuracy']:.1%} | {r['ci_low']:.1%}–{r['ci_high']:.1%} "
                  f"| {r['generated_tokens']:.0f} | {r['total_tokens']:.0f} |" for r in common["strategies"]]
    if summary.get("paired"):
        lines += ["", "Against single-shot, problem by problem (McNemar exact test on the problems that differ):", "",
                  "| strategy | won | lost | p |", "|---|---|---|---|"]
        lines += [f"| {r['strategy']} | {r['won']} | {r['lost']} | {r['p_value']:.2f} |" for r in summary["paired"]]
    for base, curve in summary.get("curves", {}).items():
        if curve["vote"]:
            lines += ["", f"Majority vote over k of the pooled {base} samples (all k-subsets averaged):", "",
                      "| k | accuracy | gen tokens/problem |", "|---|---|---|"]
            lines += [f"| {p['k']} | {p['accuracy']:.1%} | {p['generated_tokens']:.0f} |" for p in curve["vote"]]
        if curve["adaptive"]:
            lines += ["", f"Adaptive sampling (Beta stopping rule) over the same {base} samples:", "",
                      "| confidence | accuracy | attempts used | gen tokens/problem |", "|---|---|---|---|"]
            lines += [f"| {p['confidence']} | {p['accuracy']:.1%} | {p['attempts']:.2f} of {p['max_n']} | {p['generated_tokens']:.0f} |"
                      for p in curve["adaptive"]]
    if summary.get("failed_lines"):
        lines += ["", f"{summary['failed_lines']} (problem, strategy) results failed outright (counted as wrong; "
                      "rerun the same command to retry them)."]
    passes = summary.get("passes") or []
    if passes:
        lines += ["", "Wall clock per pass: " + "; ".join(f"{p['pass']}: {p['wall_seconds']:.0f} s" for p in passes)]
    return "\n".join(lines) + "\n"
