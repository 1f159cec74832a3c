"""Summarising a benchmark folder: accuracy with intervals, paired comparisons with single-shot,
vote and adaptive curves over pooled samples, and trust (nbreason/bench/trust.py). Rerunnable on
the files a run left: summary.json and summary.md are rebuilt from results.jsonl and pool.jsonl.
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

from .. import attempts as engine
from ..attempts import Attempt
from . import trust
from .grading import grade

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


# The fields each result file's lines are read by: a line without them is unreadable.
NEEDS = {"results.jsonl": ("problem", "strategy", "gold", "correct", "generated_tokens", "total_tokens", "attempts"),
         "pool.jsonl": ("problem", "base", "attempts"), "passes.jsonl": ("pass", "wall_seconds")}
_LISTED_LINES = 5


def _read_jsonl(path: Path, skipped: list[int] | None = None) -> list[dict]:
    """The readable lines of a result file. A line cut off by a crash or a full disk, or damaged
    otherwise, is left out and its number added to `skipped`, so one bad line never makes
    the rest of an hour's results unreadable."""
    if not path.is_file():
        return []
    needs = NEEDS.get(path.name, ())
    rows = []
    for number, line in enumerate(path.read_bytes().split(b"\n"), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line.decode("utf-8"))
            readable = isinstance(row, dict) and all(key in row for key in needs)
            if readable and "attempts" in needs:
                _attempts(row["attempts"])  # TypeError for attempts of another shape
        except (ValueError, TypeError, RecursionError):  # not UTF-8, not JSON, or nested past the decoder
            readable = False
        if readable:
            rows.append(row)
        elif skipped is not None:
            skipped.append(number)
    return rows


def skipped_note(name: str, lines: list[int]) -> str:
    """'results.jsonl: skipped 2 unreadable lines (4, 9)', as the trace loader says it."""
    listed = ", ".join(map(str, lines[:_LISTED_LINES]))
    more = f", and {len(lines) - _LISTED_LINES} more" if len(lines) > _LISTED_LINES else ""
    return f"{name}: skipped {len(lines)} unreadable line{'s' if len(lines) != 1 else ''} ({listed}{more})"


def _attempts(rows: list[dict]) -> list[Attempt]:
    return [Attempt(**row) for row in rows]  # rows without "code" (pooled results) default to None


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
            hits = sum(grade(engine.vote("vote", list(s)).answer, gold).correct for s in subsets)
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
            k, _ = engine.adaptive_prefix(attempts[:n], n, confidence)
            hits.append(grade(engine.vote("adaptive", attempts[:k]).answer, gold).correct)
            generated.append(sum(a.generated_tokens for a in attempts[:k]))
            total.append(sum(a.total_tokens for a in attempts[:k]))
            used.append(k)
        points.append({"confidence": confidence, "max_n": n, "accuracy": _mean(hits),
                       "generated_tokens": _mean(generated), "total_tokens": _mean(total),
                       "attempts": _mean(used)})
    return points


def summarize(out: Path, meta: dict | None = None) -> dict:
    """Build summary.json and summary.md from the result files in `out` (rerunnable)."""
    unreadable: dict[str, list[int]] = {name: [] for name in NEEDS}
    results = _read_jsonl(out / "results.jsonl", unreadable["results.jsonl"])
    pools = _read_jsonl(out / "pool.jsonl", unreadable["pool.jsonl"])
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
               "trust": trust.trust_rows(results),
               "curves": curves, "failed_lines": failed,
               "passes": _read_jsonl(out / "passes.jsonl", unreadable["passes.jsonl"]),
               "unreadable_lines": {name: lines for name, lines in unreadable.items() if lines}}
    existing = out / "summary.json"
    if meta is None and existing.is_file():
        try:
            summary["meta"] = json.loads(existing.read_text()).get("meta", {})
        except (ValueError, AttributeError, RecursionError):  # damaged: rebuilt without the run's settings
            pass
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
    if summary.get("trust"):
        lines += trust.markdown(summary["trust"])
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
    for name, skipped in (summary.get("unreadable_lines") or {}).items():
        lines += ["", skipped_note(name, skipped) + ": left out of these numbers."]
    passes = summary.get("passes") or []
    if passes:
        lines += ["", "Wall clock per pass: " + "; ".join(f"{p['pass']}: {p['wall_seconds']:.0f} s" for p in passes)]
    return "\n".join(lines) + "\n"
