"""Budget, reward and stopping: everything that decides how long a run goes on."""

from .budget import Budget, Limits
from .reward import agreement, answer_parses, code_ran, combine, grounded, self_check_signal, user_check
from .stopping import SAMPLE_TEMPERATURE, Recompute, StallDetector, StopRule, self_check_mode

__all__ = ["Budget", "Limits", "Recompute", "SAMPLE_TEMPERATURE", "StallDetector", "StopRule", "agreement",
           "answer_parses", "code_ran", "combine", "grounded", "self_check_mode", "self_check_signal",
           "user_check"]
