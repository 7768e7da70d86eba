"""avg@k, unbiased pass@k, maj@k (the original's definition) and the grouped vote against hand-computed
values (tables), and their error cases."""

from __future__ import annotations

from fractions import Fraction

import pytest

from sparkle.errors import SparkleError
from sparkle.evaluate.metrics import avg_at_k, maj_at_k, maj_grouped_at_k, pass_at_k, sample_metrics
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


# maj@k as the original benchmark grader defines it, as a table: (extracted answers as extracted, correct
# flags, k, expected). The vote is over the strings as they are; the most common string among the first k
# wins, a tie goes to the string seen first, and the score is the grade of the winning string. None / ""
# is a sample without an answer: "no answer" is a candidate too and scores 0 when it wins.
EQUAL_540 = ["540\\,", "540/1", "540", "540", "540.", "+540", "540", "540.0"]  # all equal 540; the eval
EQUAL_540_CORRECT = [0, 0, 1, 1, 1, 1, 1, 1]  # grader marks the first two wrong (real verdicts, see below)
MAJ_AT_K = [
    (["25", "24", "25", "24", None, "24", "25", "7"], [1, 0, 1, 0, 0, 0, 1, 0], 8, 1.0),  # 3-3 tie: 25 first
    (["24", "25", "25", "24"], [0, 1, 1, 0], 4, 0.0),  # 2-2 tie, 24 seen first
    (["24", "24", "25", None, None, "24", "24", "25"], [0, 0, 1, 0, 0, 0, 0, 1], 8, 0.0),
    ([None, "24", "25", "25", "3", "25", "25", "25"], [0, 0, 1, 1, 0, 1, 1, 1], 1, 0.0),  # no answer wins k=1
    ([None, "24", "25", "25", "3", "25", "25", "25"], [0, 0, 1, 1, 0, 1, 1, 1], 2, 0.0),  # 1-1 tie: no answer
    ([None, "24", "25", "25", "3", "25", "25", "25"], [0, 0, 1, 1, 0, 1, 1, 1], 4, 1.0),
    ([None, None, "7"], [0, 0, 1], 3, 0.0),  # two blanks outvote one right answer
    (["", None, "7"], [0, 0, 1], 3, 0.0),  # "" and None are both "no answer"
    (["7", None, None], [1, 0, 0], 1, 1.0),
    (["1/2", "0.5", "\\frac{1}{2}", "3", "3"], [1, 1, 1, 0, 0], 5, 0.0),  # equal values, different strings
    (EQUAL_540, EQUAL_540_CORRECT, 8, 1.0),  # "540" x3 wins and is graded right
    (EQUAL_540, EQUAL_540_CORRECT, 2, 0.0),  # 1-1 tie: "540\\," seen first, graded wrong
]

# The grouped vote (its own name): candidates are (answer_key, verdict) pairs, so the winner's verdict is
# unanimous and the score cannot contradict the vote.
MAJ_GROUPED_AT_K = [
    (EQUAL_540, EQUAL_540_CORRECT, 8, 1.0),  # (540, right) x6 beats (540, wrong) x2
    (EQUAL_540, EQUAL_540_CORRECT, 2, 0.0),  # (540, wrong) x2
    (EQUAL_540, EQUAL_540_CORRECT, 3, 0.0),  # (540, wrong) x2 beats (540, right) x1
    (["1/2", "0.5", "\\frac{1}{2}", "3", "3"], [1, 1, 1, 0, 0], 5, 1.0),  # the three halves vote together
    ([None, None, "7"], [0, 0, 1], 3, 0.0),
    (["3", "4", "3.0", "4"], [0, 0, 0, 0], 4, 0.0),
]


@pytest.mark.parametrize(("answers", "correct", "k", "expected"), MAJ_AT_K)
def test_maj_at_k(answers, correct, k, expected):
    assert maj_at_k(answers, [bool(c) for c in correct], k) == expected


@pytest.mark.parametrize(("answers", "correct", "k", "expected"), MAJ_GROUPED_AT_K)
def test_maj_grouped_at_k(answers, correct, k, expected):
    assert maj_grouped_at_k(answers, [bool(c) for c in correct], k) == expected


def test_maj_at_k_grades_the_winning_string():
    """Through the real eval grader: the 540 example's verdicts are what the tables say, and maj@k is the
    grade of the most common string among the first k (graded on its own) for every k."""
    from sparkle.evaluate.tasks import score_responses
    from sparkle.reward import answers_match

    responses = [f"<think>\nx\n</think>\n<answer>\n\\boxed{{{a}}}\n</answer>" for a in EQUAL_540]
    metrics = score_responses(responses, ["540"])
    assert metrics["correct"] == EQUAL_540_CORRECT
    for k in (1, 2, 4, 8):
        first_k = EQUAL_540[:k]
        winner = max(first_k, key=lambda a: (first_k.count(a), -first_k.index(a)))
        assert metrics[f"maj@{k}"] == float(answers_match(winner, ["540"], "eval")[0]), k
    assert (metrics["maj@1"], metrics["maj@2"], metrics["maj@4"], metrics["maj@8"]) == (0.0, 0.0, 1.0, 1.0)


def test_maj_at_k_errors():
    for vote in (maj_at_k, maj_grouped_at_k):
        with pytest.raises(SparkleError):
            vote(["1"], [True, False], 1)
        with pytest.raises(SparkleError):
            vote(["1", "2"], [True, False], 3)


def test_sample_metrics_keys_and_values():
    metrics = sample_metrics(
        [False, True, True, True, False, True, True, True], [None, "24", "25", "25", "3", "25", "25", "25"]
    )
    assert list(metrics) == metric_names(8)
    assert metrics["avg@8"] == 0.75
    assert metrics["pass@2"] == pytest.approx(1 - 1 / 28)
    assert (metrics["maj@1"], metrics["maj@2"], metrics["maj@4"], metrics["maj@8"]) == (0.0, 0.0, 1.0, 1.0)
    grouped = sample_metrics([True, False], ["1/2", "0.5"], grouped=True)
    assert [m for m in grouped if m.startswith("maj_grouped@")] == ["maj_grouped@1", "maj_grouped@2"]


@pytest.mark.parametrize("n", [1, 3, 5, 6, 7, 12])
def test_sample_metrics_for_any_sample_count(n: int):
    """pass@n and maj@n for every n, a power of two or not; the keys are the tasks' metric names."""
    correct = [i % 3 == 0 for i in range(n)]
    metrics = sample_metrics(correct, [str(i % 2) for i in range(n)], report_ks(n))
    assert list(metrics) == metric_names(n)
    assert metrics[f"pass@{n}"] == 1.0  # sample 0 is right
    assert f"maj@{n}" in metrics
    assert list(sample_metrics(correct, ["1"] * n)) == metric_names(n)  # default ks give the same keys


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
