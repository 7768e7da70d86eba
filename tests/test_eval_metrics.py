"""avg@k, unbiased pass@k and maj@k against hand-computed values (tables), and their error cases."""

from __future__ import annotations

from fractions import Fraction

import pytest

from sparkle.errors import SparkleError
from sparkle.evaluate.metrics import avg_at_k, maj_at_k, pass_at_k, sample_metrics
from sparkle.evaluate.tasks import metric_names, report_ks

# (n, c, k, expected): 1 - C(n-c, k) / C(n, k), worked out by hand.
PASS_AT_K = [
    (8, 0, 1, Fraction(0)),
    (8, 3, 1, Fraction(3, 8)),
    (8, 3, 2, 1 - Fraction(10, 28)),  # C(5,2)=10, C(8,2)=28
    (8, 3, 4, 1 - Fraction(5, 70)),  # C(5,4)=5, C(8,4)=70
    (8, 3, 8, Fraction(1)),
    (8, 2, 2, 1 - Fraction(15, 28)),  # C(6,2)=15
    (8, 2, 4, 1 - Fraction(15, 70)),  # C(6,4)=15
    (8, 5, 4, Fraction(1)),  # only 3 wrong: any 4 contain a correct one
    (8, 8, 1, Fraction(1)),
    (4, 1, 2, 1 - Fraction(3, 6)),
    (16, 1, 8, 1 - Fraction(6435, 12870)),  # C(15,8)=6435, C(16,8)=12870
    (1, 1, 1, Fraction(1)),
]


@pytest.mark.parametrize(("n", "c", "k", "expected"), PASS_AT_K)
def test_pass_at_k(n: int, c: int, k: int, expected: Fraction):
    assert pass_at_k(n, c, k) == pytest.approx(float(expected), abs=1e-12)


@pytest.mark.parametrize(("n", "c", "k"), [(8, 9, 1), (8, -1, 1), (8, 2, 0), (8, 2, 9)])
def test_pass_at_k_rejects_impossible_counts(n: int, c: int, k: int):
    with pytest.raises(SparkleError):
        pass_at_k(n, c, k)


@pytest.mark.parametrize(
    ("correct", "expected"),
    [
        ([True] * 8, 1.0),
        ([False] * 8, 0.0),
        ([True, False, True, False, False, False, True, False], 0.375),
        ([1], 1.0),
    ],
)
def test_avg_at_k(correct, expected):
    assert avg_at_k(correct) == expected


def test_avg_at_k_needs_samples():
    with pytest.raises(SparkleError):
        avg_at_k([])


# (answer keys, correct flags, k, expected): "" is a sample without an answer.
MAJ_AT_K = [
    (
        ["25", "24", "25", "24", "", "24", "25", "7"],
        [1, 0, 1, 0, 0, 0, 1, 0],
        8,
        1.0,
    ),  # 3-3 tie: first seen wins
    (["24", "25", "25", "24"], [0, 1, 1, 0], 4, 0.0),  # 2-2 tie, 24 seen first
    (["24", "24", "25", "", "", "24", "24", "25"], [0, 0, 1, 0, 0, 0, 0, 1], 8, 0.0),
    (["", "24", "25", "25", "3", "25", "25", "25"], [0, 0, 1, 1, 0, 1, 1, 1], 1, 0.0),  # no answer never wins
    (["", "24", "25", "25", "3", "25", "25", "25"], [0, 0, 1, 1, 0, 1, 1, 1], 2, 0.0),
    (["", "24", "25", "25", "3", "25", "25", "25"], [0, 0, 1, 1, 0, 1, 1, 1], 4, 1.0),
    (["", "", ""], [0, 0, 0], 3, 0.0),
    (["7", "", ""], [1, 0, 0], 3, 1.0),  # one answer against two blanks
]


@pytest.mark.parametrize(("keys", "correct", "k", "expected"), MAJ_AT_K)
def test_maj_at_k(keys, correct, k, expected):
    assert maj_at_k(keys, [bool(c) for c in correct], k) == expected


def test_maj_at_k_errors():
    with pytest.raises(SparkleError):
        maj_at_k(["1"], [True, False], 1)
    with pytest.raises(SparkleError):
        maj_at_k(["1", "2"], [True, False], 3)


def test_sample_metrics_keys_and_values():
    metrics = sample_metrics(
        [False, True, True, True, False, True, True, True], ["", "24", "25", "25", "3", "25", "25", "25"]
    )
    assert list(metrics) == metric_names(8)
    assert metrics["avg@8"] == 0.75
    assert metrics["pass@2"] == pytest.approx(1 - 1 / 28)
    assert (metrics["maj@1"], metrics["maj@2"], metrics["maj@4"], metrics["maj@8"]) == (0.0, 1.0, 1.0, 1.0)


@pytest.mark.parametrize(
    ("samples", "ks", "names"),
    [
        (
            8,
            [1, 2, 4, 8],
            ["avg@8", "pass@1", "pass@2", "pass@4", "pass@8", "maj@1", "maj@2", "maj@4", "maj@8"],
        ),
        (6, [1, 2, 4, 6], None),
        (16, [1, 2, 4, 8, 16], None),
        (1, [1], ["avg@1", "pass@1", "maj@1"]),
    ],
)
def test_report_ks(samples, ks, names):
    assert report_ks(samples) == ks
    if names:
        assert metric_names(samples) == names
