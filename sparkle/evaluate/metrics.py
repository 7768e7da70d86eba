"""Per-problem sampling metrics (SPEC §7): avg@k, unbiased pass@k and maj@k.

Every function scores ONE problem from its k graded samples; a benchmark score is the mean over problems
(which is what lm-eval's `mean` aggregation does with the per-document values).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from math import comb

from sparkle.errors import SparkleError

# The k values reported for pass@k and maj@k (those not above the number of samples).
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


def maj_at_k(answer_keys: Sequence[str], correct: Sequence[bool], k: int) -> float:
    """Majority vote over the first k samples: 1.0 when the most frequent answer is correct.

    `answer_keys[i]` is the normalised answer of sample i (`sparkle.reward.answer_key`; "" means no
    answer, which never wins a vote unless every sample has none). Ties go to the answer seen first,
    so the result is deterministic for a given sample order; the winning answer's correctness is that
    of its first sample.
    """
    if len(answer_keys) != len(correct):
        raise SparkleError(f"maj@k: {len(answer_keys)} answer keys but {len(correct)} correctness flags")
    if not 1 <= k <= len(correct):
        raise SparkleError(f"maj@k: k={k} must lie in [1, {len(correct)}] (the number of samples)")
    keys = list(answer_keys[:k])
    flags = [bool(c) for c in correct[:k]]
    counts = Counter(key for key in keys if key)
    if not counts:
        return 0.0
    best = max(counts.values())
    winner = next(i for i, key in enumerate(keys) if key and counts[key] == best)
    return 1.0 if flags[winner] else 0.0


def sample_metrics(
    correct: Sequence[bool], answer_keys: Sequence[str], ks: Sequence[int] = DEFAULT_KS
) -> dict[str, float]:
    """All per-problem metrics for one problem: `avg@n`, `pass@k` and `maj@k` for every k ≤ n, and
    `maj@n`. The key names are the stable interface of the lm-eval tasks (issue 7)."""
    n = len(correct)
    out: dict[str, float] = {f"avg@{n}": avg_at_k(correct)}
    c = sum(bool(x) for x in correct)
    for k in ks:
        if k <= n:
            out[f"pass@{k}"] = pass_at_k(n, c, k)
    for k in ks:
        if k <= n:
            out[f"maj@{k}"] = maj_at_k(answer_keys, correct, k)
    out[f"maj@{n}"] = maj_at_k(answer_keys, correct, n)
    return out
