"""The in-process LaTeX arithmetic evaluator behind the math_verify policy's shortcut: values, refusals,
and agreement with math-verify itself wherever the shortcut decides."""

from __future__ import annotations

import math

import pytest

from sparkle.reward.mathverify import math_verify_worker
from sparkle.reward.numeric import evaluate_latex, numeric_verdict

VALUES = [
    ("11 \\sqrt{5} + 11", 11 * math.sqrt(5) + 11),
    ("169\\pi", 169 * math.pi),
    ("\\frac{\\sqrt7}{3}", math.sqrt(7) / 3),
    ("\\dfrac{3 \\sqrt{3}}{2}", 3 * math.sqrt(3) / 2),
    ("7^{\\frac{1}{2}}", math.sqrt(7)),
    ("2 \\cdot \\sqrt{6}", 2 * math.sqrt(6)),
    ("\\frac12", 0.5),
    ("\\sqrt[3]{8}", 2.0),
    ("-2^2", -4.0),
    ("\\left( 1+\\frac{1}{2} \\right)^2", 2.25),
    ("2\\times 3", 6.0),
]


@pytest.mark.parametrize(("text", "value"), VALUES)
def test_values(text: str, value: float) -> None:
    got = evaluate_latex(text)
    assert got is not None and got[0] == pytest.approx(value) and got[1] is False


@pytest.mark.parametrize(
    "text",
    [
        "2^10",
        "a+b",
        "1/2",
        "\\frac{1}{0}",
        "2 3",
        "\\sqrt{-1}",
        "10^{100}",
        "(-8)^{\\frac13}",
        "2\\frac{1}{2}",
        "\\sin 30",
        "30^\\circ",
        "50\\%",
        "1,000",
        "",
        "(" * 40 + "1" + ")" * 40,
        "9" * 200,
    ],
)
def test_refusals(text: str) -> None:
    assert evaluate_latex(text) is None


PAIRS = [
    ("8\\sqrt{3}", "\\sqrt{192}"),
    ("8\\sqrt{3}", "557"),
    ("11 \\sqrt{5} + 11", "11 \\sqrt{5} + 10"),
    ("169\\pi", "163\\pi"),
    ("40\\pi", "\\pi \\cdot 40"),
    ("\\frac{\\sqrt{3}}{3}", "\\frac{\\sqrt{6}}{3}"),
    ("\\sqrt{7}", "7^{\\frac{1}{2}}"),
    ("6 - 5i", "6 - 7i"),
    ("6 - 5i", "-5i + 6"),
    (
        "\\left( 8, \\frac{\\pi}{3}, \\frac{2 \\pi}{3} \\right)",
        "\\left( 8, \\frac{\\pi}{6}, \\frac{2 \\pi}{3} \\right)",
    ),
    ("(-\\sqrt{3}, \\sqrt{3})", "(-\\sqrt{3}, 3^{\\frac{1}{2}})"),
    ("\\frac{1}{3}", "0.333333"),
    ("\\sqrt{2}", "1.4142"),
    ("\\frac{3}{4}", "0.75"),
    ("2", "2.0000001"),
    ("(1,8)", "\\left( \\frac{4}{13}, \\frac{1}{13}, \\frac{8}{13} \\right)"),
    ("[-\\tfrac18, \\tfrac98]", "5416"),
    ("-i", "(-4 \\sqrt{3},-4)"),
    ("(2,3)", "[2,3]"),
    ("(5)", "5"),
]


@pytest.mark.parametrize(("gold", "pred"), PAIRS)
def test_shortcut_agrees_with_math_verify(gold: str, pred: str) -> None:
    verdict = numeric_verdict(gold, pred)
    if verdict is not None:
        assert verdict == math_verify_worker(gold, pred, None)


def test_shortcut_decides_the_common_cases() -> None:
    assert numeric_verdict("8\\sqrt{3}", "\\sqrt{192}") is True
    assert numeric_verdict("169\\pi", "163\\pi") is False
    assert numeric_verdict("\\frac{1}{3}", "0.333333") is None  # math-verify's rounding decides that one


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("11sqrt(5)+11", 11 * math.sqrt(5) + 11),
        ("1/2pi", math.pi / 2),
        ("2^-1", 0.5),
        ("-2^2", -4.0),
        ("1/2sqrt(3)", math.sqrt(3) / 2),
        ("7.", 7.0),
        ("2304pi", 2304 * math.pi),
    ],
)
def test_normalised_text_values(text: str, value: float) -> None:
    from sparkle.reward.numeric import text_value

    got = text_value(text)
    assert got is not None and got.real == pytest.approx(value)


@pytest.mark.parametrize("text", ["015", "sqrt2", "x+1", "3/0", "5,400", "(18,6)", "pi2", "2^100", ""])
def test_normalised_text_refusals(text: str) -> None:
    from sparkle.reward.numeric import text_value

    assert text_value(text) is None


@pytest.mark.parametrize(
    ("gt", "pred"),
    [
        ("9sqrt(2)", "8"),
        ("sqrt(3)-1/2", "1/2"),
        ("45pi", "13"),
        ("pi/2", "1/2pi"),
        ("2sqrt(10)", "sqrt(40)"),
        ("15", "015"),
        ("2pi", "pi2"),
    ],
)
def test_clearly_different_is_sound_against_sympy(gt: str, pred: str) -> None:
    from sparkle.reward.numeric import clearly_different
    from sparkle.reward.symbolic import sympy_equal_worker

    if clearly_different(gt, pred):
        assert sympy_equal_worker(gt, pred) is False
