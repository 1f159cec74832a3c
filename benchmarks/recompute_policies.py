"""What recompute rules would have scored, replayed over answers a benchmark already drew.

    python benchmarks/recompute_policies.py benchmarks/results/gsm8k-local-60

The recompute check (nbreason/policy/stopping.py) starts from the loop's greedy answer and
draws independent sampled solutions until some answer has enough votes. Given a bench folder
holding the greedy loop without checks ("loop+no-check") and a pool of sampled loop attempts
("pool.jsonl", base "loop"), this replays several rules over the same answers: how many votes
confirm the first answer, how many replace it, at most how many more solutions, and what to
keep when nothing settles. It re-runs no model, so it is only as good as the assumption that a
recompute solution behaves like a pooled attempt (same prompt, temperature and seeds; a pooled
attempt may take extra steps after an error). Writes recompute_policies.json in the folder.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nbreason.bench.grading import grade  # noqa: E402
from nbreason.policy.voting import answer_key  # noqa: E402


def replay(first: str | None, samples: list[dict], confirm: int, replace: int, extra: int,
           fallback: str) -> tuple[str | None, int, int]:
    """(answer, solutions drawn, generated tokens of those solutions) under one rule."""
    answers = [first]
    tokens = 0
    for sample in samples[:extra]:
        answers.append(sample["answer"])
        tokens += sample["generated_tokens"]
        counts = Counter(k for k in map(answer_key, answers) if k is not None)
        if first is not None and counts[answer_key(first)] >= confirm:
            return first, len(answers) - 1, tokens
        for answer in answers[1:]:
            if answer is not None and counts[answer_key(answer)] >= replace:
                return answer, len(answers) - 1, tokens
    if fallback == "plurality":
        counts = Counter(k for k in map(answer_key, answers) if k is not None)
        if counts:
            best = max(counts.values())
            if first is None or counts[answer_key(first)] < best:
                return next(a for a in answers if a is not None and counts[answer_key(a)] == best), \
                    len(answers) - 1, tokens
    return first, len(answers) - 1, tokens


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
    for confirm, replace, extra, fallback in [(2, 2, 1, "first"), (2, 2, 2, "first"), (2, 2, 3, "first"),
                                              (2, 2, 5, "first"), (2, 2, 7, "first"), (2, 2, 3, "plurality"),
                                              (2, 2, 5, "plurality"), (2, 2, 7, "plurality"),
                                              (2, 3, 3, "first"), (2, 3, 5, "first"), (2, 3, 7, "first"),
                                              (2, 3, 7, "plurality"), (3, 3, 7, "plurality")]:
        correct = won = lost = drawn = generated = 0
        for p in problems:
            base = last[(p, "loop+no-check")]
            answer, n, tokens = replay(base["answer"], pools[p], confirm, replace, extra, fallback)
            ok = grade(answer, base["gold"]).correct
            correct += ok
            drawn += n
            generated += base["generated_tokens"] + tokens
            if p in single:
                won += ok and not single[p]["correct"]
                lost += single[p]["correct"] and not ok
        results.append({"confirm": confirm, "replace": replace, "extra": extra, "fallback": fallback,
                        "problems": len(problems), "accuracy": correct / len(problems),
                        "won_vs_single_shot": won, "lost_vs_single_shot": lost,
                        "solutions_per_problem": drawn / len(problems),
                        "generated_tokens": generated / len(problems)})
    (out / "recompute_policies.json").write_text(json.dumps(results, indent=1))
    print(f"{len(problems)} problems; single-shot {sum(r['correct'] for r in single.values()) / len(single):.1%}")
    print("confirm replace extra fallback   accuracy  won lost  solutions  gen tokens")
    for r in results:
        print(f"{r['confirm']:>7} {r['replace']:>7} {r['extra']:>5} {r['fallback']:>9}   {r['accuracy']:7.1%}  "
              f"{r['won_vs_single_shot']:>3} {r['lost_vs_single_shot']:>4}  {r['solutions_per_problem']:9.2f}  "
              f"{r['generated_tokens']:10.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "benchmarks/results/gsm8k-local-60"))
