"""Whether "verified" can be trusted: per strategy, how often verified answers are right, how many
answers are verified, and how well the confidences are calibrated.

    verified precision   share of verified answers that are right
    coverage             share of answers that are verified
    ECE                  expected calibration error: over 10 equal-width confidence bins, the
                         answer-weighted mean of |accuracy in the bin - mean confidence in the bin|
A reliability diagram (accuracy against confidence, per bin) is drawn beside the accuracy plot.
"""

from __future__ import annotations

from pathlib import Path


BINS = 10


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
             "| strategy | verified | verified precision | coverage | ECE |", "|---|---|---|---|---|"]
    for r in rows:
        precision = "–" if r["verified_precision"] is None else f"{r['verified_precision']:.1%}"
        calibration = "–" if r["ece"] is None else f"{r['ece']:.3f}"
        lines.append(f"| {r['strategy']} | {r['verified']} of {r['problems']} | {precision} | {r['coverage']:.1%} "
                     f"| {calibration} |")
    return lines
