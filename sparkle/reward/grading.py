"""Correctness policies: ``train`` (the reward's grader), ``eval`` (the benchmark grader, quirk
included) and ``math_verify`` (an accurate grader for new work). Cheap string paths run in-process; every
sympy or math-verify call goes through the guarded worker pool.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sparkle.errors import SparkleError
from sparkle.reward.extract import extract_answer, strip_ground_truth
from sparkle.reward.guard import GuardedPool, default_pool
from sparkle.reward.lru import LRU
from sparkle.reward.mathverify import math_verify_equal
from sparkle.reward.normalize import (
    fallback_key,
    math_strings_equal,
    normalize_eval,
    normalize_train,
    str_is_int,
    strip_proper_commas,
)
from sparkle.reward.numeric import clearly_different
from sparkle.reward.symbolic import (
    guard_allows,
    parse_surely_raises,
    plain_number,
    sympy_allowed,
)

POLICIES: tuple[str, ...] = ("train", "eval", "math_verify")
_TUPLE_CHARS = "()[]"
_FRACTION = re.compile(r"^-?[0-9]+.?/0*[1-9][0-9]*.?$")


@dataclass(frozen=True)
class Grade:
    """The verdict on one response: correct or not, the answer it was judged on, and whether a symbolic
    comparison ran out of time (counted as not equal)."""

    correct: bool
    extracted: str | None
    timed_out: bool = False


# Verdicts of guarded calls, keyed by (worker function, arguments): GRPO scores 32 samples per prompt and
# many of them give the same answer. Timeouts and crashes are not cached.
_VERDICTS = LRU(65536)


def _guarded(name: str, args: tuple, timeout: float | None, pool: GuardedPool | None) -> tuple[bool, bool]:
    key = (name, *args)
    hit = _VERDICTS.get(key)
    if hit is not None:
        return hit, False
    guard = pool or default_pool()
    crashes = guard.stats.crashes
    value, timed_out = guard.call(name, args, timeout)
    if not timed_out and guard.stats.crashes == crashes:
        _VERDICTS.put(key, bool(value))
    return bool(value), timed_out


def _symbolic_equal(
    gt: str, given: str, timeout: float | None, pool: GuardedPool | None
) -> tuple[bool, bool]:
    expr = f"({gt})-({given})"
    if not sympy_allowed(expr) or parse_surely_raises(expr):
        return False, False
    a, b = plain_number(gt), plain_number(given)
    if a is not None and b is not None:
        return a == b, False
    if clearly_different(gt, given):
        return False, False
    return _guarded("sympy_equal_worker", (gt, given), timeout, pool)


def train_equal(given: str | None, gt: str, timeout: float | None = None, pool: GuardedPool | None = None):
    """The training grader: normalised strings equal, else ``simplify(gt - given) == 0``.

    Returns ``(equal, timed_out)``.
    """
    gt_n, given_n = normalize_train(gt), normalize_train(given)
    settled = _string_verdict(gt_n, given_n)
    if settled is not None:
        return settled
    return _symbolic_equal(gt_n, given_n, timeout, pool)


def _string_verdict(gt_n: str | None, given_n: str | None) -> tuple[bool, bool] | None:
    """``(equal, False)`` when the normalised strings settle it (unreadable, equal, or an empty
    response); None when the comparison must go on."""
    if gt_n is None or given_n is None:
        return False, False
    if gt_n == given_n:
        return True, False
    if not given_n:
        return False, False
    return None


def _is_frac(s: str) -> bool:
    return _FRACTION.search(s) is not None  # search with ``$``: a trailing line break is allowed


def _split_tuple(expr: str) -> list[str]:
    expr = strip_proper_commas(expr)
    if not expr:
        return []
    if (
        len(expr) > 2
        and expr[0] in _TUPLE_CHARS
        and expr[-1] in _TUPLE_CHARS
        and all(ch not in expr[1:-1] for ch in _TUPLE_CHARS)
    ):
        return [e.strip() for e in expr[1:-1].split(",")]
    return [expr]


def _eval_elem_symbolic(gt: str, given: str, timeout: float | None, pool: GuardedPool | None):
    """The benchmark grader's element comparison: ``simplify(gt - given) == 0`` under the guards; when
    parsing or simplifying raises, the elements match if their ``fallback_key`` strings are equal (a
    timeout stays "not equal"). ``(equal, timed_out)``."""
    expr = f"({gt})-({given})"
    if not guard_allows(expr):
        return False, False
    fallback = fallback_key(gt) == fallback_key(given)
    if parse_surely_raises(expr):
        return fallback, False
    if not sympy_allowed(expr):
        return False, False
    a, b = plain_number(gt), plain_number(given)
    if a is not None and b is not None:
        return a == b, False
    if not fallback and clearly_different(gt, given):
        return False, False
    return _guarded("sympy_equal_worker", (gt, given, fallback), timeout, pool)


def _prm_equal(given: str, gt: str, timeout: float | None, pool: GuardedPool | None) -> tuple[bool, bool]:
    try:
        gt_n, given_n = normalize_eval(gt), normalize_eval(given)
    except (ValueError, OverflowError):
        return False, False
    settled = _string_verdict(gt_n, given_n)
    if settled is not None:
        return settled
    gt_elems, given_elems = _split_tuple(gt_n), _split_tuple(given_n)
    if len(gt_elems) > 1 and (gt_n[0] != given_n[0] or gt_n[-1] != given_n[-1]):
        return False, False
    if len(gt_elems) != len(given_elems):
        return False, False
    timed_out = False
    for g, p in zip(gt_elems, given_elems, strict=False):
        if _is_frac(g) and _is_frac(p):
            ok = g == p  # unreduced fractions do not match reduced ones
        elif str_is_int(g) != str_is_int(p):
            ok = False  # an integer answer needs an integer response
        else:
            ok, t = _eval_elem_symbolic(g, p, timeout, pool)
            timed_out = timed_out or t
        if not ok:
            return False, timed_out
    return True, timed_out


def eval_equal(given: str | None, gt: str, timeout: float | None = None, pool: GuardedPool | None = None):
    """The benchmark grader: Hendrycks-MATH string match OR the PRM800K-style grader. ``(equal, timed_out)``."""
    if given is None:
        return False, False
    if math_strings_equal(given, gt):
        return True, False
    return _prm_equal(given, gt, timeout, pool)


def ground_truths(ground_truth: object) -> list:
    """The acceptable answers: a str, a number, or a list / tuple / numpy array of them (verl hands list
    columns over as numpy arrays)."""
    if isinstance(ground_truth, (str, bytes)):
        return [ground_truth.decode() if isinstance(ground_truth, bytes) else ground_truth]
    if hasattr(ground_truth, "tolist") and not isinstance(ground_truth, (list, tuple)):
        ground_truth = ground_truth.tolist()  # numpy array or scalar
    if isinstance(ground_truth, (list, tuple, set)):
        flat: list = []
        for item in ground_truth:
            flat.extend(ground_truths(item) if isinstance(item, (list, tuple)) else [item])
        return flat
    return [ground_truth]


# policy -> its comparison of one answer with one ground truth: (given, gt, response, timeout, pool)
_POLICY_EQUAL = {
    "train": lambda given, gt, response, timeout, pool: train_equal(given, gt, timeout, pool),
    "eval": lambda given, gt, response, timeout, pool: eval_equal(given, gt, timeout, pool),
    "math_verify": math_verify_equal,
}
assert tuple(_POLICY_EQUAL) == POLICIES


def check_policy(policy: str) -> str:
    """``policy`` when it is one of POLICIES; else the one SparkleError every entry point raises."""
    if policy not in POLICIES:
        raise SparkleError(f"unknown grading policy {policy!r}: use one of {', '.join(POLICIES)}")
    return policy


def answers_match(
    given: str | None,
    ground_truth: object,
    policy: str = "eval",
    timeout: float | None = None,
    response: str | None = None,
    pool: GuardedPool | None = None,
) -> tuple[bool, bool]:
    """Whether ``given`` matches any of the ground truths under ``policy``: ``(correct, timed_out)``."""
    equal = _POLICY_EQUAL[check_policy(policy)]
    truths = ground_truths(ground_truth)
    if given is not None and not isinstance(given, str):
        given = str(given)  # a number handed in directly is graded as its text
    timed_out = False
    for raw in truths:
        if raw is None:
            continue
        ok, t = equal(given, strip_ground_truth(raw), response, timeout, pool)
        timed_out = timed_out or t
        if ok:
            return True, timed_out
    return False, timed_out


def grade(
    response: str,
    ground_truth: str | list[str],
    policy: str = "eval",
    timeout: float | None = None,
) -> Grade:
    """Extract the answer from ``response`` and judge it against the ground truth(s) under ``policy``."""
    check_policy(policy)
    extracted = extract_answer(response)
    if policy == "eval" and not extracted:
        extracted = None
    correct, timed_out = answers_match(extracted, ground_truth, policy, timeout, response=response)
    return Grade(correct=correct, extracted=extracted, timed_out=timed_out)


def answer_key(extracted: str | None) -> str:
    """A normalised form of an answer for grouping equal answers (majority voting); "" for no answer."""
    if extracted is None:
        return ""
    key = normalize_train(extracted) or ""
    if str_is_int(key):
        try:
            return str(int(float(strip_proper_commas(key))))
        except (ValueError, OverflowError):
            return key
    number = plain_number(key)
    if number is not None:
        return (
            f"{number.numerator}/{number.denominator}" if number.denominator != 1 else str(number.numerator)
        )
    return key
