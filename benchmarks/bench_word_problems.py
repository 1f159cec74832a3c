"""The default run on the embedded 1.5B model, on the word problems of benchmarks/word_problems.py
(the README's pens question among them): answer, whether it is right, confidence, which methods
checked it, tokens and seconds. The same problems run in tests/test_word_problems.py (marked slow).

    python benchmarks/bench_word_problems.py
Results: benchmarks/results/word_problems.json
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.word_problems import PROBLEMS  # noqa: E402
from nbreason.bench.grading import grade  # noqa: E402
from nbreason.config import load  # noqa: E402
from nbreason.runner import reason  # noqa: E402


async def main() -> list[dict]:
    rows = []
    for question, gold in PROBLEMS:
        started = time.monotonic()
        result = await reason(question, config=load({"model": "local"}))
        rows.append({"question": question, "gold": gold, "answer": result.answer,
                     "correct": grade(result.answer, gold).correct, "verified": result.verified,
                     "confidence": result.confidence, "stop_reason": result.stop_reason,
                     "solutions": [f"{s.method}: {s.answer}" for s in result.solutions],
                     "generated_tokens": result.usage.completion_tokens, "seconds": round(time.monotonic() - started, 1)})
        print(json.dumps(rows[-1]), flush=True)
    return rows


if __name__ == "__main__":
    rows = asyncio.run(main())
    out = ROOT / "benchmarks" / "results" / "word_problems.json"
    out.write_text(json.dumps({"model": "local (Qwen2.5-Coder-1.5B)", "rows": rows,
                               "correct": sum(r["correct"] for r in rows), "of": len(rows)}, indent=1) + "\n")
