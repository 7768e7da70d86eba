"""The SPARKLE reward: answer extraction, format checks, the reward types, three grading policies and the
verl entry point (``reward.custom_reward_function.path=pkg://sparkle.reward``, ``.name=compute_score``).

Importing this package is light (no sympy, torch or verl); symbolic work runs in a guarded worker pool.
"""

from sparkle.reward.extract import extract_answer, is_uncertain
from sparkle.reward.formats import format_ok, granular_format
from sparkle.reward.grading import POLICIES, Grade, answer_key, answers_match, grade
from sparkle.reward.guard import guard_stats
from sparkle.reward.scores import REWARD_TYPES, compute_score, score_response

__all__ = [
    "POLICIES",
    "REWARD_TYPES",
    "Grade",
    "answer_key",
    "answers_match",
    "compute_score",
    "extract_answer",
    "format_ok",
    "granular_format",
    "grade",
    "guard_stats",
    "is_uncertain",
    "score_response",
]
