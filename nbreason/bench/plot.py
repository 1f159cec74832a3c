"""The accuracy-versus-compute figure: one point per strategy, one line per curve.

x is mean generated tokens per problem (log scale): the compute spent at answer time.
y is accuracy with its 95% Wilson interval as error bars.
"""

from __future__ import annotations

from pathlib import Path


def plot(summary: dict, path: Path, title: str = "") -> Path:
    import matplotlib

    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 4.8), dpi=120)
    for row in summary["strategies"]:
        x, y = max(row["generated_tokens"], 1.0), row["accuracy"]
        ax.errorbar([x], [y], yerr=[[y - row["ci_low"]], [row["ci_high"] - y]], fmt="o", capsize=3,
                    label=f"{row['strategy']} ({y:.0%}, n={row['problems']})")
    for base, curve in summary.get("curves", {}).items():
        if curve.get("vote"):
            points = curve["vote"]
            ax.plot([max(p["generated_tokens"], 1.0) for p in points], [p["accuracy"] for p in points],
                    "-", alpha=0.6, label=f"vote@k, k=1..{points[-1]['k']} ({base} samples)")
            for p in points:
                ax.annotate(str(p["k"]), (max(p["generated_tokens"], 1.0), p["accuracy"]), fontsize=7,
                            xytext=(2, -9), textcoords="offset points", alpha=0.7)
        if curve.get("adaptive"):
            points = curve["adaptive"]
            ax.plot([max(p["generated_tokens"], 1.0) for p in points], [p["accuracy"] for p in points],
                    "--x", alpha=0.6, label=f"adaptive, confidence {points[0]['confidence']}..{points[-1]['confidence']}")
    ax.set_xscale("log")
    ax.set_xlabel("mean generated tokens per problem (log scale)")
    ax.set_ylabel("accuracy (95% Wilson CI)")
    ax.set_ylim(0, 1)
    ax.grid(True, which="both", alpha=0.3)
    ax.set_title(title or "accuracy vs test-time compute")
    if ax.get_legend_handles_labels()[0]:  # a summary of no readable results has nothing to name
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))  # outside: never over the points
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
