"""The default run on the real embedded 1.5B model answers small word problems right: the README's
pens question (a single program once printed 10.0 for it) and two more. Minutes on 2 cores, so
marked slow: `python -m pytest -m slow tests/test_word_problems.py`; measured in
benchmarks/results/word_problems.json (benchmarks/bench_word_problems.py)."""

from __future__ import annotations

import pytest

from benchmarks.word_problems import PROBLEMS
from nbreason.bench.grading import grade
from nbreason.config import load
from nbreason.runner import reason

pytestmark = [pytest.mark.slow, pytest.mark.model, pytest.mark.timeout(1800)]


@pytest.mark.parametrize("question,gold", PROBLEMS, ids=["pens", "muffins", "pages"])
async def test_the_default_run_answers_a_word_problem_right(question, gold):
    result = await reason(question, config=load({"model": "local"}))
    assert grade(result.answer, gold).correct, (result.answer, result.stop_reason, result.competing)
    assert result.confidence is not None
