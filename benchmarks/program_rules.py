"""What the rules on a program's own result would have flagged, replayed over every program the
recorded benchmark runs wrote. No model is run.

    python benchmarks/program_rules.py

Each result line of `benchmarks/results/*/results.jsonl` (archive included) holds its attempts'
final programs (`code`, with the answer they gave) and, for loop runs, the independent solutions'
programs. Each is judged by policy/clamping.py as the product judges it, and graded against the
problem's gold answer. A rule worth its veto flags wrong answers only. Folders are grouped by the
slice they ran on: development (tuning) or held out. Writes benchmarks/results/program_rules.json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nbreason.bench.grading import grade  # noqa: E402
from nbreason.policy.clamping import clamping  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
HELD_OUT = ("heldout", "report")  # folder names of runs on slices no rule was tuned on


def programs(line: dict):
    """(method, code, answer) of every program a result line records."""
    for attempt in line.get("attempts") or []:
        if attempt.get("code"):
            yield "program", attempt["code"], attempt.get("answer")
        for solution in attempt.get("solutions") or []:
            if solution.get("code"):
                yield solution.get("method") or "?", solution["code"], solution.get("answer")


def main() -> None:
    folders: dict[str, dict] = {}
    for path in sorted(RESULTS.glob("**/results.jsonl")):
        name = str(path.parent.relative_to(RESULTS))
        seen = folders.setdefault(name, {"slice": "held out" if any(h in name for h in HELD_OUT) else "development",
                                         "programs": 0, "flagged": []})
        for raw in path.read_text(encoding="utf-8").splitlines():
            try:
                line = json.loads(raw)
            except json.JSONDecodeError:
                continue
            for method, code, answer in programs(line):
                seen["programs"] += 1
                signals = clamping(answer, [code])
                if signals:
                    seen["flagged"].append({"problem": line.get("problem"), "strategy": line.get("strategy"),
                                            "method": method, "answer": answer, "gold": line.get("gold"),
                                            "right": grade(answer, str(line.get("gold"))).correct,
                                            "why": signals[0].reason})
    totals = {}
    for part in ("development", "held out"):
        mine = [f for f in folders.values() if f["slice"] == part]
        flagged = [x for f in mine for x in f["flagged"]]
        totals[part] = {"programs": sum(f["programs"] for f in mine), "flagged": len(flagged),
                        "flagged_right": sum(x["right"] for x in flagged)}
    out = {"rule": "clamped (policy/clamping.py)", "totals": totals,
           "folders": {k: v for k, v in folders.items() if v["flagged"]}}
    (RESULTS / "program_rules.json").write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(totals, indent=1))


if __name__ == "__main__":
    main()
