"""Per-problem sampling metrics: avg@k, unbiased pass@k and maj@k (plus a grouped majority vote).

Every function scores ONE problem from its k graded samples; a benchmark score is the mean over problems
(which is what lm-eval's `mean` aggregation does with the per-document values).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence
from math import comb

from sparkle.errors import SparkleError

# The k values reported for pass@k and maj@k (those not above the number of samples; n itself is added).
DEFAULT_KS: tuple[int, ...] = (1, 2, 4, 8)


def avg_at_k(correct: Sequence[bool]) -> float:
    """Fraction of the samples graded correct (the paper's Avg@k for one problem)."""
    if len(correct) == 0:
        raise SparkleError("avg@k needs at least one graded sample; the problem has none")
    return sum(bool(c) for c in correct) / len(correct)


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k (Chen et al. 2021): probability that k of the n samples, c of them correct,
    drawn without replacement contain at least one correct one: 1 - C(n-c, k) / C(n, k)."""
    if not 0 <= c <= n:
        raise SparkleError(f"pass@k: correct count c={c} must lie in [0, n={n}]")
    if not 1 <= k <= n:
        raise SparkleError(f"pass@k: k={k} must lie in [1, n={n}] (the number of samples)")
    if n - c < k:
        return 1.0
    return 1.0 - comb(n - c, k) / comb(n, k)


def _check(name: str, answers: Sequence[object], correct: Sequence[bool], k: int) -> None:
    if len(answers) != len(correct):
        raise SparkleError(f"{name}: {len(answers)} answers but {len(correct)} correctness flags")
    if not 1 <= k <= len(correct):
        raise SparkleError(f"{name}: k={k} must lie in [1, {len(correct)}] (the number of samples)")


def _vote(candidates: Sequence[Hashable]) -> int:
    """Index of the first sample carrying the most common candidate (ties: the candidate seen first)."""
    counts = Counter(candidates)
    best = max(counts.values())
    return next(i for i, c in enumerate(candidates) if counts[c] == best)


def maj_at_k(answers: Sequence[str | None], correct: Sequence[bool], k: int) -> float:
    """maj@k as the original benchmark grader defines it: 1.0 when the majority answer is correct.

    The vote runs over the extracted answer strings exactly as extracted (no normalisation, so ``540`` and
    ``540.0`` are two candidates) of the first k samples; the most common string wins and a tie goes to
    the string seen first. A sample without an answer (None or "") votes for "no answer", which can win
    and then scores 0. The winning string's verdict is the grade of that string: the verdict of its
    samples, which all carry the same string and so the same grade (the first one is used should a
    symbolic comparison have timed out on another).
    """
    _check("maj@k", answers, correct, k)
    votes = [a if a else None for a in answers[:k]]
    winner = _vote(votes)
    return 1.0 if votes[winner] is not None and bool(correct[winner]) else 0.0


def maj_grouped_at_k(answers: Sequence[str | None], correct: Sequence[bool], k: int) -> float:
    """A majority vote that treats equivalent answers as one: ``maj_grouped@k`` (not the original's maj@k).

    Candidates are (normalised answer, verdict) pairs over the first k samples: answers equal after
    `sparkle.reward.answer_key` (``540``, ``540.0``, ``$540$``) vote together, but only with answers the
    grader judged the same way. The most common pair wins (ties: the pair seen first) and scores its
    verdict, which every member of the winning group shares, so the score can never contradict the vote.
    "No answer" is a candidate like in `maj_at_k` and scores 0 when it wins.
    """
    from sparkle.reward import answer_key

    _check("maj_grouped@k", answers, correct, k)
    votes = [(answer_key(a) if a else "", bool(c)) for a, c in zip(answers[:k], correct[:k], strict=True)]
    key, verdict = votes[_vote(votes)]
    return 1.0 if key and verdict else 0.0


def metric_ks(n: int, ks: Sequence[int] = DEFAULT_KS) -> list[int]:
    """The k of pass@k / maj@k for n samples: those of ``ks`` not above n, and n itself."""
    if n < 1:
        raise SparkleError(f"the number of samples must be at least 1, got {n}")
    return sorted({k for k in ks if 1 <= k <= n} | {n})


def sample_metrics(
    correct: Sequence[bool],
    answers: Sequence[str | None],
    ks: Sequence[int] = DEFAULT_KS,
    grouped: bool = False,
) -> dict[str, float]:
    """All per-problem metrics for one problem of n samples: `avg@n`, then `pass@k` and `maj@k` for every
    k of ``ks`` not above n and for n itself (`metric_ks`); ``grouped`` adds `maj_grouped@k`.

    ``answers`` are the extracted answer strings (`sparkle.reward.Grade.extracted`), as extracted. The key
    names are the stable interface of the lm-eval tasks."""
    n = len(correct)
    ks = metric_ks(n, ks)
    c = sum(bool(x) for x in correct)
    out: dict[str, float] = {f"avg@{n}": avg_at_k(correct)}
    out.update({f"pass@{k}": pass_at_k(n, c, k) for k in ks})
    out.update({f"maj@{k}": maj_at_k(answers, correct, k) for k in ks})
    if grouped:
        out.update({f"maj_grouped@{k}": maj_grouped_at_k(answers, correct, k) for k in ks})
    return out
