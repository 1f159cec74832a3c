"""Each data question once through the product, the way `%%reason --with df` runs it.

    PYTHONPATH=$PWD python benchmarks/data_questions_smoke.py                    # all 40, default protocol
    PYTHONPATH=$PWD python benchmarks/data_questions_smoke.py --split tune --protocol tools \\
        --out benchmarks/results/data-questions-tools-tune
    PYTHONPATH=$PWD python benchmarks/data_questions_smoke.py --split tune --compare \\
        benchmarks/results/data-questions-smoke benchmarks/results/data-questions-tools-tune \\
        --out benchmarks/results/data-questions-protocols.md

One question at a time (the model server is shared), through `nbreason.runner.reason` with
`variables={...}` and the configuration `load_config({"model": ...})` gives. Lines already in
results.jsonl for the same question text and settings are kept and not run again, so an
interrupted run resumes; a changed question is run again. A lock file keeps a second copy of
this script from running at the same time (--wait queues it). summary.md is rebuilt at the end (or alone with
--summarize-only).
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import hashlib
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nbreason.bench import data_questions, grading  # noqa: E402
from nbreason.bench.cli import source_version  # noqa: E402
from nbreason.bench.run import wilson  # noqa: E402
from nbreason.config import load as load_config  # noqa: E402
from nbreason.events import Error, ModelCall  # noqa: E402


VERSION = source_version()  # the commit measured, read before the tree can change under a long run


def question_hash(problem) -> str:
    text = json.dumps([problem.question, problem.gold, problem.variables], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def read_rows(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def settings(args) -> dict:
    return {"model": args.model, "protocol": args.protocol}


def row_for(problem, result, seconds: float, args) -> dict:
    verdict = grading.grade_data(result.answer, problem)
    errors = []
    for step in result.steps:
        error = (step.execution or {}).get("error") if step.execution else None
        if error:
            errors.append(f"{error['name']}: {str(error['value'])[:160]}")
    calls = [e for e in result.events if isinstance(e, ModelCall)]
    fatal = [e.message for e in result.events if isinstance(e, Error) and e.fatal]
    code = [s.code for s in result.steps if getattr(s, "code", None)]
    return {
        "id": problem.id, "split": problem.meta["split"], "kind": problem.meta["kind"],
        "hash": question_hash(problem), **settings(args), "nbreason": VERSION,
        "gold": problem.gold, "answer": result.answer, "correct": verdict.correct, "graded_by": verdict.how,
        "stop_reason": result.stop_reason, "steps": len(result.steps), "seconds": round(seconds, 1),
        "prompt_tokens": result.usage.prompt_tokens, "completion_tokens": result.usage.completion_tokens,
        "model_calls": len(calls), "tool_calls": sum(len(c.tool_calls) for c in calls),
        "code_errors": errors, "fatal": fatal, "last_code": code[-1] if code else None,
    }


async def run(args, problems, out: Path) -> None:
    from nbreason.models import make_model
    from nbreason.runner import reason

    results = out / "results.jsonl"
    done = {(r["id"], r["hash"]) for r in read_rows(results) if not r.get("fatal")}
    config = load_config({"model": args.model, "protocol": args.protocol})
    model = await make_model(config)  # one client for every question; the runner leaves it open
    try:
        for problem in problems:
            if (problem.id, question_hash(problem)) in done:
                continue
            trace = out / "traces" / f"{problem.id}.jsonl"
            trace.parent.mkdir(parents=True, exist_ok=True)
            trace.unlink(missing_ok=True)
            started = time.monotonic()
            result = await reason(problem.question, config=config.replace(trace=str(trace)), model=model,
                                  variables=data_questions.build_variables(problem))
            row = row_for(problem, result, time.monotonic() - started, args)
            with open(results, "a") as fh:
                fh.write(json.dumps(row) + "\n")
            print(f"{problem.id}: {'right' if row['correct'] else 'WRONG'} {row['answer']!r} "
                  f"(gold {row['gold']!r}, {row['stop_reason']}, {row['seconds']:.0f} s)", flush=True)
    finally:
        await model.close()


def what_happened(row: dict) -> str:
    if row["fatal"]:
        return "run failed: " + row["fatal"][-1][:120]
    if row["answer"] is None:
        last = row["code_errors"][-1] if row["code_errors"] else row["stop_reason"]
        return f"no answer ({last[:120]})"
    errors = sorted({e.split(":")[0] for e in row["code_errors"]})
    note = f"; code errors on the way: {', '.join(errors)}" if errors else ""
    return f"answered {str(row['answer'])[:60]!r}, gold {row['gold']!r} ({row['stop_reason']}){note}"


def summarize(out: Path, problems) -> str:
    latest = latest_rows(out, problems)
    rows = [latest[p.id] for p in problems if p.id in latest]
    lines = ["# Data questions: one run each", ""]
    if rows:
        lines.append(f"Model {rows[0]['model']}, protocol {rows[0]['protocol']}; {len(rows)} of {len(problems)} "
                     "questions run, one at a time, with the product's default settings otherwise.")
        lines.append("")
        lines += ["| set | right | accuracy | 95% CI | mean s/question | mean prompt tokens |", "|---|---|---|---|---|---|"]
        for name, subset in (("all", rows), ("tune", [r for r in rows if r["split"] == "tune"]),
                             ("report", [r for r in rows if r["split"] == "report"])):
            if not subset:
                continue
            right = sum(r["correct"] for r in subset)
            low, high = wilson(right, len(subset))
            lines.append(f"| {name} | {right}/{len(subset)} | {right / len(subset):.0%} | {low:.0%}–{high:.0%} "
                         f"| {sum(r['seconds'] for r in subset) / len(subset):.0f} "
                         f"| {sum(r['prompt_tokens'] for r in subset) / len(subset):.0f} |")
        lines += ["", "Wrong answers (automatic account; see the notes below for why):", ""]
        lines += [f"- {r['id']}: {what_happened(r)}" for r in rows if not r["correct"]]
    text = "\n".join(lines) + "\n"
    notes = out / "notes.md"
    if notes.is_file():
        text += "\n" + notes.read_text()
    (out / "summary.md").write_text(text)
    return text


def latest_rows(out: Path, problems) -> dict[str, dict]:
    """The last line of each question as it is now (lines for an older wording are ignored)."""
    wanted = {p.id: question_hash(p) for p in problems}
    return {row["id"]: row for row in read_rows(out / "results.jsonl") if wanted.get(row["id"]) == row["hash"]}


def compare(folders: list[Path], problems, out: Path) -> str:
    """Two runs on the same questions, side by side: accuracy, cost, and the questions they split on."""
    runs = [latest_rows(folder, problems) for folder in folders]
    shared = [p.id for p in problems if all(p.id in run for run in runs)]
    lines = ["| run | protocol | right | accuracy | 95% CI | mean s/question | mean prompt tokens "
             "| mean completion tokens | tool calls |", "|---|---|---|---|---|---|---|---|---|"]
    for folder, run in zip(folders, runs):
        rows = [run[i] for i in shared]
        right = sum(r["correct"] for r in rows)
        low, high = wilson(right, len(rows))
        mean = lambda key: sum(r[key] for r in rows) / max(1, len(rows))  # noqa: E731
        lines.append(f"| {folder.name} | {rows[0]['protocol'] if rows else '?'} | {right}/{len(rows)} "
                     f"| {right / max(1, len(rows)):.0%} | {low:.0%}–{high:.0%} | {mean('seconds'):.0f} "
                     f"| {mean('prompt_tokens'):.0f} | {mean('completion_tokens'):.0f} | {mean('tool_calls'):.1f} |")
    if len(runs) == 2:
        a, b = runs
        only_a = [i for i in shared if a[i]["correct"] and not b[i]["correct"]]
        only_b = [i for i in shared if b[i]["correct"] and not a[i]["correct"]]
        lines += ["", f"Right only with {folders[0].name}: {', '.join(only_a) or 'none'}",
                  f"Right only with {folders[1].name}: {', '.join(only_b) or 'none'}"]
    text = "\n".join(lines) + "\n"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    return text


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="local")
    p.add_argument("--protocol", default=None, help="auto, text or tools (default: the configuration's)")
    p.add_argument("--split", default=None, choices=("tune", "report"))
    p.add_argument("--only", default="", help="comma-separated question ids")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "data-questions-smoke"))
    p.add_argument("--summarize-only", action="store_true")
    p.add_argument("--wait", action="store_true", help="wait for a run already going, then start")
    p.add_argument("--compare", nargs=2, metavar="FOLDER", default=None,
                   help="write a side-by-side table of two result folders to --out (a .md file) and stop")
    args = p.parse_args(argv)
    if args.compare:
        print(compare([Path(f) for f in args.compare], data_questions.problems(split=args.split), Path(args.out)))
        return 0
    args.protocol = args.protocol or load_config({}).protocol
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    problems = data_questions.problems(split=args.split)
    if args.only:
        keep = set(args.only.split(","))
        problems = [q for q in problems if q.id in keep]
    if not args.summarize_only:
        # One run at a time across every output folder: the model server is shared.
        with open(ROOT / "benchmarks" / "results" / ".data-questions.lock", "w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | (0 if args.wait else fcntl.LOCK_NB))
            except BlockingIOError:
                print("another data-question run is going; not starting a second one (--wait queues)",
                      file=sys.stderr)
                return 1
            asyncio.run(run(args, problems, out))
    print(summarize(out, data_questions.problems(split=args.split)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
