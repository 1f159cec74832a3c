"""Budget, reward and stopping: everything that decides how long a run goes on.

    budget.py        what a run may spend and has spent
    reward.py        signals that score the evidence for an answer
    decide.py        every rule that continues or ends a run: decide(state) -> Choice
    state.py         the typed state those rules read, and the Choice they return
    verification.py  checking an answer against independent solutions
    methods.py       the independent routes to an answer, and which ones a question gets
    independence.py  whether a check's program is a route of its own or the run's code again
    plausibility.py  what the question says a right answer must look like
    data_use.py      what a program did with the passed tables (a category never selected, some compared where all
                     are asked, two tables lined up by position)
    clamping.py      what a program did to its own result (a value below 0 clamped to 0)
    confidence.py    how likely a final answer is right, calibrated on development data
    stopping.py      stall detection; redrawing a repeated failed program; which self-check a run uses
    sampling.py      how independent samples (attempts, solutions) are drawn
    voting.py        votes over attempts, and when to stop sampling more
"""

from .budget import Budget, Limits, cost_ceiling, last_step_tokens
from .decide import MAX_BACKTRACKS, MAX_REJECTIONS, STALL_REPEATS, accepts, decide, proposed_answer
from .reward import (agreement, answer_parses, code_ran, combine, grounded, judge_signals, method_agreement,
                     self_check_signal, user_check)
from .sampling import SAMPLE_TEMPERATURE, Sampling, attempt_sampling, revision_sampling, solution_sampling
from .state import Choice, Judgement, Reply, RunState, Settings
from .stopping import REDRAWS, StallDetector, redraw, same_program, self_check_mode
from .verification import Verification

__all__ = ["Budget", "Choice", "Judgement", "Limits", "MAX_BACKTRACKS", "MAX_REJECTIONS", "Reply", "RunState",
           "SAMPLE_TEMPERATURE", "STALL_REPEATS", "Sampling", "Settings", "StallDetector", "Verification", "accepts",
           "agreement", "cost_ceiling", "last_step_tokens", "answer_parses", "attempt_sampling", "code_ran", "combine",
           "decide", "grounded", "judge_signals", "method_agreement", "proposed_answer", "redraw", "REDRAWS",
           "same_program", "revision_sampling", "self_check_mode", "self_check_signal", "solution_sampling", "user_check"]
