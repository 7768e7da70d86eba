"""Answer extraction, abstentions, ground-truth cleanup and the chat cut, table-driven.

Every row states what the original release returned for that input (the conformance files in
../shared/bench confirm the rules on thousands of generated responses; these rows are hand-written).
"""

from __future__ import annotations

import random
import re

import pytest

from sparkle.reward import extract_answer, is_uncertain
from sparkle.reward.extract import boxed_step, completion_part, extract_with_rule, strip_ground_truth

BOX = [
    # (text, content, what the box step saw)
    ("no box", None, "no_boxed"),
    ("\\boxed{7}", "7", "brace"),
    ("\\boxed{ -\\frac{1}{5} }", "-\\frac{1}{5}", "brace"),  # stripped, braces matched
    ("\\boxed{\\boxed{47}}", "47", "brace"),  # the last occurrence is the inner one
    ("\\boxed 92$ and more", "92", "space"),  # space form: up to the next $
    ("\\boxed  x + 1 ", "x + 1", "space"),  # ... or the end; stripped
    ("\\boxed{3} then \\boxed 4", "4", "space"),  # only the last occurrence decides
    ("\\boxed 4$ then \\boxed{3}", "3", "brace"),
    ("\\boxed{}", "", "brace_empty"),
    ("\\boxed{  }", "", "brace_empty"),
    ("\\boxed $", "", "space_empty"),
    ("\\boxed ", "", "space_empty"),  # \boxed at the very end, space form
    ("\\boxed", None, "unusable"),  # \boxed at the very end
    ("\\boxed{12", None, "unusable"),  # never closed
    ("\\boxed{1} \\boxed\\frac12", None, "unusable"),  # a macro after the last box: the first is lost
    ("\\boxed{1} \\boxed{", None, "unusable"),
    ("\\fbox{5}", None, "no_boxed"),
    ("\\boxed{a}{b}", "a", "brace"),
]


@pytest.mark.parametrize(("text", "content", "kind"), BOX)
def test_boxed_step(text: str, content: str | None, kind: str) -> None:
    assert boxed_step(text) == (content, kind)


def _resp(block: str, think: str = "work") -> str:
    return f"<think>\n{think}\n</think>\n<answer>\n{block}\n</answer>"


EXTRACTION = [
    # (response, expected extraction, rule)
    (_resp("The answer is \\boxed{42}."), "42", "boxed|box:brace"),
    ("\\boxed{1} then \\boxed{2}", "2", "boxed|box:brace"),
    ("<answer>\\boxed{3}</answer>\nDouble-check: \\boxed{3+1}", "3+1", "boxed|box:brace"),
    (_resp("\\boxed{42}", think="so \\boxed 4$ maybe"), "42", "boxed|box:brace"),  # the later box wins
    (_resp("so $\\boxed 42$", think="try \\boxed{4}"), "42", "boxed|box:space"),
    # the phrase search in the last answer block: case-insensitive, no word boundary, "is" / ":" / "="
    (_resp("The final answer is 42"), "42", "block_phrase|box:no_boxed"),
    (_resp("The answer is 3.5"), "3", "block_phrase|box:no_boxed"),  # shortest run to a period
    (_resp("THE RESULT IS -7. Done"), "-7", "block_phrase|box:no_boxed"),
    (_resp("By evaluation the resolution: 9"), "9", "block_phrase|box:no_boxed"),  # resolution ⊃ solution
    (_resp("ANSWER=0.25"), "0", "block_phrase|box:no_boxed"),
    (_resp("value= x+1"), "x+1", "block_phrase|box:no_boxed"),
    (_resp("answer is: 5"), ": 5", "block_phrase|box:no_boxed"),  # the colon is not part of "is"
    (_resp("The answer isn't 5"), "n't 5", "block_phrase|box:no_boxed"),  # no word boundary after "is"
    (_resp("The answer is\n\n  12"), "12", "block_phrase|box:no_boxed"),  # white space may span lines
    (_resp("The answer is."), "", "block_phrase|box:no_boxed"),  # empty, and still the answer
    (_resp("Answer:"), "", "block_phrase|box:no_boxed"),
    # a phrase whose line has no period and does not end the block does not match there ...
    (_resp("Answer: 12\nchecked"), "Answer: 12\nchecked", "block_whole|box:no_boxed"),
    # ... and the search goes on to a later phrase
    (_resp("Result: 5\nso the value is 6"), "6", "block_phrase|box:no_boxed"),
    (_resp("value: 5\nanswer is 6 units. ok"), "6 units", "block_phrase|box:no_boxed"),
    (_resp("value: 5\nanswer is 6\nok."), "value: 5\nanswer is 6\nok.", "block_whole|box:no_boxed"),
    (_resp("result: 5\u2028more"), "5\u2028more", "block_phrase|box:no_boxed"),  # only \n ends a line
    (_resp("Solution:\n8\nx"), "Solution:\n8\nx", "block_whole|box:no_boxed"),
    # whole block, stripped; the last block; empty boxes and unusable boxes fall through
    (_resp("3.24"), "3.24", "block_whole|box:no_boxed"),
    (_resp("  \n\t "), "", "block_whole|box:no_boxed"),  # white space only: empty answer
    ("<answer>a</answer><answer>The value is 7</answer>", "7", "block_phrase|box:no_boxed"),
    (_resp("\\boxed{}"), "\\boxed{}", "block_whole|box:brace_empty"),
    (_resp("\\boxed{ } The answer is 8"), "8", "block_phrase|box:brace_empty"),
    (_resp("The answer is \\boxed{180."), "\\boxed{180", "block_phrase|box:unusable"),
    (_resp("\\boxed\\frac{1}{2}"), "\\boxed\\frac{1}{2}", "block_whole|box:unusable"),
    (_resp("x", think="\\boxed{5}") + " \\boxed{", "x", "block_whole|box:unusable"),
    ("<think>\n</think>\n<answer>\n</answer>", "", "block_whole|box:no_boxed"),
    # no answer block: the leftmost case-sensitive phrase, white space skipped, the rest of that line
    ("reasoning\nThe answer is 218.", "218.", "outside_phrase|box:no_boxed"),
    ("The answer is: 5", "5", "outside_phrase|box:no_boxed"),
    ("The answer is:\n\n32 cm\nnext", "32 cm", "outside_phrase|box:no_boxed"),
    ("The answer ism = 40$.", "m = 40$.", "outside_phrase|box:no_boxed"),
    ("so the answer is 98\nThe answer is 218.", "218.", "outside_phrase|box:no_boxed"),
    ("The answer is 720.\nmore\nFinal answer: 18.", "720.", "outside_phrase|box:no_boxed"),
    ("text\nAnswer: 199\n</think>", "199", "outside_phrase|box:no_boxed"),
    ("<answer>\nFinal answer: 3", "3", "outside_phrase|box:no_boxed"),  # unclosed block is no block
    ("\\boxed{} Final answer: 4", "4", "outside_phrase|box:brace_empty"),
    ("the answer is 5", None, "none|box:no_boxed"),
    ("\\boxed{ }", None, "none|box:brace_empty"),
    ("", None, "none|box:no_boxed"),
    (" ", None, "none|box:no_boxed"),
]


@pytest.mark.parametrize(("response", "expected", "rule"), EXTRACTION)
def test_extract_answer(response: str, expected: str | None, rule: str) -> None:
    assert extract_answer(response) == expected
    assert extract_with_rule(response) == (expected, rule)


# The in-block phrase search written as the single regular expression it reproduces; the linear
# scanner must agree with it everywhere (the regex backtracks quadratically on long lines).
_NAIVE_PHRASE = re.compile(r"(?:the\s+)?(?:answer|result|value|solution)(?:\s+is|:|=)\s*(.*?)(?:\.|$)", re.I)
_NAIVE_LABEL = re.compile(r"(?:Final answer:|Answer:)\s*(.*?)(?:\.|$)")
_PIECES = [
    "answer", "Answer", "ANSWER", "result", "value", "Solution", "resolution", "answeresult", "the ",
    "The ", "is", " is", ":", "=", ".", " ", "\n", "\t", "\r", "\u2028", "\xa0", "42", "x", "Final answer:",
]  # fmt: skip


def _naive_block(block: str) -> str:
    block = block.strip()
    for pattern in (_NAIVE_PHRASE, _NAIVE_LABEL):
        m = pattern.search(block)
        if m:
            return m.group(1).strip()
    return block


def test_block_phrase_search_equals_the_regular_expression() -> None:
    rng = random.Random(12)
    for _ in range(20000):
        block = "".join(rng.choice(_PIECES) for _ in range(rng.randint(0, 14)))
        assert extract_answer(f"<answer>{block}</answer>") == _naive_block(block), repr(block)


@pytest.mark.parametrize(
    ("answer", "uncertain"),
    [
        ("I don't know", True),
        ("I DO NOT KNOW", True),
        ("I cannot determine the value from the given information.", True),
        ("Unable to determine", True),
        ("insufficient information", True),
        ("I don’t know", False),  # curly apostrophe: not an abstention in the original
        ("I dont know", False),
        ("42", False),
        ("known", False),
        (None, False),
        ("", False),
        (42, False),
    ],
)
def test_is_uncertain(answer: str | None, uncertain: bool) -> None:
    assert is_uncertain(answer) is uncertain


@pytest.mark.parametrize(
    ("truth", "expected"),
    [
        ("\\boxed{5}", "5"),
        ("The answer is \\boxed{\\frac{1}{2}}", "\\frac{1}{2}"),
        ("\\boxed{", "\\boxed{"),  # unusable box: kept as written
        (27.0, "27.0"),
        (12, "12"),
        ("025", "025"),
    ],
)
def test_strip_ground_truth(truth: object, expected: str) -> None:
    assert strip_ground_truth(truth) == expected


CHAT_PSS = "<|im_start|>user\nUser: q Assistant: <think>\nprefix\n<|im_end|>\n<|im_start|>assistant\nr</think><|im_end|>"


@pytest.mark.parametrize(
    ("text", "part", "marker"),
    [
        ("<think>a</think>", "<think>a</think>", False),  # response only, no marker: unchanged
        # the chat string: the template's <|im_start|>assistant comes first, the prompt goes
        ("<|im_start|>user\nUser: q Assistant:<|im_end|>\n<|im_start|>assistant\nresp", "\nresp", False),
        (CHAT_PSS, "\nr</think><|im_end|>", True),  # PSS prompt: marker seen before the cut
        # a response that writes "Assistant:" itself keeps everything after it, tags included
        ("Assistant: <think>\nw</think>", " <think>\nw</think>", True),
        ("resp\nUser: Thanks! Assistant: You're welcome.", " You're welcome.", False),
        ("a Assistant: b <|im_start|>assistant c", " c", False),  # <|im_start|>assistant wins anywhere
        ("x <|im_start|>assistant y <|im_start|>assistant z", " y <|im_start|>assistant z", False),
        ("x Assistant: y Assistant: z", " y Assistant: z", False),  # the first one
        ("assistant: lower case", "assistant: lower case", False),
    ],
)
def test_completion_part(text: str, part: str, marker: bool) -> None:
    assert completion_part(text) == (part, marker)


M = 1_000_000
HOSTILE = {
    "unclosed_answer_tags": "<answer>" * 20000,
    "unclosed_boxes": "\\boxed{" * 20000,
    "line_phrases": "The answer is " * 10000,
    "deep_braces": "{" * 50000 + "\\boxed{1",
    "all_bytes": "".join(chr(i % 256) for i in range(30000)),
    # 1 MB texts against the in-block phrase search (a backtracking regex is quadratic on these)
    "phrases_on_one_line": "<answer>" + "answer: x " * (M // 10) + "\nz</answer>",
    "phrases_and_white_space": "<answer>" + ("answer" + " " * 1000) * (M // 1006) + "\nz</answer>",
    "phrases_and_line_breaks": "<answer>" + ("value is" + "\n" * 100) * (M // 108) + "</answer>",
    "whole_block": "<answer>" + "x" * M + "</answer>",
    "box_at_the_end": "y" * M + "\\boxed",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
@pytest.mark.timeout(60)
def test_extraction_never_hangs_on_hostile_text(name: str) -> None:
    # no timing assertion: a quadratic scan would take hours on these and hit the timeout;
    # benchmarks/bench_extract.py times them
    result, rule = extract_with_rule(HOSTILE[name])
    assert result is None or isinstance(result, str)
    assert rule.split("|")[0] in ("boxed", "block_phrase", "block_whole", "outside_phrase", "none")


@pytest.mark.parametrize("value", [None, 42, 4.5, b"\\boxed{1}", ["\\boxed{1}"], {"a": 1}])
def test_non_string_input_is_no_answer(value: object) -> None:
    assert extract_with_rule(value) == (None, "none|box:no_boxed")
