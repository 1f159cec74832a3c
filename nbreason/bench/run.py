"""Running strategies over a data set and summarising accuracy against compute.

Output folder:
    results.jsonl   one line per (problem, strategy): answer, gold, correct, tokens, attempts
    pool.jsonl      per problem, the sampled attempts that vote@k / adaptive@k were read from
    summary.json    per strategy: accuracy with a 95% Wilson interval, mean tokens, seconds;
                    plus the vote@k and adaptive curves
    summary.md      the same as a table
    accuracy_vs_compute.png

Voting strategies share one pool of samples per problem and base: vote@4, vote@8 and
adaptive@8 all read the same 8 attempts (vote@k takes the first k; adaptive stops where
its rule would have stopped). Lines already in results.jsonl / pool.jsonl are kept and
not run again, so an interrupted benchmark resumes where it stopped.
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .. import strategies
from ..attempts import Attempt
from ..strategies import Solver, Spec, StrategyResult
from .datasets import Problem
from .grading import grade_problem
from .progress import BenchProgress, OnBenchProgress, StrategyScore
from .summary import _attempts, _read_jsonl, skipped_note


class WriteError(Exception):
    """A result line could not be written (a full disk, say); the lines before it are whole."""


def _all_failed(attempts: list[Attempt]) -> bool:
    """No attempt, or every one ended in an error outside the model's work (not a wrong answer)."""
    return all(a.stop_reason == "error" for a in attempts)


def _kind(base: str) -> str:
    """What one attempt costs like: a single shot, or a loop run (with or without options)."""
    return "single-shot" if base == "single-shot" else "loop"


@dataclass
class _Pass:
    label: str
    kind: str  # "single-shot" or "loop": whose seconds per attempt estimate it
    job: Callable  # problem -> awaitable bool (whether anything ran)
    pending: Callable[[Problem], int]  # attempts still to run for a problem


@dataclass
class Bench:
    problems: list[Problem]
    specs: list[Spec]
    solver: Solver
    out: Path
    confidence: float = 0.95
    on_progress: OnBenchProgress | None = None  # hears a BenchProgress as each problem finishes
    _done: set = field(default_factory=set)

    def __post_init__(self):
        self.out.mkdir(parents=True, exist_ok=True)
        self.results_path = self.out / "results.jsonl"
        self.pool_path = self.out / "pool.jsonl"
        # Failed lines (the model server down, say) are run again on resume; the summary keeps
        # the last line of each (problem, strategy).
        # An unreadable line (cut off by a crash) is skipped: its problem simply runs again.
        skipped: dict[str, list[int]] = {self.results_path.name: [], self.pool_path.name: []}
        rows = _read_jsonl(self.results_path, skipped[self.results_path.name])
        self._done = {(r["problem"], r["strategy"]) for r in rows if not r.get("failed")}
        self._pools = {(r["problem"], r["base"]): _attempts(r["attempts"])
                       for r in _read_jsonl(self.pool_path, skipped[self.pool_path.name])
                       if not _all_failed(_attempts(r["attempts"]))}
        for name, lines in skipped.items():
            if lines:
                print(f"nbreason bench: {self.out}/{skipped_note(name, lines)}; what they held runs again",
                      file=sys.stderr)
        ids = {p.id for p in self.problems}
        self._scores: dict[str, dict[str, bool]] = {spec.name: {} for spec in self.specs}
        for r in rows:  # what a resumed benchmark already knows
            if r["problem"] in ids and r["strategy"] in self._scores and not r.get("failed"):
                self._scores[r["strategy"]][r["problem"]] = bool(r["correct"])
        self._attempts_run = {"single-shot": 0, "loop": 0}
        self._seconds = {"single-shot": 0.0, "loop": 0.0}  # wall clock of passes, by the kind they ran
        self._passes: list[_Pass] = []
        self._phase = (None, 0, 0, 0)  # the pass running, its index, problems done, when it started
        self._started = time.monotonic()

    def _append(self, path: Path, row: dict) -> None:
        # One write of the whole line in append mode, so two benchmarks sharing a folder never
        # interleave parts of their lines. A short write (a full disk) is continued, and on an
        # error the file is cut back to where the line began: never half a line.
        data = (json.dumps(row) + "\n").encode()
        try:
            fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise WriteError(f"cannot write {path}: {exc.strerror or exc}") from None
        start = None
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":  # a line cut off earlier: ours starts afresh
                data = b"\n" + data
            start, written = size, 0
            while written < len(data):
                count = os.write(fd, data[written:])
                if count == 0:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                written += count
        except OSError as exc:
            if start is not None:
                try:
                    os.ftruncate(fd, start)
                except OSError:
                    pass  # the reader skips the partial line
            raise WriteError(f"cannot write {path}: {exc.strerror or exc}") from None
        finally:
            os.close(fd)

    def _record(self, problem: Problem, result: StrategyResult, pooled: bool = False) -> None:
        verdict = grade_problem(result.answer, problem)
        failed = _all_failed(result.attempts)
        row = {"problem": problem.id, "strategy": result.strategy, "gold": problem.gold,
               "correct": verdict.correct, "graded_by": verdict.how, **result.to_json(), "failed": failed}
        if pooled:  # the attempts' code is in pool.jsonl already; do not repeat it per strategy
            for attempt in row["attempts"]:
                attempt.pop("code", None)
        self._append(self.results_path, row)
        self._done.add((problem.id, result.strategy))
        if not failed:
            self._scores.setdefault(result.strategy, {})[problem.id] = bool(verdict.correct)

    def pool_sizes(self) -> dict[str, int]:
        """Samples needed per pool ("loop", "single-shot", "loop+self-check", ...)."""
        sizes: dict[str, int] = {}
        for spec in self.specs:
            if spec.sampled:
                sizes[spec.pool] = max(sizes.get(spec.pool, 0), spec.n)
        return sizes

    async def _standalone(self, spec: Spec, problem: Problem) -> bool:
        name = spec.name
        if (problem.id, name) in self._done:
            return False
        try:
            result = await strategies.run(spec, problem.question, self.solver, confidence=self.confidence,
                                          **_options(problem))
        except Exception as exc:  # one broken problem must not end the benchmark; it counts as wrong
            result = StrategyResult(name, None, f"failed: {type(exc).__name__}: {exc}")
        self._record(problem, result)
        return True

    async def _pool(self, base: str, size: int, problem: Problem) -> bool:
        have = self._pools.get((problem.id, base), [])
        sampled = len(have) < size
        if sampled:
            spec = next(s for s in self.specs if s.sampled and s.pool == base)
            more = (await self.solver.sample(problem.question, size - len(have), start=len(have),
                                             overrides=spec.overrides, **_options(problem))).attempts
            have = have + more
            self._pools[(problem.id, base)] = have
            self._append(self.pool_path, {"problem": problem.id, "base": base,
                                          "attempts": [a.to_json() for a in have]})
        for spec in self.specs:
            if spec.sampled and spec.pool == base and (problem.id, spec.name) not in self._done:
                self._record(problem, strategies.from_pool(spec, have, self.confidence), pooled=True)
        return sampled

    async def run(self) -> None:
        self._started = time.monotonic()
        self._passes = []
        for spec in self.specs:
            if not spec.sampled:
                self._passes.append(_Pass(
                    spec.name, _kind(spec.kind), lambda p, s=spec: self._standalone(s, p),
                    lambda p, n=spec.name: int((p.id, n) not in self._done)))
        for base, size in self.pool_sizes().items():
            spec = next(s for s in self.specs if s.sampled and s.pool == base)
            self._passes.append(_Pass(
                f"pool of {size} {base} samples", _kind(spec.base), lambda p, b=base, n=size: self._pool(b, n, p),
                lambda p, b=base, n=size: max(0, n - len(self._pools.get((p.id, b), [])))))
        for index, one_pass in enumerate(self._passes, 1):
            await self._pass(index, one_pass)
        self._phase = (None, len(self._passes), len(self.problems), time.monotonic())
        self._report()

    async def _pass(self, index: int, one_pass: _Pass) -> None:
        started = time.monotonic()
        pending = {p.id: one_pass.pending(p) for p in self.problems}
        finished = ran = 0
        self._phase = (one_pass, index, 0, started)
        self._report()

        async def one(problem: Problem) -> None:
            nonlocal finished, ran
            did = bool(await one_pass.job(problem))
            ran += did
            if did:
                self._attempts_run[one_pass.kind] += pending[problem.id]
            finished += 1
            self._phase = (one_pass, index, finished, started)
            self._report()

        # Problems run concurrently; the solver's slots bound how many runs are live.
        await asyncio.gather(*(one(p) for p in self.problems))
        if not ran:  # everything was already done: no pass to time
            return
        wall = time.monotonic() - started
        self._seconds[one_pass.kind] += wall
        self._append(self.out / "passes.jsonl", {"pass": one_pass.label, "problems": ran,
                                                  "wall_seconds": round(wall, 1),
                                                  "parallel": self.solver.parallel})

    def _seconds_left(self) -> float | None:
        one_pass, index, _, started = self._phase
        seconds = dict(self._seconds)
        if one_pass is not None:  # the pass running counts with the time it has taken so far
            seconds[one_pass.kind] += time.monotonic() - started
        rates = {k: seconds[k] / n for k, n in self._attempts_run.items() if n}
        if not rates:
            return None
        overall = sum(seconds.values()) / sum(self._attempts_run.values())
        left = 0.0
        for later in self._passes[max(0, index - 1):]:
            attempts = sum(later.pending(p) for p in self.problems)
            left += attempts * rates.get(later.kind, overall)
        return left

    def progress(self) -> BenchProgress:
        """Where the benchmark is now."""
        one_pass, index, done, _ = self._phase
        scores = tuple(StrategyScore(spec.name, len(self._scores.get(spec.name, {})),
                                     sum(self._scores.get(spec.name, {}).values()), len(self.problems))
                       for spec in self.specs)
        return BenchProgress(scores, one_pass.label if one_pass else "", index, len(self._passes), done,
                             len(self.problems), time.monotonic() - self._started,
                             self._seconds_left() if one_pass else 0.0)

    def _report(self) -> None:
        if self.on_progress is None:
            return
        try:
            self.on_progress(self.progress())
        except Exception as exc:  # a display that breaks (a closed pipe) must not end an hour of measuring
            self.on_progress = None
            print(f"nbreason bench: progress display turned off: {type(exc).__name__}: {exc}", file=sys.stderr)


def _options(problem: Problem) -> dict:
    """What a run gets beyond the question: a data question's tables, passed as `--with` passes them."""
    if not problem.variables:
        return {}
    from .data_questions import build_variables

    return {"variables": build_variables(problem)}
