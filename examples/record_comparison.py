"""Record the two runs `compare_checks.ipynb` puts side by side: the embedded model on one question,
once with nbreason's default checks and once with the self-check off.

    python examples/record_comparison.py
    python examples/record_comparison.py --question "..." --expect 48 --tries 3

Each run takes one to a few minutes on a laptop CPU. The traces go beside this script
(`compare_checked.jsonl`, `compare_unchecked.jsonl`), replacing the ones there. The small model
does not take the same path every time: the script says which run ended right (`--expect`), and
`--tries N` records again, at most N times, until one run ends right and the other wrong.
Re-record after changing the checks, then read the new traces before updating the notebook's
text: it describes what these two runs show.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
QUESTION = "A shop sells pens at 3 for $2. How much do 45 pens cost?"
EXPECT = "30"
RUNS = {  # trace file: the options that differ
    "compare_checked.jsonl": [],  # the defaults: for the embedded model, the self-check recomputes the answer
    "compare_unchecked.jsonl": ["--self-check", "off"],
}


def record(question: str, trace: Path, options: list[str]) -> None:
    command = [sys.executable, "-m", "nbreason.cli", "run", "--model", "local", "--trace", trace.name,
               *options, question]
    print("$", " ".join(command[2:]), flush=True)
    subprocess.run(command, check=True, cwd=trace.parent)  # the trace keeps its bare file name


def answer(trace: Path) -> str | None:
    from nbreason.compare import run_end
    from nbreason.trace import read_trace

    return run_end(read_trace(trace)).answer


def right(value: str | None, expected: str) -> bool:
    try:
        return value is not None and abs(float(value) - float(expected)) < 1e-6
    except ValueError:
        return value is not None and value.strip() == expected.strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--question", default=QUESTION)
    parser.add_argument("--expect", default=EXPECT, help="the right answer, to say which run got it")
    parser.add_argument("--tries", type=int, default=1,
                        help="record again, at most this many times, until one run is right and the other wrong")
    parser.add_argument("--out", type=Path, default=HERE, help="folder for the two traces")
    args = parser.parse_args(argv)
    for attempt in range(1, args.tries + 1):
        answers = {}
        for name, options in RUNS.items():
            record(args.question, args.out / name, options)
            answers[name] = answer(args.out / name)
        verdicts = {name: right(value, args.expect) for name, value in answers.items()}
        for name, value in answers.items():
            print(f"{name}: {value} ({'right' if verdicts[name] else 'wrong'}; expected {args.expect})")
        if len(set(verdicts.values())) == 2:
            return 0
        print(f"try {attempt} of {args.tries}: both runs ended {'right' if any(verdicts.values()) else 'wrong'}",
              file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
