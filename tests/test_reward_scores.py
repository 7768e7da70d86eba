"""Format checks, granular format, the reward types, PSS detection, the "Assistant:" cut and the verl entry
point; bad input always gets a score."""

from __future__ import annotations

import pytest

from sparkle.prompts import pss_prompt
from sparkle.reward import compute_score, format_ok, granular_format, score_response
from sparkle.reward.formats import looks_augmented
from sparkle.reward.scores import SCORE_KEYS, reward_from

GOOD = "<think>\nwork\n</think>\n<answer>\nThe answer is \\boxed{12}.\n</answer>"
FORMATS = [
    # (text, plain ok, augmented ok, granular)
    (GOOD, True, True, 1.0),
    (GOOD + "\nUser: Thanks! Assistant: bye", True, True, 1.0),  # trailing text is allowed
    ("work\n</think>\n<answer>\\boxed{12}</answer>", False, True, 0.75),  # PSS continuation
    ("<think>a</think><answer>The answer is 12.</answer>", False, False, 0.8),  # no box in the block
    ("<answer>\\boxed{1}</answer><think>a</think>", False, False, 0.6),  # wrong order
    ("<think>a</think><think>b</think><answer>\\boxed{1}</answer>", False, False, 0.5),  # </think> twice
    ("<think><think>a</think><answer>\\boxed{1}</answer>", False, True, 0.75),
    ("<think>a</think><answer>\\boxed{1}", False, False, 0.75),  # unclosed block: no box penalty
    ("<think>a</think>", False, False, 0.5),
    ("The answer is 3", False, False, 0.0),
    ("work\n</think>\n<answer>x</answer>", False, False, 0.55),
    ("a</think></think><answer></answer>", False, False, 0.3),
    ("", False, False, 0.0),
]


@pytest.mark.parametrize(("text", "plain", "aug", "granular"), FORMATS)
def test_format_checks(text: str, plain: bool, aug: bool, granular: float) -> None:
    assert format_ok(text) is plain
    assert format_ok(text, augmented=True) is aug
    assert granular_format(text) == pytest.approx(granular)


@pytest.mark.parametrize(
    ("text", "augmented"),
    [
        ("</think>\n<answer>x</answer>", True),
        ("a</think>b", True),
        ("<think>a</think>", False),
        ("plain", False),
    ],
)
def test_looks_augmented(text: str, augmented: bool) -> None:
    assert looks_augmented(text) is augmented


REWARDS = [
    # (reward type, correct, format ok, granular, uncertain, score)
    ("spk_h", True, True, 1.0, False, 2.0),
    ("spk_h", True, False, 0.5, False, 1.0),
    ("spk_h", False, True, 1.0, False, -1.0),
    ("spk_h_aug", True, True, 0.75, False, 2.0),
    ("spk_s", True, True, 0.7, False, 2.0),
    ("spk_s", True, False, 0.69, False, 1.0),
    ("spk_s", False, True, 1.0, False, 1.0),
    ("spk_s", False, False, 0.0, False, 0.0),
    ("spk_g", True, True, 1.0, False, 1.0),
    ("spk_g", True, False, 0.5, False, 0.6),
    ("spk_g", False, False, 0.0, False, -3.0),
    ("spk_g", False, False, 0.8, False, -1.8),
    ("val", True, False, 0.0, False, 1.0),
    ("val", False, True, 1.0, False, 0.0),
    ("spk_h", False, True, 1.0, True, 0.0),  # abstentions score 0 in every mode
    ("spk_g", False, True, 1.0, True, 0.0),
    ("spk_s", False, True, 1.0, True, 0.0),
]


@pytest.mark.parametrize(("rt", "correct", "fmt", "granular", "uncertain", "score"), REWARDS)
def test_reward_table(
    rt: str, correct: bool, fmt: bool, granular: float, uncertain: bool, score: float
) -> None:
    assert reward_from(rt, correct, fmt, granular, uncertain) == pytest.approx(score)


SCORED = [
    # (response, ground truth, reward type, thinking level, expected score)
    (GOOD, "12", "spk_h", None, 2.0),
    (GOOD, "13", "spk_h", None, -1.0),
    (GOOD.replace("\\boxed{12}", "\\boxed{I don't know}"), "12", "spk_h", None, 0.0),
    ("work\n</think>\n<answer>\\boxed{12}</answer>", "12", "spk_h", 2, 1.0),  # spk_h: plain check
    ("work\n</think>\n<answer>\\boxed{12}</answer>", "12", "spk_h_aug", 2, 2.0),
    ("work\n</think>\n<answer>\\boxed{12}</answer>", "12", "spk_h_aug", None, 2.0),  # heuristic
    ("w\n</think>\n<think>\n<answer>\\boxed{12}</answer>", "12", "spk_h_aug", 2, 2.0),  # stray <think>, level
    ("w\n</think>\n<think>\n<answer>\\boxed{12}</answer>", "12", "spk_h_aug", None, 1.0),  # no level: plain
    ("<think>a</think><answer>The answer is 12.</answer>", "12", "spk_s", None, 2.0),
    ("<think>a</think><answer>The answer is 12.</answer>", "12", "spk_g", None, 0.84),
    ("The answer is 12", "12", "val", None, 1.0),
    ("The answer is 12", "13", "val", None, 0.0),
    ("", "12", "spk_g", None, -3.0),
    # no \boxed: the phrase in the answer block is the answer (format fails: no box)
    ("<think>a</think><answer>The final answer is 42</answer>", "42", "spk_h", None, 1.0),
    # a space-form box in the reasoning does not hide the later box in the answer
    ("<think>\\boxed 4$</think><answer>\\boxed{42}</answer>", "42", "spk_h", None, 2.0),
    # a response that starts with "Assistant: <think>" keeps its <think> (the cut is after the colon)
    ("Assistant: <think>\nw\n</think>\n<answer>\\boxed{12}</answer>", "12", "spk_h", None, 2.0),
    ("Assistant: <think>\nw\n</think>\n<answer>\\boxed{12}</answer>", "12", "spk_g", None, 1.0),
    # on the response alone the original cut at the response's own "Assistant:" (nothing left to grade)
    (GOOD + "\nUser: next question Assistant: sure", "12", "spk_h", None, -1.0),
    # ... or at its own <|im_start|>assistant, anywhere; what precedes it is gone (here: <think>)
    ("<think>\n<|im_start|>assistant\nw</think><answer>\\boxed{12}</answer>", "12", "spk_g", None, 0.8),
    ("<think>\n<|im_start|>assistant\nw</think><answer>\\boxed{12}</answer>", "12", "spk_h_aug", None, 2.0),
]


@pytest.mark.parametrize(("response", "truth", "rt", "level", "score"), SCORED)
def test_score_response(response: str, truth: str, rt: str, level: int | None, score: float) -> None:
    assert score_response(response, truth, reward_type=rt, thinking_level=level).score == pytest.approx(score)


def _chat(prompt: str, response: str) -> str:
    return (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
        f"{prompt}<|im_end|>\n<|im_start|>assistant\n{response}<|im_end|>"
    )


@pytest.mark.parametrize("rt", ["spk_h", "spk_h_aug", "spk_s", "spk_g", "val"])
def test_pss_rows_score_the_same_from_the_level_and_from_the_prompt(rt: str) -> None:
    prompt = pss_prompt("What is 5+7?", "First add the units.")
    response = "So 5+7=12.\n</think>\n<think>\n<answer>\nThe answer is \\boxed{12}.\n</answer>"
    by_level = compute_score("pss", response, "12", {"thinking_level": 1}, reward_type=rt)
    by_prompt = compute_score("pss", _chat(prompt, response), "12", None, reward_type=rt)
    assert by_level == by_prompt
    if rt == "spk_h_aug":
        assert by_level["score"] == 2.0  # the stray <think> does not count on a PSS row


def test_plain_rows_score_the_same_from_response_and_chat() -> None:
    from sparkle.prompts import plain_prompt

    chat = _chat(plain_prompt("What is 5+7?"), GOOD)
    for rt in ("spk_h", "spk_h_aug", "spk_s", "spk_g", "val"):
        assert compute_score("x", GOOD, "12", {}, reward_type=rt) == compute_score(
            "x", chat, "12", {}, reward_type=rt
        )


CHAT_VS_RESPONSE = [
    # (response, ground truth, reward type, score on the chat string, score on the response alone)
    (GOOD, "12", "spk_h", 2.0, 2.0),
    # the chat template's <|im_start|>assistant comes first: the chat string keeps the whole response
    (GOOD + "\nUser: next question Assistant: sure", "12", "spk_h", 2.0, -1.0),
    ("Assistant: <think>\nw\n</think>\n<answer>\\boxed{12}</answer>", "12", "spk_g", 1.0, 1.0),
    ("w\nAssistant: <think>\n</think>\n<answer>answer=39.</answer>", "39", "spk_g", 0.84, 0.84),
    ("<think>\n<|im_start|>assistant\nw</think><answer>\\boxed{12}</answer>", "12", "spk_g", 1.0, 0.8),
    ("The answer is 39", "39", "val", 0.0, 1.0),  # on the chat string the line runs into <|im_end|>
]


@pytest.mark.parametrize(("response", "truth", "rt", "chat", "alone"), CHAT_VS_RESPONSE)
def test_both_readings_of_the_original(response: str, truth: str, rt: str, chat: float, alone: float) -> None:
    from sparkle.prompts import plain_prompt

    text = _chat(plain_prompt("q?"), response)
    assert score_response(text, truth, reward_type=rt).score == pytest.approx(chat)
    assert score_response(response, truth, reward_type=rt).score == pytest.approx(alone)
    # the verl path can reproduce either reading from the response alone
    assert compute_score("x", response, truth, {}, reward_type=rt)["score"] == pytest.approx(alone)
    assert compute_score("x", response, truth, {}, reward_type=rt, reading="chat")["score"] == pytest.approx(
        chat
    )


@pytest.mark.parametrize("rt", ["spk_h", "spk_h_aug", "spk_s", "spk_g", "val"])
def test_chat_reading_of_a_pss_response(rt: str) -> None:
    prompt = pss_prompt("What is 5+7?", "First add the units.")
    response = "So 5+7=12.\n</think>\n<think>\n<answer>\nThe answer is \\boxed{12}.\n</answer>\nAssistant: ok"
    by_chat = score_response(_chat(prompt, response), "12", reward_type=rt)
    by_level = score_response(response, "12", reward_type=rt, thinking_level=1, reading="chat")
    assert by_chat.scores == by_level.scores


BAD_INPUT = [
    # (response, ground truth)
    ("<think>a</think><answer>   \n\t  </answer>", "0"),  # white space only block
    ("<think>a</think><answer>x</answer>\\boxed", "x"),  # \boxed at the very end
    ("<think>a</think><answer>x</answer>\\boxed ", "x"),
    ("<answer>" + "9" * 100_000 + "</answer>", "9"),  # a 100k-character block
    ("<answer>The answer is " + "(" * 50_000 + "</answer>", "1"),
    ("<answer>\\boxed{" + "{" * 1000 + "1</answer>", "1"),  # unbalanced braces
    ("}}}\\boxed{1}}}}", "1"),
    ("<think><answer></think></answer><answer>", "1"),  # unbalanced, misordered tags
    ("</answer>\\boxed{\\frac{1}{", "1/2"),
    ("\\boxed{2}", 2),  # non-string ground truths
    ("\\boxed{2.5}", 2.5),
    ("\\boxed{2}", None),
    ("\\boxed{2}", ["1", 2, None]),
    ("\\boxed{2}", {"answer": 2}),
    ("\\boxed{nan}", float("nan")),
    (None, "1"),  # non-string responses
    (42, "42"),
    (b"\\boxed{1}", "1"),
    (["\\boxed{1}"], "1"),
]


@pytest.mark.parametrize(("response", "truth"), BAD_INPUT)
@pytest.mark.parametrize("rt", ["spk_h", "spk_h_aug", "spk_s", "spk_g", "val"])
@pytest.mark.timeout(120)
def test_bad_input_gets_a_score(response: object, truth: object, rt: str) -> None:
    for policy in ("train", "eval"):
        result = compute_score("x", response, truth, {"thinking_level": 1}, reward_type=rt, policy=policy)
        assert tuple(result) == SCORE_KEYS
        assert all(isinstance(v, float) for v in result.values())


def test_compute_score_keys_are_stable_and_numeric() -> None:
    results = [
        compute_score("a", GOOD, "12"),
        compute_score("a", "", "12", {"split": "test"}),
        compute_score("a", "junk \\boxed{", ["1", "2"], {"thinking_level": "3"}, reward_type="spk_g"),
        compute_score("a", GOOD, "12", {"split": "train"}, reward_type="spk_s", policy="eval", timeout=2),
    ]
    for r in results:
        assert tuple(r) == SCORE_KEYS
        assert all(isinstance(v, float) for v in r.values())


def test_validation_rows_get_the_answer_only_score() -> None:
    bare = "The answer is 12"
    assert compute_score("aime", bare, "12", {"split": "test"}, reward_type="spk_h")["score"] == 1.0
    assert compute_score("aime", bare, "12", {"split": "train"}, reward_type="spk_h")["score"] == 1.0
    assert compute_score("aime", GOOD, "13", {"split": "test"}, reward_type="spk_g")["score"] == 0.0
    assert compute_score("aime", GOOD, "12", {"split": "test"})["acc"] == 1.0


def test_unknown_reward_type_and_policy_are_user_errors() -> None:
    from sparkle.errors import SparkleError

    with pytest.raises(SparkleError, match="reward_type"):
        compute_score("a", GOOD, "12", reward_type="spk_x")
    with pytest.raises(SparkleError, match="policy"):
        compute_score("a", GOOD, "12", policy="lenient")
    with pytest.raises(SparkleError, match="reading"):
        compute_score("a", GOOD, "12", reading="prompt")


def test_import_is_light() -> None:
    import subprocess
    import sys

    code = (
        "import sys, sparkle.reward; "
        "print(sorted(m for m in ('sympy', 'torch', 'verl', 'math_verify', 'pylatexenc') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
