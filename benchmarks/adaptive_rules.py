"""Stopping rules for adaptive sampling, replayed over pools a benchmark already drew: which reaches
vote@8's accuracy with fewer samples, chosen on development problems, reported on held-out ones.

    python benchmarks/adaptive_rules.py --dev benchmarks/results/gsm8k-local-60 \
        --report benchmarks/results/local-gsm8k-adaptive-20 --out benchmarks/results/adaptive_rules.json

A folder needs `pool.jsonl` (8 sampled attempts per problem) and the greedy `single-shot` in
`results.jsonl`. Each rule draws samples in a random order (200 orders per problem, the same for
every rule) and stops as it says; the answer is the product's adaptive vote (`attempts.vote`) over
what was drawn. Rules:

    beta c         the product's rule (`policy.voting.stop_check`): P(leader is the majority) >= c,
                   or the leader cannot be caught
    k agree        stop once the leading answer has k votes (or cannot be caught)
    greedy first   the same rules, with the greedy answer as the first vote: on both slices the
                   greedy answer is at least as often right as one sample (it is the most likely one)

The rule chosen is the most accurate on the development folder among those within the token
target (at most 40% of vote@8's generated tokens); the held-out folder only reports. It re-runs no
model, and the development pool's attempts are unchecked loop runs where the held-out pool's are
single shots (both about 120 tokens, one program each).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nbreason import attempts as engine  # noqa: E402
from nbreason.answers import tally  # noqa: E402
from nbreason.attempts import Attempt  # noqa: E402
from nbreason.bench.grading import grade  # noqa: E402
from nbreason.policy import voting  # noqa: E402

ORDERS = 200
MAX_N = 8
TOKEN_TARGET = 0.40  # of vote@8's generated tokens
BETA = (0.6, 0.7, 0.8, 0.9, 0.95)
AGREE = (2, 3)


def load(folder: Path) -> list[tuple[str, Attempt, list[Attempt], str]]:
    """(problem, greedy attempt, pooled samples, gold) per problem with both."""
    pools, greedy = {}, {}
    for line in (folder / "pool.jsonl").read_text().splitlines():
        row = json.loads(line)
        pools[row["problem"]] = [Attempt(**a) for a in row["attempts"]][:MAX_N]
    for line in (folder / "results.jsonl").read_text().splitlines():
        row = json.loads(line)
        if row["strategy"] == "single-shot":
            greedy[row["problem"]] = (Attempt(**row["attempts"][0]), row["gold"])
    return [(p, greedy[p][0], pools[p], greedy[p][1]) for p in sorted(pools) if p in greedy]


def stops(votes: list[str | None], rule: str, value: float) -> bool:
    if rule == "beta":
        return voting.stop_check(votes, MAX_N, value).stop
    counted = tally(votes)
    v1 = counted.leader.votes if counted.leader else 0
    v2 = counted.runner_up.votes if counted.runner_up else 0
    return len(votes) >= MAX_N or (v1 > 0 and (v1 >= value or v1 - v2 > MAX_N - len(votes)))


def replay(problems, rule: str, value: float, greedy_first: bool) -> dict:
    right = tokens = drawn = 0.0
    cache: dict[tuple[str, str | None], bool] = {}
    for problem, greedy, samples, gold in problems:
        rng = random.Random(problem)  # the same orders for every rule
        for _ in range(ORDERS):
            order = rng.sample(samples, len(samples))
            sequence = ([greedy] + order if greedy_first else order)[:MAX_N]
            used: list[Attempt] = []
            for attempt in sequence:
                used.append(attempt)
                if stops([a.answer for a in used], rule, value):
                    break
            answer = engine.vote("adaptive", used).answer
            if (problem, answer) not in cache:
                cache[(problem, answer)] = bool(grade(answer, gold).correct)
            right += cache[(problem, answer)]
            tokens += sum(a.generated_tokens for a in used)
            drawn += len(used)
    runs = len(problems) * ORDERS
    return {"rule": f"{'greedy first, ' if greedy_first else ''}{rule} {value:g}",
            "accuracy": round(right / runs, 4), "generated_tokens": round(tokens / runs, 1),
            "attempts": round(drawn / runs, 2)}


def measure(folder: Path) -> dict:
    problems = load(folder)
    vote8 = [engine.vote("vote", samples) for _, _, samples, _ in problems]
    base = {"problems": len(problems),
            "vote@8": {"accuracy": round(sum(grade(v.answer, g).correct for v, (_, _, _, g) in zip(vote8, problems))
                                         / len(problems), 4),
                       "generated_tokens": round(sum(sum(a.generated_tokens for a in s) for _, _, s, _ in problems)
                                                 / len(problems), 1)},
            "greedy": {"accuracy": round(sum(grade(g.answer, gold).correct for _, g, _, gold in problems)
                                         / len(problems), 4),
                       "generated_tokens": round(sum(g.generated_tokens for _, g, _, _ in problems) / len(problems), 1)}}
    rows = []
    for greedy_first in (False, True):
        for rule, values in (("beta", BETA), ("agree", AGREE)):
            for value in values:
                row = replay(problems, rule, value, greedy_first)
                row["token_share"] = round(row["generated_tokens"] / base["vote@8"]["generated_tokens"], 3)
                row["points_below_vote8"] = round(100 * (base["vote@8"]["accuracy"] - row["accuracy"]), 1)
                rows.append(row)
    return {**base, "rules": rows}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dev", type=Path, required=True)
    parser.add_argument("--report", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    dev, held = measure(args.dev), measure(args.report)
    within = [r for r in dev["rules"] if r["token_share"] <= TOKEN_TARGET]
    chosen = max(within, key=lambda r: (r["accuracy"], -r["generated_tokens"])) if within else None
    reported = next((r for r in held["rules"] if chosen and r["rule"] == chosen["rule"]), None)
    met = {name: [r["rule"] for r in s["rules"] if r["token_share"] <= TOKEN_TARGET and r["points_below_vote8"] <= 1.0]
           for name, s in (("dev", dev), ("held_out", held))}
    report = {"dev": {"folder": str(args.dev), **dev}, "held_out": {"folder": str(args.report), **held},
              "orders": ORDERS, "token_target": TOKEN_TARGET, "chosen_on_dev": chosen, "chosen_held_out": reported,
              "rules_meeting_target": met}
    text = json.dumps(report, indent=1) + "\n"
    if args.out:
        args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
