"""Budget, reward and stopping: everything that decides how long a run goes on."""

from .budget import Budget, Limits
from .reward import answer_parses, code_ran, combine, grounded, self_check_signal, user_check
from .stopping import StallDetector, StopRule

__all__ = ["Budget", "Limits", "StallDetector", "StopRule", "answer_parses", "code_ran", "combine",
           "grounded", "self_check_signal", "user_check"]
