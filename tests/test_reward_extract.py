"""Answer extraction, abstentions, ground-truth cleanup and the chat cut (SPEC §5), table-driven."""

from __future__ import annotations

import pytest

from sparkle.reward import extract_answer, is_uncertain
from sparkle.reward.extract import completion_part, strip_ground_truth

EXTRACTION = [
    # (response, expected extraction)
    ("<answer>The answer is \\boxed{42}.</answer>", "42"),
    ("\\boxed{1} then \\boxed{2}", "2"),  # the last box wins
    ("\\boxed{\\frac{1}{2}}", "\\frac{1}{2}"),  # braces matched
    ("\\boxed{\\boxed{47}}", "47"),  # nested: the innermost (last) box
    ("\\boxed{ -\\frac{1}{5} }", "-\\frac{1}{5}"),  # content stripped
    ("The answer is $\\boxed 92$.", "92"),  # \boxed X up to the next $
    ("<answer>\\boxed{3}</answer>\nDouble-check: \\boxed{3+1}", "3+1"),  # a box after the block still wins
    ("<answer>\nThe answer is \\boxed{180.\n</answer>", "\\boxed{180"),  # unclosed box: block phrase
    ("<answer>\n3.24\n</answer>", "3.24"),  # bare block
    ("<answer>\nFinal answer: 254\n</answer>", "254"),
    ("<answer>\nresult = 435\n</answer>", "result = 435"),  # no phrase matches: whole block
    ("<answer>The answer is 4.5</answer>", "4"),  # the original stops at the first period
    ("<answer>a</answer><answer>The value is 7</answer>", "7"),  # the last block
    ("<think>\n</think>\n<answer>\n</answer>", ""),  # empty block: empty answer, not None
    ("reasoning\nThe answer is 218.", "218."),  # line form keeps the period
    ("so the answer is 98\nThe answer is 218.", "218."),  # "The answer is" is case-sensitive
    ("The answer is 720.\nmore\nThe answer is 18.", "720."),  # the first line match wins
    ("The answer is $28$\nFinal answer: 2,-2", "$28$"),  # leftmost of the three phrases
    ("Final answer: 3", "3"),
    ("text\nAnswer: 199\n</think>", "199"),
    ("The answer is:\n32", "32"),  # colon, then the next line
    ("no answer here", None),
    ("", None),
    (" ", None),
]


@pytest.mark.parametrize(("response", "expected"), EXTRACTION)
def test_extract_answer(response: str, expected: str | None) -> None:
    assert extract_answer(response) == expected


@pytest.mark.parametrize(
    ("answer", "uncertain"),
    [
        ("I don't know", True),
        ("I DO NOT KNOW", True),
        ("I cannot determine the value from the given information.", True),
        ("Unable to determine", True),
        ("insufficient information", True),
        ("42", False),
        ("known", False),
        (None, False),
        ("", False),
    ],
)
def test_is_uncertain(answer: str | None, uncertain: bool) -> None:
    assert is_uncertain(answer) is uncertain


@pytest.mark.parametrize(
    ("truth", "expected"),
    [
        ("\\boxed{5}", "5"),
        ("The answer is \\boxed{\\frac{1}{2}}", "\\frac{1}{2}"),
        (27.0, "27.0"),
        (12, "12"),
        ("025", "025"),
    ],
)
def test_strip_ground_truth(truth: object, expected: str) -> None:
    assert strip_ground_truth(truth) == expected


@pytest.mark.parametrize(
    ("text", "part", "marker"),
    [
        ("<think>a</think>", "<think>a</think>", False),  # response only: unchanged
        ("User: q Assistant: <think>\nprefix\n</think>x", "\nprefix\n</think>x", True),  # PSS prompt
        ("User: q Assistant:<|im_end|>\nresp", "<|im_end|>\nresp", False),  # plain chat: first marker
        ("resp\nUser: Thanks! Assistant: You're welcome.", " You're welcome.", False),
    ],
)
def test_completion_part(text: str, part: str, marker: bool) -> None:
    assert completion_part(text) == (part, marker)


@pytest.mark.parametrize(
    "hostile",
    [
        "<answer>" * 20000,  # no closing tag: must stay linear
        "\\boxed{" * 20000,
        "The answer is " * 10000,
        "{" * 50000 + "\\boxed{1",
        "".join(chr(i % 256) for i in range(30000)),
    ],
)
@pytest.mark.timeout(20)
def test_extraction_never_hangs_on_hostile_text(hostile: str) -> None:
    # quadratic scans would take minutes here; the scanners are linear
    result = extract_answer(hostile)
    assert result is None or isinstance(result, str)
