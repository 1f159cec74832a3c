"""Whether "verified" can be trusted: per strategy, how often verified answers are right, how many
answers are verified, and how well the confidences are calibrated.

    verified precision   share of verified answers that are right
    coverage             share of answers that are verified
    ECE                  expected calibration error: over 10 equal-width confidence bins, the
                         answer-weighted mean of |accuracy in the bin - mean confidence in the bin|
    ECE 95% interval     a percentile bootstrap over the answers
    ECE by chance        the 95th percentile of the ECE that answers with these confidences would
                         show if every confidence were exact (outcomes drawn from them): on 100
                         answers it is about 0.12, so a measured ECE below it does not show
                         miscalibration, and one above it does
A reliability diagram (accuracy against confidence, per bin) is drawn beside the accuracy plot.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

BINS = 10
DRAWS = 2000  # bootstrap and chance draws: the 2.5th and 97.5th percentiles move by < 0.005 beyond this


def trust_rows(results: list[dict]) -> list[dict]:
    last = {(row["problem"], row["strategy"]): row for row in results}
    by_strategy: dict[str, list[dict]] = {}
    for (_, strategy), row in last.items():
        by_strategy.setdefault(strategy, []).append(row)
    rows = []
    for name, items in by_strategy.items():
        verified = [r for r in items if r.get("verified")]
        right = sum(bool(r["correct"]) for r in verified)
        from .summary import wilson

        low, high = wilson(right, len(verified))
        scored = [(float(r["confidence"]), bool(r["correct"])) for r in items
                  if isinstance(r.get("confidence"), (int, float))]
        rows.append({"strategy": name, "problems": len(items), "verified": len(verified), "verified_right": right,
                     "verified_precision": right / len(verified) if verified else None,
                     "precision_ci": [low, high] if verified else None,
                     "coverage": len(verified) / len(items) if items else 0.0,
                     "with_confidence": len(scored), "ece": ece(scored) if scored else None,
                     "ece_interval": ece_interval(scored) if scored else None,
                     "ece_by_chance": ece_by_chance(scored) if scored else None,
                     "reliability": reliability(scored)})
    return rows


def reliability(scored: list[tuple[float, bool]]) -> list[dict]:
    """Per confidence bin: how many answers, their mean confidence, and the share that were right."""
    bins = []
    for i in range(BINS):
        low, high = i / BINS, (i + 1) / BINS
        inside = [(c, ok) for c, ok in scored if low <= c < high or (i == BINS - 1 and c == 1.0)]
        if inside:
            bins.append({"low": low, "high": high, "answers": len(inside),
                         "confidence": sum(c for c, _ in inside) / len(inside),
                         "accuracy": sum(ok for _, ok in inside) / len(inside)})
    return bins


def ece(scored: list[tuple[float, bool]]) -> float:
    total = len(scored)
    return sum(b["answers"] / total * abs(b["accuracy"] - b["confidence"]) for b in reliability(scored))


def _eces(confidence: np.ndarray, outcome: np.ndarray) -> np.ndarray:
    """ECE of each row of paired (draws × answers) arrays, binned as `reliability` bins."""
    edges = np.arange(1, BINS) / BINS
    bins = np.searchsorted(edges, confidence, side="right")  # bin i holds i/BINS <= c < (i+1)/BINS
    rows = np.repeat(np.arange(confidence.shape[0])[:, None], confidence.shape[1], axis=1)
    gap = np.zeros((confidence.shape[0], BINS))
    np.add.at(gap, (rows, bins), outcome - confidence)  # per bin: right answers minus summed confidence
    return np.abs(gap).sum(axis=1) / confidence.shape[1]


def ece_interval(scored: list[tuple[float, bool]], seed: int = 0) -> list[float]:
    """95% percentile bootstrap interval of the ECE, resampling answers."""
    c, ok = np.array([s[0] for s in scored]), np.array([float(s[1]) for s in scored])
    pick = np.random.default_rng(seed).integers(0, len(scored), size=(DRAWS, len(scored)))
    low, high = np.percentile(_eces(c[pick], ok[pick]), [2.5, 97.5])
    return [round(float(low), 4), round(float(high), 4)]


def ece_by_chance(scored: list[tuple[float, bool]], seed: int = 0) -> float:
    """The 95th percentile of the ECE if each answer were right with exactly its confidence: what
    sampling alone gives on this many answers."""
    c = np.array([s[0] for s in scored])
    draws = np.broadcast_to(c, (DRAWS, len(c)))
    outcome = (np.random.default_rng(seed).random((DRAWS, len(c))) < draws).astype(float)
    return round(float(np.percentile(_eces(draws, outcome), 95)), 4)


def plot_reliability(rows: list[dict], path: Path, title: str = "") -> Path | None:
    rows = [r for r in rows if r["reliability"]]
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 5), dpi=120)
    ax.plot([0, 1], [0, 1], ":", color="gray", label="perfectly calibrated")
    for row in rows:
        bins = row["reliability"]
        ax.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], "-o",
                label=f"{row['strategy']} (ECE {row['ece']:.3f}, n={row['with_confidence']})")
        for b in bins:
            ax.annotate(str(b["answers"]), (b["confidence"], b["accuracy"]), fontsize=7, xytext=(3, 3),
                        textcoords="offset points", alpha=0.7)
    ax.set_xlabel("confidence (mean in bin)")
    ax.set_ylabel("accuracy in bin")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.grid(True, alpha=0.3)
    ax.set_title(title or "reliability: are confidences calibrated?")
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def markdown(rows: list[dict]) -> list[str]:
    lines = ["", "Trust (verified = confidence at or above the cut-off):", "",
             "| strategy | verified | verified precision | coverage | ECE | ECE 95% interval | ECE by chance (95th pct.) |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        precision = "–" if r["verified_precision"] is None else f"{r['verified_precision']:.1%}"
        calibration = "–" if r["ece"] is None else f"{r['ece']:.3f}"
        interval = "–" if not r.get("ece_interval") else "{:.3f}–{:.3f}".format(*r["ece_interval"])
        chance = "–" if r.get("ece_by_chance") is None else f"{r['ece_by_chance']:.3f}"
        lines.append(f"| {r['strategy']} | {r['verified']} of {r['problems']} | {precision} | {r['coverage']:.1%} "
                     f"| {calibration} | {interval} | {chance} |")
    lines += ["", "ECE by chance: what answers with these confidences would show if every confidence were exact "
              "(the 95th percentile); an ECE below it does not show miscalibration."]
    return lines
