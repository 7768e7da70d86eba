"""Reward types (docs/reward.md) and the verl entry point ``compute_score``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sparkle.errors import SparkleError
from sparkle.reward.extract import CHAT_ASSISTANT_MARKER, completion_part, extract_answer, is_uncertain
from sparkle.reward.formats import format_ok, granular_format, looks_augmented
from sparkle.reward.grading import answers_match, check_policy
from sparkle.reward.guard import GuardedPool, shared_deadline

REWARD_TYPES: tuple[str, ...] = ("spk_h", "spk_h_aug", "spk_s", "spk_g", "val")
SCORE_KEYS: tuple[str, ...] = ("score", "acc", "format_ok", "granular_format", "timed_out")
# How a response is read: as given ("response": the original's reward applied to what verl 0.9 passes),
# or as the original trainer saw it inside the decoded chat string ("chat": the paper's training signal).
READINGS: tuple[str, ...] = ("response", "chat")
CHAT_END = "<|im_end|>"


@dataclass(frozen=True)
class Scored:
    """Everything the reward computed for one response: the requested score and every reward type."""

    score: float
    correct: bool
    format_ok: bool
    granular: float
    extracted: str | None
    timed_out: bool
    augmented: bool
    scores: dict[str, float]


def reward_from(reward_type: str, correct: bool, fmt_ok: bool, granular: float, uncertain: bool) -> float:
    """The score of one reward type for one verdict (an abstention scores 0.0 in every type)."""
    if uncertain:
        return 0.0
    if reward_type in ("spk_h", "spk_h_aug"):
        if not correct:
            return -1.0
        return 2.0 if fmt_ok else 1.0
    if reward_type == "spk_s":
        return (1.0 if granular >= 0.7 else 0.0) + (1.0 if correct else 0.0)
    if reward_type == "spk_g":
        return 0.2 + 0.8 * granular if correct else -3.0 + 1.5 * granular
    if reward_type == "val":
        return 1.0 if correct else 0.0
    raise SparkleError(f"unknown reward_type {reward_type!r}: use one of {', '.join(REWARD_TYPES)}")


def score_response(
    solution_str: str,
    ground_truth: Any,
    reward_type: str = "spk_h",
    policy: str = "train",
    thinking_level: int | None = None,
    timeout: float | None = None,
    pool: GuardedPool | None = None,
    reading: str = "response",
) -> Scored:
    """Score a response (or a prompt + response chat string, as the original trainer did).

    The text is first cut as the original cut it (``completion_part``). ``reading="chat"`` takes a
    response alone and scores it as the original scored it inside the decoded chat string (wrapped as
    ``<|im_start|>assistant\n…<|im_end|>``; the PSS marker of the prompt is told by ``thinking_level``):
    the response is never cut at its own "Assistant:", and a bare last line runs into ``<|im_end|>``. A row is augmented (PSS) when
    ``thinking_level >= 1``, when the string carries the PSS marker "Assistant: <think>", or — the
    original's heuristic — when the scored text closes ``</think>`` without opening it. Only
    ``spk_h_aug`` and the reported ``format_ok`` use the augmented check. Never raises on odd input: a
    non-string response scores as an empty one.
    """
    if reward_type not in REWARD_TYPES:
        raise SparkleError(f"unknown reward_type {reward_type!r}: use one of {', '.join(REWARD_TYPES)}")
    check_policy(policy)
    if reading not in READINGS:
        raise SparkleError(f"unknown reading {reading!r}: use one of {', '.join(READINGS)}")
    solution_str = solution_str if isinstance(solution_str, str) else ""
    if reading == "chat":
        solution_str = f"{CHAT_ASSISTANT_MARKER}\n{solution_str}{CHAT_END}"
    text, marker_seen = completion_part(solution_str)
    level_aug = thinking_level is not None and thinking_level >= 1
    extracted = extract_answer(text)
    with shared_deadline(timeout):  # one limit for the whole call, however many comparisons it needs
        correct, timed_out = answers_match(extracted, ground_truth, policy, timeout, response=text, pool=pool)
    granular = granular_format(text)
    prompt_aug = level_aug or marker_seen
    augmented = prompt_aug or looks_augmented(text)
    uncertain = is_uncertain(extracted)
    plain_ok = format_ok(text)
    # spk_h always applies the plain check; spk_h_aug the augmented one on augmented rows.
    aug_ok = format_ok(text, augmented=True) if augmented else plain_ok
    scores = {
        rt: reward_from(rt, correct, aug_ok if rt == "spk_h_aug" else plain_ok, granular, uncertain)
        for rt in REWARD_TYPES
    }
    reported_fmt = (
        aug_ok if prompt_aug else plain_ok
    )  # prompt_aug implies augmented, so aug_ok is the augmented check
    return Scored(
        scores[reward_type], correct, reported_fmt, granular, extracted, timed_out, augmented, scores
    )


def _thinking_level(extra_info: dict | None) -> int | None:
    if not isinstance(extra_info, dict):
        return None
    level = extra_info.get("thinking_level")
    try:
        return int(level) if level is not None else None
    except (TypeError, ValueError):
        return None


def compute_score(
    data_source: str,
    solution_str: str,
    ground_truth: Any,
    extra_info: dict | None = None,
    **kwargs: Any,
) -> dict[str, float]:
    """verl's custom reward function: ``{"score", "acc", "format_ok", "granular_format", "timed_out"}``.

    kwargs (verl's ``reward_kwargs``): ``reward_type`` (default ``spk_h``), ``policy`` (default ``train``),
    ``timeout`` in seconds for the whole call, counted from the call (worker start-up included; every
    symbolic comparison it needs shares it), ``reading`` (default ``response``; ``chat``
    scores the response as the original trainer did inside the decoded chat string). Validation rows (``extra_info["split"] ==
    "test"``) get the answer-only score (1 if correct else 0) as ``score``.
    """
    reward_type = kwargs.get("reward_type") or "spk_h"
    policy = kwargs.get("policy") or "train"
    timeout = kwargs.get("timeout")
    reading = kwargs.get("reading") or "response"
    if isinstance(extra_info, dict) and extra_info.get("split") == "test":
        reward_type = "val"
    s = score_response(
        solution_str,
        ground_truth,
        reward_type=reward_type,
        policy=policy,
        thinking_level=_thinking_level(extra_info),
        timeout=float(timeout) if timeout is not None else None,
        reading=reading,
    )
    return {
        "score": float(s.score),
        "acc": 1.0 if s.correct else 0.0,
        "format_ok": 1.0 if s.format_ok else 0.0,
        "granular_format": float(s.granular),
        "timed_out": 1.0 if s.timed_out else 0.0,
    }
