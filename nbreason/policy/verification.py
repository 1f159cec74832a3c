"""Verification by solving again: the answer the run reached is checked against independent
solutions of the same question, each in a fresh conversation that never shows the first answer.
A run that stalled without an answer (`first` None) is solved by the other routes alone, its
missing answer counting against whatever they find.

Two modes (the run's `self_check`):

methods    (the default) other *routes* to the answer, chosen for the question
           (policy/methods.py: prose, quantities table, simulation, enumeration, exact arithmetic),
           then sampled repeats of the routes already used. Each solution supports its answer with
           weight 1 (prose: `FAMILY_WEIGHT`) if its method family is new for that answer and
           `SAME_FAMILY` if that family already supports it: two programs agreeing say less than a program and a prose solution
           agreeing. An answer is settled once two different families support it and its support
           leads every other answer's by at least `MARGIN`. Otherwise solving goes on, up to `extra`
           more solutions; then the best-supported answer stands, unverified.
recompute  the run's own route again, sampled: settled once `confirm` solutions give the first answer
           (its own vote included) or `replace` solutions agree on another; else the plurality,
           unverified; ties keep the first.
Solutions whose answer is no value at all (None, nan, inf), or cannot be right for the question
(a plausibility veto: a probability above 1, 52 where a year is asked), support nothing. That holds
for the run's own answer too: a run whose answer came back vetoed after revision is verified with
that answer ruled out, so the other routes decide (on the data questions' tune half, runs printed
idxmax's row label twice where a year was asked, and a checked program read the row's year).

A program route that only runs the run's own statements again (policy/independence.py) is no
route of its own: it supports its answer as the run's own family does, so a program and its copy
never settle an answer between them.

A program route whose code raised an error, or printed an answer that cannot be right, is
repaired `REPAIRS` times: its own conversation goes on with the error (and a specific correction,
nbreason/corrections.py) or with why its answer cannot be right, still without the first answer,
and the repaired answer takes the failed solution's place. On table questions half the checks
failed on a guessed column or a removed pandas function, and a failed check says nothing about the
answer; on the tune half, two checks printed idxmax's row label (52) where a year was asked, and
neither was told why it cannot be right.
"""

from __future__ import annotations

import math

from dataclasses import dataclass, field, replace
from typing import Callable

from ..answers import is_value, key, number, rounded_alike, same, tally
from ..events import SolutionRow
from . import independence
from .methods import METHODS, PROGRAM, Method

FIRST = "run"  # the method name of the run's own answer
SAME_FAMILY = 0.5  # support from a family that already backs the answer
# A prose solution weighs a little more than a program: tuned on GSM8K problems 0–59 (where, when the
# routes disagreed, prose was right as often as the program and the tie is better broken its way).
FAMILY_WEIGHT = {"prose": 1.2}
MARGIN = 1.0  # support the settled answer needs over the runner-up
REPAIRS = 1  # a program route that failed (an error, or a value that cannot be right) gets this many repairs


@dataclass(frozen=True)
class Solution:
    method: str  # how it was reached: "run" for the run's own answer, else a method name
    family: str
    answer: str | None  # None: the solution failed or printed nothing
    sampled: bool = False  # a repeat of a route already used, drawn at the sampling temperature
    supports: str | None = None  # the answer it counts for: itself, or an earlier one an estimate is close to
    ruled_out: str | None = None  # why its answer cannot be right (policy/plausibility.py): it supports nothing
    error: str | None = None  # a program route's error ("KeyError: 'Variety'"): its answer is None
    repairs: int = 0  # repairs made of this solution's program
    repeats: bool = False  # its program ran only the run's own statements: counted in the run's family
    program: bool = False  # a program route (it can be repaired), not prose
    # why its own printed value cannot be right, as its repair is told: about that value only, never the
    # answer it supports (which may be the one under check)
    told: str | None = None
    code: str | None = None  # a program route's program, as the final answer records it

    @property
    def vote(self) -> str | None:
        if self.ruled_out:
            return None
        return self.supports if self.supports is not None else self.answer


@dataclass(frozen=True)
class Standing:
    """One answer's support among the solutions."""

    answer: str
    support: float
    families: tuple[str, ...]
    methods: tuple[str, ...]  # every method that gave it, in order


@dataclass
class Verification:
    first: str | None  # the run's own answer (None: the run stalled without one, the routes must find it)
    extra: int = 3  # further solutions, at most
    mode: str = "recompute"  # recompute | methods
    plan: tuple[Method, ...] = ()  # methods mode: the routes to try, in order
    confirm: int = 2
    replace: int = 2
    first_family: str = PROGRAM.family
    first_ruled_out: str | None = None  # the run's own answer cannot be right: the other routes must find one
    run_code: tuple[str, ...] = ()  # the run's clean code: a route that only repeats it is no route of its own
    probability: bool = False  # a probability is asked: an estimate of it is judged by its standard error
    solutions: list[Solution] = field(init=False)  # the first answer's own included

    def __post_init__(self):
        self.solutions = [Solution(FIRST, self.first_family, self.first, ruled_out=self.first_ruled_out)]

    # -- what to solve next ---------------------------------------------------------------
    def next_method(self) -> tuple[Method, bool]:
        """The method of the next solution, and whether it is a sampled repeat of a route used before."""
        if self.mode != "methods":
            return PROGRAM, True
        used = {s.method for s in self.solutions}
        fresh = [m for m in self.plan if m.name not in used]
        if fresh:
            return fresh[0], False
        # Every route used: repeat them, sampled, the first answer's own route included.
        routes = [*self.plan, PROGRAM]
        return routes[(self.extra_done - len(self.plan)) % len(routes)], True

    def add(self, answer: str | None, method: Method = PROGRAM, sampled: bool = True,
            veto: Callable[[str], str | None] | None = None, error: str | None = None,
            repair: bool = False, code: str | None = None, repeats: bool | None = None) -> None:
        """`veto(value)`: why a value cannot be right for the question, or None. An estimate is judged
        by the answer it supports (a simulated count of 13.98 supports a whole 14). `error`: the
        program raised it. Either makes a program solution repairable (see `repairable`). `repair`:
        this is the answer of that repair, and takes the failed solution's place. `code`: the solution's program,
        compared with `run_code` (or `repeats`: that comparison's recorded verdict)."""
        repairs = 0
        if repair:
            failed = self.repairable()
            assert failed is not None and failed.method == method.name, "only a failed program is repaired"
            self.solutions.pop()
            repairs = failed.repairs + 1
        printed = answer
        answer = answer if is_value(answer) and error is None else None
        supports = None
        if answer is not None and (method.tolerance or method.rounding) \
                and not any(s.answer is not None and _same(s.answer, answer) for s in self.solutions):
            # the closest of the earlier answers it is close to: a check's 13 supported a median's
            # 13.0 and the run's mean 12.5 alike, and went to the first, 12.5
            near = [s.answer for s in self.solutions
                    if s.answer is not None and _supports(method, answer, s.answer, self.probability)]
            supports = min(near, key=lambda earlier: _distance(answer, earlier), default=None)
        ruled_out = veto(supports or answer) if veto is not None and answer is not None else None
        told = None
        if veto is not None and error is None and (answer is None or ruled_out) and str(printed or "").strip():
            told = veto(printed)  # nan, or a value of the wrong form, judged as printed; an estimate that supports
            # an answer that can be right is no failure
        if repeats is None:
            repeats = bool(code) and method.code and independence.repeats(code, self.run_code)
        family = self.first_family if repeats else method.family
        if answer is not None and not ruled_out and not (method.tolerance or method.rounding):
            self._support_later(answer)
        self.solutions.append(Solution(method.name, family, answer, sampled, supports, ruled_out,
                                       error, repairs, bool(repeats), method.code, told, code))

    def _support_later(self, answer: str) -> None:
        """An earlier estimate that matched no answer before it supports this one, if close to it:
        the simulation runs before the exact route, and its 0.4902 stood alone beside the exact
        25/51. One that equals an earlier answer keeps to it (a later rough 0.49 took a simulation's
        0.4902 from the run's equal 0.4902, and overturned it)."""
        for i, s in enumerate(self.solutions):
            method = METHODS.get(s.method)
            if method is None or not (method.tolerance or method.rounding) or s.supports is not None \
                    or s.answer is None or s.ruled_out:
                continue
            if any(o.answer is not None and _same(o.answer, s.answer) for o in self.solutions[:i]):
                continue
            if _supports(method, s.answer, answer, self.probability):
                self.solutions[i] = replace(s, supports=answer)

    def repairable(self) -> Solution | None:
        """The latest solution, if its program raised an error or printed a value that cannot be
        right (nan, 52 where a year is asked), and it has repairs left."""
        last = self.solutions[-1]
        if last.method != FIRST and last.program and (last.error or last.told) and last.repairs < REPAIRS:
            return last
        return None

    @property
    def answers(self) -> list[str | None]:
        return [s.vote for s in self.solutions]

    @property
    def extra_done(self) -> int:
        """Independent solutions so far, besides the first answer."""
        return len(self.solutions) - 1

    def exhausted(self) -> bool:
        return self.extra_done >= self.extra

    # -- methods mode ---------------------------------------------------------------------
    def standings(self) -> list[Standing]:
        """Every answer with its support, best first (ties keep the order answers first appeared)."""
        rows: list[dict] = []
        for solution in self.solutions:
            if key(solution.vote) is None:
                continue
            row = next((r for r in rows if _same(r["answer"], solution.vote)), None)
            if row is None:
                row = {"answer": solution.vote, "support": 0.0, "families": [], "methods": []}
                rows.append(row)
            row["support"] += SAME_FAMILY if solution.family in row["families"] else FAMILY_WEIGHT.get(solution.family, 1.0)
            if solution.family not in row["families"]:
                row["families"].append(solution.family)
            row["methods"].append(solution.method)
        # Best supported first; on equal support, the answer more families give; then the earliest.
        ranked = sorted(rows, key=lambda r: (-r["support"], -len(r["families"])))
        return [Standing(r["answer"], r["support"], tuple(r["families"]), tuple(r["methods"])) for r in ranked]

    def standing_of(self, answer: str | None) -> Standing | None:
        """The standing of the answer `answer` is the same as (None: no solution gives it)."""
        if key(answer) is None:
            return None
        return next((s for s in self.standings() if _same(s.answer, answer)), None)

    def agreeing(self) -> Standing | None:
        """Methods mode: the answer two families back, leading the rest by MARGIN, if there is one."""
        ranked = self.standings()
        if not ranked:
            return None
        best, runner_up = ranked[0], ranked[1].support if len(ranked) > 1 else 0.0
        if len(best.families) >= 2 and best.support - runner_up >= MARGIN:
            return best
        return None

    # -- recompute mode -------------------------------------------------------------------
    def needed(self, answer: str | None) -> int:
        return self.confirm if key(answer) == key(self.first) else self.replace

    def votes(self, answer: str | None) -> int:
        return tally(self.answers).votes(answer)

    def settled(self) -> str | None:
        """The answer the check settles on, or None."""
        if self.mode == "methods":
            agreed = self.agreeing()
            return agreed.answer if agreed else None
        counted = tally(self.answers)
        for answer in self.answers:
            if key(answer) is not None and counted.votes(answer) >= self.needed(answer):
                return answer
        return None

    def plurality(self) -> str | None:
        """The best-supported answer (methods) or the most-voted one (recompute); ties keep the first
        (None when the first is ruled out and nothing else stands)."""
        if self.mode == "methods":
            ranked = self.standings()
            if not ranked:
                return None if self.first_ruled_out else self.first
            mine = next((r for r in ranked if key(r.answer) == key(self.first)), None)
            best = ranked[0]
            if mine is not None and (mine.support, len(mine.families)) == (best.support, len(best.families)):
                return self.first
            return best.answer
        counted = tally(self.answers)
        leader = counted.leader
        if leader is None or counted.votes(self.first) == leader.votes:
            return None if self.first_ruled_out and leader is None else self.first
        return leader.answer

    def rows(self) -> list[SolutionRow]:
        """The solutions as the final answer records them, the run's own named "program"."""
        return [SolutionRow(PROGRAM.name if s.method == FIRST else s.method, s.answer, s.family, s.sampled,
                            s.ruled_out, s.repairs > 0, s.repeats, s.code) for s in self.solutions]

    def summary(self) -> str:
        """Which route gave which value: "program: 10.0 · prose: 30 · quantities table: 30"."""
        return solutions_text(self.rows())


def solutions_text(rows: list[SolutionRow]) -> str:
    """"program: 10.0 · prose: 30 · quantities table (sampled): 30 · row by row: 52 (cannot be right) ·
    checked program (repaired): 12 · checked program (same code as the run): 2.51"."""
    def label(row: SolutionRow) -> str:
        notes = [note for note, on in (("sampled", row.sampled), ("repaired", row.repaired),
                                       ("same code as the run", row.repeats)) if on]
        return row.method + "".join(f" ({note})" for note in notes)

    return " · ".join(f"{label(row)}: {row.answer if row.answer is not None else 'no answer'}"
                      f"{' (cannot be right)' if row.ruled_out else ''}" for row in rows)


TRIALS = 200_000  # what the simulation route is asked for at least


def close(estimate: str, value: str, tolerance: float, probability: bool = False) -> bool:
    """An estimate (a simulation's) agrees with a value within `tolerance`, relative (absolute near 0).
    A `probability` asked, within four standard errors of TRIALS trials instead (at most 0.0045):
    2 % let a right simulation's 0.4902 (25/51, two cards of one colour) confirm a wrong 1/2. An
    expected value is no proportion: its spread is not known, and it keeps the 2 %."""
    a, b = number(estimate), number(value)
    if a is None or b is None:
        return False
    x, y = float(a.value), float(b.value)
    if probability and 0 <= x <= 1 and 0 <= y <= 1:
        return abs(x - y) <= 4 * math.sqrt(max(y * (1 - y), 1e-4) / TRIALS) + 1e-4
    return abs(x - y) <= tolerance * max(abs(y), 1e-9) or abs(x - y) <= tolerance * 0.05


def _distance(a: str, b: str) -> float:
    x, y = number(a), number(b)
    return abs(float(x.value) - float(y.value)) if x is not None and y is not None else math.inf


def _supports(method: Method, answer: str, earlier: str, probability: bool = False) -> bool:
    """An estimate supports an earlier answer it is close to; a rounded value the one it rounds."""
    if method.tolerance:
        return close(answer, earlier, method.tolerance, probability)
    x, y = number(answer), number(earlier)
    return x is not None and y is not None and rounded_alike(x, y)


def _same(a: str, b: str) -> bool:
    """Two solutions give one answer: same key, or numbers within the tolerance rule (14.67 and
    14.666666666666666), or symbolically equal."""
    if key(a) == key(b):
        return True
    try:
        return same(a, b)
    except Exception:  # a comparison that cannot be made is no agreement
        return False
