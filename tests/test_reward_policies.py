"""The three grading policies, the benchmark grader's quirk, several ground truths, answer keys."""

from __future__ import annotations

import pytest

from sparkle.reward import answer_key, grade
from sparkle.reward.grading import answers_match

# (answer, ground truth, train, eval, math_verify)
POLICY_TABLE = [
    ("14/3", "\\frac{14}{3}", True, True, True),
    ("\\frac{11}{16}", "\\frac{11}{16}", True, True, True),
    # eval quirk: the PRM800K-style LaTeX conversion is skipped, so LaTeX never meets a decimal there
    ("0.6875", "\\frac{11}{16}", True, False, True),
    ("0.25", "\\frac{1}{4}", True, False, True),
    ("0.5", "\\frac{1}{2}", True, True, True),  # ...except Hendrycks' own 0.5 → \frac{1}{2} rule
    ("\\pi \\cdot 40", "40\\pi", True, False, True),
    ("2\\sqrt{3}", "\\sqrt{12}", True, False, True),
    ("-\\frac{3}{4}", "\\frac{-3}{4}", True, False, True),
    ("2/4", "\\frac{1}{2}", True, False, True),  # unreduced fraction: eval wants the same string
    # train: "025" is tokenised as 0 25 (implicit product 0), thousands separators are not numbers
    ("025", "25", False, True, True),
    ("1,000", "1000", False, True, True),
    ("\\$32,\\!348", "32348", False, True, True),
    ("(3, 4.0)", "(3,4)", False, True, True),  # eval compares tuples element by element
    ("\\left( 2, 3 \\right)", "(2,3)", True, True, True),
    ("[2,3)", "(2,3)", False, False, False),
    ("3, 1, 2", "1,2,3", False, False, True),  # only math-verify compares sets
    ("7^{\\frac{1}{2}}", "\\sqrt{7}", False, False, True),  # "^{" blocks the symbolic path
    ("x=5", "5", False, True, True),  # Hendrycks drops a short "x =" prefix
    ("7 3/4", "31/4", False, True, False),  # mixed number: only the eval normalisation knows it
    ("3 million", "3000000", True, False, False),  # eval: an integer truth needs an integer answer
    ("12.5", "12", False, False, False),
    ("10.0", "10", True, True, True),
    (".5", "0.5", True, True, True),
    ("5\\text{ cm}", "5", True, True, True),
    ("90^\\circ", "90", True, True, True),
    ("50\\%", "50", True, True, True),
    ("\\dfrac{1}{2}", "\\frac12", True, True, True),
    ("k+k+2", "2k+2", True, True, True),
    ("x^2+2x+1", "(x+1)^2", True, True, True),
    ("\\text{(C)}", "\\text{(C)}", True, True, True),
    ("4", "5", False, False, False),
    ("", "5", False, False, False),
]


@pytest.mark.parametrize(("answer", "truth", "train", "eval_", "mv"), POLICY_TABLE)
def test_policy_table(answer: str, truth: str, train: bool, eval_: bool, mv: bool) -> None:
    assert answers_match(answer, truth, "train")[0] is train
    assert answers_match(answer, truth, "eval")[0] is eval_
    assert answers_match(answer, truth, "math_verify")[0] is mv


@pytest.mark.parametrize("policy", ["train", "eval", "math_verify"])
def test_several_ground_truths_and_boxed_truths(policy: str) -> None:
    response = "<think>x</think><answer>The answer is \\boxed{27}.</answer>"
    assert grade(response, ["12", "27.0"], policy).correct
    assert grade(response, ["12", "13"], policy).correct is False
    assert grade(response, "Thus \\boxed{27}", policy).correct
    assert grade(response, [], policy).correct is False


def test_grade_reports_the_extracted_answer() -> None:
    g = grade("<answer>The answer is \\boxed{\\frac{1}{2}}</answer>", "0.5", "train")
    assert (g.correct, g.extracted, g.timed_out) == (True, "\\frac{1}{2}", False)
    assert grade("<answer>\n</answer>", "5", "train").extracted == ""
    assert grade("<answer>\n</answer>", "5", "eval").extracted is None  # the benchmark grader: no answer
    assert grade("nothing", "5", "eval").extracted is None


def test_unclosed_box_is_graded_differently_by_train_and_eval() -> None:
    # conformance rows edge-0015..0019: extraction "\boxed{180"; the train LaTeX conversion rescues it
    response = "<think>x</think>\n<answer>\nThe answer is \\boxed{180.\n</answer>"
    assert grade(response, "180", "train").correct
    assert not grade(response, "180", "eval").correct


def test_math_verify_falls_back_to_its_own_extraction() -> None:
    response = "We get $x = \\frac{3}{4}$ at the end."  # no SPARKLE answer at all
    g = grade(response, "0.75", "math_verify")
    assert g.extracted is None and g.correct


def test_unknown_policy_is_a_user_error() -> None:
    from sparkle.errors import SparkleError

    with pytest.raises(SparkleError, match="policy"):
        grade("\\boxed{1}", "1", "lenient")


@pytest.mark.parametrize(
    ("answers", "same"),
    [
        (["\\frac{1}{2}", "1/2", "0.5", "\\dfrac12"], True),
        (["1,000", "1000", "1000.0"], True),
        (["\\text{(C)}", "(C)"], True),
        (["12", "13"], False),
        (["x+1", "1+x"], False),  # keys are string forms, not symbolic classes
    ],
)
def test_answer_key_groups_equal_answers(answers: list[str], same: bool) -> None:
    keys = {answer_key(a) for a in answers}
    assert (len(keys) == 1) is same
    assert answer_key(None) == ""


def test_ground_truth_containers() -> None:
    import numpy as np

    response = "\\boxed{27}"
    assert grade(response, np.array(["12", "27"], dtype=object), "train").correct
    assert grade(response, np.int64(27), "eval").correct
    assert grade(response, 27.0, "eval").correct
    assert grade(response, (["26"], ["27"]), "train").correct
    assert grade(response, None, "train").correct is False
