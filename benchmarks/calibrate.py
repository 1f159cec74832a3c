"""Fit the confidence model (nbreason/policy/confidence.py) on development data, and pick the cut-off.

Reads the `results.jsonl` of benchmark folders run on the development slices only (GSM8K problems
0–59, MATH-500 problems 0–49), takes every answer that recorded the features its confidence was
computed from (worked out again from its recorded solutions under today's rules), and fits a logistic regression of "the answer was right" on those features
(Newton's method, a small L2 penalty so separable data stays finite). Then it picks `CUTOFF`: the
lowest confidence at which the development answers at or above it were at least `--precision`
right, with at least `--min-answers` of them.

    python benchmarks/calibrate.py benchmarks/results/gsm8k-dev-60 benchmarks/results/math500-dev-50

It writes benchmarks/results/calibration.json (coefficients, cut-off, what they were fitted on, and
the fit's precision, coverage and calibration error on that data) and prints the two constants to
put into nbreason/policy/confidence.py.

With `--score`, nothing is fitted: the folders' recorded answers are scored again with today's rules
and the confidence.py constants (how a held-out run measured under an earlier calibration reads
under the current one), per folder and strategy:

    python benchmarks/calibrate.py --score benchmarks/results/local-gsm8k-heldout-100 \
        --out benchmarks/results/local-gsm8k-heldout-100/rescored.json

With `--cv`, nothing is fitted for use: simpler calibrations (fewer features, a stronger penalty)
are compared with the one in use by 5-fold cross-validation on the development folders only (log
loss and ECE of the held-back folds), the way a variant would be chosen without a held-out slice:

    python benchmarks/calibrate.py --cv benchmarks/results/local-gsm8k-dev-60 \
        benchmarks/results/local-gsm8k-dev-today-60 --out benchmarks/results/calibration_cv.json

With `--cv --add FOLDER…`, nothing is fitted for use either: it asks whether development answers of
another kind (MATH-500 0–49 beside GSM8K 0–59) belong in the fit. The fit on the first folders alone
is scored on the added answers (which it never saw) and, by 5-fold cross-validation, on its own;
the fit on both is cross-validated over both. Log loss and ECE are given per part, so the pooled fit
is taken only if it is better on the added kind without being worse on the first:

    python benchmarks/calibrate.py --cv benchmarks/results/local-gsm8k-dev-60 \
        benchmarks/results/local-gsm8k-dev-today-60 --add benchmarks/results/local-math500-dev-loop-50 \
        --out benchmarks/results/calibration_pooled.json
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nbreason.bench.grading import grade  # noqa: E402
from nbreason.bench.trust import ece, ece_by_chance, ece_interval  # noqa: E402
from nbreason.policy.confidence import COEFFICIENTS, CUTOFF, Features, confidence, features, verified  # noqa: E402
from nbreason.policy.methods import METHODS, PROGRAM  # noqa: E402
from nbreason.policy.verification import Verification  # noqa: E402

NAMES = [name for name in Features.__dataclass_fields__]


def replayed(attempt: dict) -> tuple[str | None, Features] | None:
    """The answer today's rules give from the attempt's recorded solutions (policy/verification.py,
    replayed: the same solutions, in the same order), with its features worked out again, the
    recorded reward and plausibility kept. Results recorded before a rule or feature changed
    still count."""
    recorded = attempt.get("features")
    if not recorded or attempt.get("answer") is None:
        return None
    solutions = attempt.get("solutions") or []
    check, answer = None, attempt["answer"]
    if len(solutions) > 1:
        mode = "methods" if any(s["method"] != "program" for s in solutions[1:]) else "recompute"
        check = Verification(solutions[0]["answer"], extra=len(solutions), mode=mode,
                             first_ruled_out=solutions[0].get("ruled_out"))
        for s in solutions[1:]:
            check.add(s["answer"], METHODS.get(s["method"], PROGRAM), s.get("sampled", False),
                      veto=lambda value, why=s.get("ruled_out"): why, repeats=s.get("repeats", False))
        answer = check.settled() or check.plurality()
    return answer, features(answer, recorded.get("reward", 0.0), recorded.get("suspicion", 1.0), check)


def rows(folders: list[Path]) -> list[tuple[list[float], bool, str]]:
    out = []
    for folder in folders:
        last = {}
        for line in (folder / "results.jsonl").read_text().splitlines():
            row = json.loads(line)
            last[(row["problem"], row["strategy"])] = row
        for (problem, strategy), row in last.items():
            if len(row["attempts"]) != 1:  # lone runs only: the answer is the attempt's
                continue
            found = replayed(row["attempts"][0])
            if found is not None:
                answer, f = found
                out.append(([float(getattr(f, n)) for n in NAMES], grade(answer, row["gold"]).correct,
                             f"{folder.name}/{strategy}"))
    return out


def fit(x: np.ndarray, y: np.ndarray, penalty: float = 0.1, steps: int = 50) -> np.ndarray:
    """Logistic regression by Newton's method; column 0 of x is the bias."""
    w = np.zeros(x.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-x @ w))
        gradient = x.T @ (p - y) + penalty * np.r_[0, w[1:]]
        hessian = x.T @ (x * (p * (1 - p))[:, None]) + penalty * np.diag(np.r_[0, np.ones(len(w) - 1)])
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w


def cutoff(confidences: list[float], right: list[bool], precision: float, min_answers: int) -> float:
    for c in sorted(set(confidences)):
        chosen = [ok for conf, ok in zip(confidences, right) if conf >= c]
        if len(chosen) >= min_answers and sum(chosen) / len(chosen) >= precision:
            return c
    return 1.0


def score(data: list[tuple[list[float], bool, str]]) -> dict:
    """Per source: accuracy, verified precision, coverage and ECE under today's constants."""
    report = {}
    for source in sorted({src for _, _, src in data}):
        rows = [(Features(*f), ok) for f, ok, src in data if src == source]
        scored = [(confidence(f), ok) for f, ok in rows]
        chosen = [ok for f, ok in rows if verified(confidence(f), f)]
        report[source] = {"answers": len(scored), "accuracy": sum(ok for _, ok in scored) / len(scored),
                          "verified": len(chosen), "verified_right": sum(chosen),
                          "verified_precision": sum(chosen) / len(chosen) if chosen else None,
                          "coverage": len(chosen) / len(scored), "ece": ece(scored),
                          "ece_interval": ece_interval(scored), "ece_by_chance": ece_by_chance(scored)}
    return {"coefficients": COEFFICIENTS, "cutoff": CUTOFF, "scored": report}


VARIANTS = {"all features": NAMES, "without settled": [n for n in NAMES if n != "settled"],
            "share, families, unchecked, suspicion": ["share", "families", "unchecked", "suspicion"],
            "share, unchecked, suspicion": ["share", "unchecked", "suspicion"], "share, unchecked": ["share", "unchecked"]}


def cross_validate(data: list[tuple[list[float], bool, str]], folds: int = 5, seed: int = 0) -> list[dict]:
    """Each variant's log loss and ECE over held-back folds of the development answers."""
    order = list(range(len(data)))
    np.random.default_rng(seed).shuffle(order)
    parts = [set(order[i::folds]) for i in range(folds)]
    y = np.array([1.0 if ok else 0.0 for _, ok, _ in data])
    report = []
    for penalty in (0.1, 1.0, 5.0):
        for name, columns in VARIANTS.items():
            x = np.array([[1.0, *(f[NAMES.index(c)] for c in columns)] for f, _, _ in data])
            p = np.zeros(len(data))
            for part in parts:
                train = [i for i in order if i not in part]
                w = fit(x[train], y[train], penalty)
                held = sorted(part)
                p[held] = 1 / (1 + np.exp(-x[held] @ w))
            p = np.clip(p, 1e-9, 1 - 1e-9)
            report.append({"features": name, "penalty": penalty,
                           "log_loss": round(float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))), 4),
                           "ece": round(ece(list(zip(p.tolist(), [bool(v) for v in y]))), 4)})
    return sorted(report, key=lambda r: r["log_loss"])


def _cv_predictions(x: np.ndarray, y: np.ndarray, folds: int = 5, seed: int = 0) -> np.ndarray:
    order = list(range(len(y)))
    np.random.default_rng(seed).shuffle(order)
    p = np.zeros(len(y))
    for k in range(folds):
        held = sorted(order[k::folds])
        train = [i for i in order if i not in set(held)]
        p[held] = 1 / (1 + np.exp(-x[held] @ fit(x[train], y[train])))
    return p


def _part(p: np.ndarray, y: np.ndarray) -> dict:
    p = np.clip(p, 1e-9, 1 - 1e-9)
    return {"answers": len(y), "accuracy": round(float(y.mean()), 4),
            "log_loss": round(float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))), 4),
            "ece": round(ece(list(zip(p.tolist(), [bool(v) for v in y]))), 4),
            "mean_confidence": round(float(p.mean()), 4)}


def pooled_or_not(first: list[tuple[list[float], bool, str]], added: list[tuple[list[float], bool, str]]) -> dict:
    """The fit on `first` alone against the fit on both, each part scored where it was not fitted."""
    def arrays(data):
        return (np.array([[1.0, *f] for f, _, _ in data]), np.array([1.0 if ok else 0.0 for _, ok, _ in data]))

    x1, y1 = arrays(first)
    x2, y2 = arrays(added)
    alone = fit(x1, y1)
    both = _cv_predictions(np.vstack([x1, x2]), np.r_[y1, y2])
    return {"first_alone": {"first (5-fold)": _part(_cv_predictions(x1, y1), y1),
                            "added (never seen)": _part(1 / (1 + np.exp(-x2 @ alone)), y2)},
            "pooled": {"first (5-fold)": _part(both[:len(y1)], y1), "added (5-fold)": _part(both[len(y1):], y2)}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--precision", type=float, default=0.9)
    parser.add_argument("--min-answers", type=int, default=10)
    parser.add_argument("--score", action="store_true", help="score the folders with today's constants; fit nothing")
    parser.add_argument("--cv", action="store_true", help="compare calibrations by cross-validation; fit nothing")
    parser.add_argument("--add", type=Path, nargs="+", default=[],
                        help="with --cv: development folders of another kind, to ask whether they belong in the fit")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    data = rows(args.folders)
    if not data:
        print("no answers with features in these folders", file=sys.stderr)
        return 2
    if args.cv and args.add:
        added = rows(args.add)
        report = {"folders": [str(f) for f in args.folders], "added": [str(f) for f in args.add], "folds": 5,
                  **pooled_or_not(data, added)}
    elif args.cv:
        report = {"folders": [str(f) for f in args.folders], "answers": len(data), "folds": 5,
                  "variants": cross_validate(data)}
    elif args.score:
        report = score(data)
    if args.cv or args.score:
        if args.out:
            args.out.write_text(json.dumps(report, indent=1) + "\n")
        print(json.dumps(report, indent=1))
        return 0
    args.out = args.out or ROOT / "benchmarks" / "results" / "calibration.json"
    x = np.array([[1.0, *f] for f, _, _ in data])
    y = np.array([1.0 if ok else 0.0 for _, ok, _ in data])
    w = fit(x, y)
    coefficients = {"bias": round(float(w[0]), 3), **{n: round(float(v), 3) for n, v in zip(NAMES, w[1:])}}
    confidences = [1 / (1 + math.exp(-(coefficients["bias"] + sum(coefficients[n] * v for n, v in zip(NAMES, f)))))
                   for f, _, _ in data]
    right = [ok for _, ok, _ in data]
    # only answers two families settled on can be verified (policy/confidence.verified): the cut-off among them
    eligible = [verified(1.0, Features(*f)) for f, _, _ in data]
    cut = round(cutoff([c for c, e in zip(confidences, eligible) if e], [ok for ok, e in zip(right, eligible) if e],
                       args.precision, args.min_answers), 3)
    chosen = [ok for c, ok, e in zip(confidences, right, eligible) if e and c >= cut]
    report = {"coefficients": coefficients, "cutoff": cut, "fitted_on": sorted({src for _, _, src in data}),
              "answers": len(data), "accuracy": sum(right) / len(right),
              "verified_precision": sum(chosen) / len(chosen) if chosen else None,
              "coverage": len(chosen) / len(data), "ece": ece(list(zip(confidences, right))),
              "target_precision": args.precision}
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report, indent=1))
    print(f"\nCOEFFICIENTS = {json.dumps(coefficients)}\nCUTOFF = {cut}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
