"""Answer extraction (SPEC §5): last ``\\boxed{}``, else the ``<answer>`` block, else an "answer" line.

Pure string work with linear-time scans, so it runs in-process on any text a policy can emit.
"""

from __future__ import annotations

import re

from sparkle.prompts import PSS_MARKER

# Phrases that turn an extracted answer into an abstention (score 0.0 in every training mode).
UNCERTAIN_PHRASES: tuple[str, ...] = (
    "i don't know",
    "i do not know",
    "cannot determine",
    "unable to determine",
    "insufficient information",
)

ASSISTANT_MARKER = "Assistant:"

_IN_BLOCK_PHRASE = re.compile(
    r"(?:the answer is|answer:|result is|value is|solution is)\s*(.*?)(?:\.|$)", re.IGNORECASE | re.DOTALL
)
_IN_BLOCK_LABEL = re.compile(r"(?:Final answer:|Answer:)\s*(.*)", re.IGNORECASE | re.DOTALL)
_LINE_PHRASE = re.compile(r"(?:Final answer:|Answer:|The answer is):?[ \t]*\n?[ \t]*(.*)")


def _match_brace(text: str, open_idx: int) -> int:
    """Index of the ``}`` closing the ``{`` at ``open_idx``, or -1 when it is never closed."""
    depth = 0
    for i in range(open_idx, len(text)):
        ch = text[i]
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i
    return -1


def last_boxed(text: str) -> str | None:
    """Content of the last ``\\boxed{...}`` (brace-matched) or ``\\boxed X`` (up to ``$``); None if absent."""
    if "\\boxed " in text:
        return text.split("\\boxed ")[-1].split("$")[0]
    idx = text.rfind("\\boxed")
    if idx < 0:
        return None
    brace = idx + len("\\boxed")
    if brace >= len(text) or text[brace] != "{":
        return None
    end = _match_brace(text, brace)
    if end < 0:
        return None
    return text[brace + 1 : end].strip()


def answer_blocks(text: str) -> list[str]:
    """The ``<answer>...</answer>`` blocks, as a lazy non-overlapping regex would find them (linear time)."""
    blocks = []
    pos = 0
    while True:
        start = text.find("<answer>", pos)
        if start < 0:
            return blocks
        end = text.find("</answer>", start + 8)
        if end < 0:
            return blocks
        blocks.append(text[start + 8 : end])
        pos = end + 9


def first_answer_block(text: str) -> str | None:
    """The first ``<answer>...</answer>`` block, or None."""
    start = text.find("<answer>")
    if start < 0:
        return None
    end = text.find("</answer>", start + 8)
    return None if end < 0 else text[start + 8 : end]


def _from_answer_block(text: str) -> str | None:
    blocks = answer_blocks(text)
    if not blocks:
        return None
    block = blocks[-1]
    m = _IN_BLOCK_PHRASE.search(block)
    if m:
        return m.group(1).strip()
    m = _IN_BLOCK_LABEL.search(block)
    if m:
        return m.group(1).strip()
    return block.strip()


def extract_answer(text: str) -> str | None:
    """The model's final answer: last boxed, else the ``<answer>`` block, else an "answer" line; or None."""
    if not isinstance(text, str) or not text:
        return None
    boxed = last_boxed(text)
    if boxed is not None:
        return boxed
    block = _from_answer_block(text)
    if block is not None:
        return block
    m = _LINE_PHRASE.search(text)
    if m:
        return m.group(1).strip()
    return None


def is_uncertain(answer: str | None) -> bool:
    """True when the extracted answer is an abstention such as "I don't know"."""
    if not answer:
        return False
    low = answer.lower()
    return any(p in low for p in UNCERTAIN_PHRASES)


def strip_ground_truth(gt: object) -> str:
    """A ground truth as a string; one containing ``\\boxed{}`` is replaced by its boxed content."""
    s = gt if isinstance(gt, str) else str(gt)
    if "\\boxed" in s:
        inner = last_boxed(s)
        if inner is not None:
            return inner
    return s


def completion_part(solution_str: str) -> tuple[str, bool]:
    """The part of a (prompt + response) string to score, and whether the prompt opened ``<think>``.

    The original trainer scored the decoded chat and cut it at the first "Assistant:" (after the
    PSS marker "Assistant: <think>" when the prompt carries one); verl passes the response alone,
    where this cut only fires if the response itself contains "Assistant:".
    """
    idx = solution_str.find(PSS_MARKER)
    if idx >= 0:
        return solution_str[idx + len(PSS_MARKER) :], True
    idx = solution_str.find(ASSISTANT_MARKER)
    if idx >= 0:
        return solution_str[idx + len(ASSISTANT_MARKER) :], False
    return solution_str, False
