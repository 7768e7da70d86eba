"""The benchmark grader (policy ``eval``): the Hendrycks-MATH string path, the PRM800K-style normalisation
with its LaTeX-to-text quirk, the string fallback after a sympy error, and the per-element rules — each
with the training grader's verdict beside it, since the two differ exactly on these inputs."""

from __future__ import annotations

import pytest

from sparkle.reward.grading import answers_match, grade
from sparkle.reward.normalize import fallback_key, mathd_normalize, normalize_eval

# (answer, ground truth, eval verdict, train verdict, why)
EVAL_TABLE = [
    # string fallback: sympy cannot parse a backslash; the elements match when equal without { } \
    ("\\frac{20000}{pi}", "\\frac{20000}{\\pi}", True, True, "fallback: frac20000pi on both sides"),
    ("\\frac{3}{4}\\", "\\frac{3}{4}", True, True, "fallback: a stray trailing backslash"),
    ("frac{1}{4}", "\\frac{1}{4}", True, False, "fallback: the missing backslash does not matter"),
    ("7sqrt{5}", "7\\sqrt{5}", True, False, "fallback on a sqrt written without its backslash"),
    ("\\pi", "pi", True, True, "fallback: two letters are allowed, the parse of \\pi raises"),
    ("15pi", "15\\pi", True, True, "fallback"),
    ("\\infty", "inf", False, True, "fallback strings differ: infty vs inf"),
    ("\\frac{\\pi}{3}", "\\frac{\\pi}{4}", False, False, "fallback strings differ"),
    ("(sqrt{3}, 2)", "(\\sqrt{3}, 2)", True, False, "fallback inside a tuple element"),
    # the guard comes first: too many letters means "not equal", never the fallback
    ("t=\\text{odd}", "\\text{odd}", False, False, "t, e, x, o, d: five letters"),
    ("(xyz, 2.0)", "(xyz, 2)", False, False, "identical elements still need the guard to pass"),
    ("(x, 2.0)", "(x, 2)", True, False, "elements compared one by one"),
    # the LaTeX-to-text quirk: a successful first conversion is thrown away
    ("{\\dfrac{1}{6}}", "\\frac{1}{6}", False, True, "\\dfrac stays \\dfrac: dfrac16 vs frac16"),
    ("2π \\sqrt{2}", "2pi \\sqrt{2}", False, True, "converted fine, so π is never replaced: 3 letters"),
    ("0.6875", "\\frac{11}{16}", False, True, "LaTeX never meets a decimal"),
    # ...and when the first conversion raises (a dangling \sqrt), the retry's text is used, replacements too
    ("2π \\sqrt", "2pi \\sqrt", True, False, "both raise; π → pi makes the strings equal"),
    ("36 \\sqrt", "36", False, False, "the retry raises too; an integer truth needs an integer"),
    # the Hendrycks-MATH path unwraps a whole \text{...} and strips before canonicalising
    ("\\text{a = 80}", "80", True, False, "unwrap, then the short 'a =' prefix goes"),
    ("\\text{\\left(-3,2\\right)}", "(-3,2)", True, True, "unwrap, then \\left and \\right go"),
    ("\\dfrac 43", "\\text{\\frac43}", True, True, "\\dfrac 43 and \\frac43 both become \\frac{4}{3}"),
    ("neither\\!", "\\text{neither}", True, True, "\\! dropped, the gold unwrapped"),
    ("x=\\text{B}", "\\text{B}", False, False, "only a whole-string wrapper is removed"),
    ("\\text{Sunday} \\text{ cm}", "\\text{Sunday}", False, True, "the lazy wrapper regex spans both groups"),
    ("5, \\!040", "\\text{5,\\!040}", True, True, "thousands separator with \\!"),
    # per-element rules of the PRM800K-style grader
    ("2/4", "1/2", False, True, "two fractions must be the same string"),
    ("\\frac{10}{2}", "5", False, True, "an integer truth needs an integer answer (no sympy)"),
    ("[1,2]", "(1,2)", False, False, "brackets must match"),
    ("(1,2,3)", "(1,2)", False, False, "lengths must match"),
    ("\\$", "5", False, False, "nothing left after normalisation"),
]


@pytest.mark.parametrize(("answer", "truth", "eval_", "train", "why"), EVAL_TABLE)
def test_eval_and_train_verdicts(answer: str, truth: str, eval_: bool, train: bool, why: str) -> None:
    assert answers_match(answer, truth, "eval") == (eval_, False), why
    assert answers_match(answer, truth, "train") == (train, False), why


@pytest.mark.parametrize(
    ("answer", "normalised"),
    [
        ("\\dfrac{1}{6}", "\\dfrac16"),  # converted fine → the conversion is lost
        ("36 \\sqrt", "36\\sqrt"),  # both attempts raise → the input, replacements applied
        ("2π \\sqrt", "2pi\\sqrt"),
        ("\\frac{1}{\\sqrt", "1/sqrt()"),  # the retry on the brace-balanced text succeeds and is used
        ("1,234.0", "1234"),
        ("7 3/4", "7+3/4"),
        ("\\text{5 cm}", "5"),
    ],
)
def test_normalize_eval(answer: str, normalised: str) -> None:
    assert normalize_eval(answer) == normalised


def test_mathd_normalize_returns_the_unwrapped_answer_when_canonicalising_fails() -> None:
    assert mathd_normalize("  \\text{ 0.5 } ") == "\\frac{1}{2}"
    assert mathd_normalize("\\text{ 2\\sqrt }") == "2\\sqrt"  # \sqrt at the end raises inside
    assert mathd_normalize("1\\text{ a}\\text{ b}") == "1\\text{ a}\\text{ b}"  # two unit groups raise
    assert mathd_normalize(None) is None


def test_fallback_key() -> None:
    assert fallback_key("\\frac20000\\pi") == fallback_key("frac20000pi") == "frac20000pi"


@pytest.mark.timeout(60)
def test_a_timeout_is_not_equal_and_never_the_fallback() -> None:
    # the first elements are identical, so a sympy error would fall back to "equal"; an overrun must not
    ok, timed_out = answers_match("(9**9**9**9, 2)", "(9**9**9**9, 2.0)", "eval", timeout=0.5)
    assert (ok, timed_out) == (False, True)


def test_the_benchmark_grader_grades_the_whole_response() -> None:
    # no "Assistant:" cut: a response that writes a second turn is graded on all of its text
    response = "<answer>\\boxed{5}</answer>\nUser: and now?\nAssistant: <answer>\\boxed{7}</answer>"
    g = grade(response, "7", "eval")
    assert (g.correct, g.extracted) == (True, "7")
    assert grade("Assistant: \\boxed{5}", "5", "eval").correct
