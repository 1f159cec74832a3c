"""What recompute rules would have scored, replayed over answers a benchmark already drew.

    python benchmarks/recompute_policies.py benchmarks/results/gsm8k-local-60

The recompute check (nbreason/policy/stopping.py) starts from the loop's greedy answer and
draws independent sampled solutions until some answer has enough votes. Given a bench folder
holding the greedy loop without checks ("loop+no-check") and a pool of sampled loop attempts
("pool.jsonl", base "loop"), this replays several rules over the same answers: how many votes
confirm the first answer, how many replace it, at most how many more solutions, and what to
keep when nothing settles (the most-voted answer). It re-runs no model, so it is only as good as the assumption that a
recompute solution behaves like a pooled attempt (same prompt, temperature and seeds; a pooled
attempt may take extra steps after an error). Writes recompute_policies.json in the folder.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nbreason.bench.grading import grade  # noqa: E402
from nbreason.policy.verification import Verification  # noqa: E402


def replay(first: str | None, samples: list[dict], confirm: int, replace: int,
           extra: int) -> tuple[str | None, int, int]:
    """(answer, solutions drawn, their generated tokens) under one rule, with the product's own
    `Verification` deciding, as the loop does after each solution."""
    if first is None:  # the loop had no answer to check
        return None, 0, 0
    check = Verification(first, extra=extra, confirm=confirm, replace=replace)
    tokens = 0
    for sample in samples[:extra]:
        check.add(sample["answer"])
        tokens += sample["generated_tokens"]
        if check.settled() is not None:
            return check.settled(), check.extra_done, tokens
    return check.plurality(), check.extra_done, tokens


def main(folder: str) -> int:
    out = Path(folder)
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines() if line.strip()]
    last = {(r["problem"], r["strategy"]): r for r in rows}
    pools = {}
    for line in (out / "pool.jsonl").read_text().splitlines():
        row = json.loads(line)
        if row["base"] == "loop":
            pools[row["problem"]] = row["attempts"]
    problems = [p for (p, s) in last if s == "loop+no-check" and p in pools]
    single = {p: last[(p, "single-shot")] for p in problems if (p, "single-shot") in last}
    results = []
    for confirm, replace, extra in [(2, 2, 1), (2, 2, 3), (2, 2, 5), (2, 2, 7), (2, 3, 3), (2, 3, 5), (2, 3, 7),
                                    (3, 3, 5), (3, 3, 7), (2, 4, 7)]:
        correct = won = lost = drawn = generated = 0
        for p in problems:
            base = last[(p, "loop+no-check")]
            # the loop checks only an answer that passed its other signals
            first = base["answer"] if base["attempts"][0]["stop_reason"] == "answered" else None
            answer, n, tokens = replay(first, pools[p], confirm, replace, extra)
            answer = answer if first is not None else base["answer"]
            ok = grade(answer, base["gold"]).correct
            correct += ok
            drawn += n
            generated += base["generated_tokens"] + tokens
            if p in single:
                won += ok and not single[p]["correct"]
                lost += single[p]["correct"] and not ok
        results.append({"confirm": confirm, "replace": replace, "extra": extra,
                        "problems": len(problems), "accuracy": correct / len(problems),
                        "won_vs_single_shot": won, "lost_vs_single_shot": lost,
                        "solutions_per_problem": drawn / len(problems),
                        "generated_tokens": generated / len(problems)})
    (out / "recompute_policies.json").write_text(json.dumps(results, indent=1))
    print(f"{len(problems)} problems; single-shot {sum(r['correct'] for r in single.values()) / len(single):.1%}")
    print("confirm replace extra   accuracy  won lost  solutions  gen tokens")
    for r in results:
        print(f"{r['confirm']:>7} {r['replace']:>7} {r['extra']:>5}   {r['accuracy']:7.1%}  "
              f"{r['won_vs_single_shot']:>3} {r['lost_vs_single_shot']:>4}  {r['solutions_per_problem']:9.2f}  "
              f"{r['generated_tokens']:10.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "benchmarks/results/gsm8k-local-60"))
