"""Answer extraction: the last ``\\boxed``, else the last ``<answer>`` block, else an "answer" line.

The rules reproduce the original release exactly, quirks included (docs/reward.md lists them); every
scan is linear in the length of the text, so extraction runs in-process on anything a policy emits.
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
CHAT_ASSISTANT_MARKER = "<|im_start|>assistant"
BOXED = "\\boxed"

# Extraction steps, as ``extract_with_rule`` names them.
STEP_BOXED = "boxed"
STEP_BLOCK_PHRASE = "block_phrase"
STEP_BLOCK_WHOLE = "block_whole"
STEP_OUTSIDE_PHRASE = "outside_phrase"
STEP_NONE = "none"
# What the ``\boxed`` step saw.
BOX_NONE = "no_boxed"
BOX_BRACE = "brace"
BOX_SPACE = "space"
BOX_UNUSABLE = "unusable"
BOX_BRACE_EMPTY = "brace_empty"
BOX_SPACE_EMPTY = "space_empty"

_WHITESPACE = re.compile(r"\s*")
# Every position where an in-block phrase starts (lookahead, so overlapping starts are all seen):
# a keyword, case-insensitive, with no word boundary, then white space + "is", or ":" or "=".
_BLOCK_PHRASE = re.compile(r"(?=((?:answer|result|value|solution)(?:\s+is|:|=)))", re.IGNORECASE)
_BLOCK_LABEL = re.compile(r"(?=(Final answer:|Answer:))")
_STOP = re.compile(r"[.\n]")
# Without an answer block: the leftmost phrase, white space skipped, then the rest of that line.
_LINE_PHRASE = re.compile(r"(?:Final answer:|Answer:|The answer is:|The answer is)\s*(.*)")


def match_brace(text: str, start: int, step: int = 1) -> int:
    """Index of the brace balancing the one at ``start``, or -1 when it is never balanced.

    ``step=1`` scans forward from a ``{`` to its ``}``; ``step=-1`` scans backward from a ``}`` to its ``{``.
    """
    opener, closer = ("{", "}") if step > 0 else ("}", "{")
    stop = len(text) if step > 0 else -1
    depth = 0
    for i in range(start, stop, step):
        ch = text[i]
        if ch == opener:
            depth += 1
        elif ch == closer:
            depth -= 1
            if depth == 0:
                return i
    return -1


def boxed_step(text: str) -> tuple[str | None, str]:
    """The ``\\boxed`` step: (stripped content or None, what the box was — one of the ``BOX_*`` names).

    Only the last occurrence of ``\\boxed`` counts. ``\\boxed{`` gives its brace-matched content (no
    closing brace: unusable); ``\\boxed `` gives everything up to the next ``$`` or the end; anything
    else after ``\\boxed`` is unusable. Empty content returns ``""`` and the ``*_empty`` kind.
    """
    idx = text.rfind(BOXED)
    if idx < 0:
        return None, BOX_NONE
    after = idx + len(BOXED)
    nxt = text[after : after + 1]
    if nxt == "{":
        end = match_brace(text, after)
        if end < 0:
            return None, BOX_UNUSABLE
        content = text[after + 1 : end].strip()
        return content, BOX_BRACE if content else BOX_BRACE_EMPTY
    if nxt == " ":
        dollar = text.find("$", after + 1)
        content = text[after + 1 : dollar if dollar >= 0 else len(text)].strip()
        return content, BOX_SPACE if content else BOX_SPACE_EMPTY
    return None, BOX_UNUSABLE


def last_boxed(text: str) -> str | None:
    """Content of the last ``\\boxed`` (see ``boxed_step``), or None when there is none or it is unusable."""
    return boxed_step(text)[0]


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


def _phrase_search(block: str, phrases: re.Pattern) -> str | None:
    """The first phrase whose answer ends at a ``.`` or at the end of ``block`` (never past a line break).

    Equivalent to searching ``phrase\\s*(.*?)(?:\\.|$)`` in the stripped block, in linear time: after
    the phrase the white space is skipped (line breaks included), then the answer runs to the first
    ``.`` or line break; a line break that is not the end of the block fails this position.
    """
    stop_from, stop_at = -1, -1  # cache: the first stop at or after stop_from is stop_at (-1: none)
    for m in phrases.finditer(block):
        start = _WHITESPACE.match(block, m.end(1)).end()
        if not (stop_from >= 0 and stop_from <= start and (stop_at < 0 or start <= stop_at)):
            found = _STOP.search(block, start)
            stop_from, stop_at = start, found.start() if found else -1
        if stop_at < 0:
            return block[start:].strip()
        if block[stop_at] == ".":
            return block[start:stop_at].strip()
    return None


def _from_answer_block(block: str) -> tuple[str, str]:
    block = block.strip()
    for phrases in (_BLOCK_PHRASE, _BLOCK_LABEL):
        found = _phrase_search(block, phrases)
        if found is not None:
            return found, STEP_BLOCK_PHRASE
    return block, STEP_BLOCK_WHOLE


def extract_with_rule(text: str) -> tuple[str | None, str]:
    """The extracted answer and the rule that produced it, ``"<step>|box:<what the box step saw>"``."""
    if not isinstance(text, str) or not text:
        return None, f"{STEP_NONE}|box:{BOX_NONE}"
    boxed, box = boxed_step(text)
    if boxed:
        return boxed, f"{STEP_BOXED}|box:{box}"
    blocks = answer_blocks(text)
    if blocks:
        answer, step = _from_answer_block(blocks[-1])
        return answer, f"{step}|box:{box}"
    m = _LINE_PHRASE.search(text)
    if m:
        return m.group(1).strip(), f"{STEP_OUTSIDE_PHRASE}|box:{box}"
    return None, f"{STEP_NONE}|box:{box}"


def extract_answer(text: str) -> str | None:
    """The model's final answer (``extract_with_rule`` without the rule), or None."""
    return extract_with_rule(text)[0]


def is_uncertain(answer: str | None) -> bool:
    """True when the extracted answer is an abstention such as "I don't know"."""
    if not answer or not isinstance(answer, str):
        return False
    low = answer.lower()
    return any(p in low for p in UNCERTAIN_PHRASES)


def strip_ground_truth(gt: object) -> str:
    """A ground truth as a string; one containing ``\\boxed{}`` is replaced by its boxed content."""
    s = gt if isinstance(gt, str) else str(gt)
    if BOXED in s:
        inner = last_boxed(s)
        if inner is not None:
            return inner
    return s


def completion_part(solution_str: str) -> tuple[str, bool]:
    """The part of a string the training reward scores, and whether it carries the PSS marker.

    The original reward cut its input after the first ``<|im_start|>assistant`` or, when there is
    none, after the first "Assistant:", keeping everything that follows (a response that starts with
    "Assistant: <think>" keeps its ``<think>``). On the decoded chat string the chat template's
    ``<|im_start|>assistant`` comes first, so the prompt is dropped and the response is kept whole;
    on the response alone (what verl 0.9 passes) the cut fires only when the response itself writes
    one of the two markers. The PSS marker "Assistant: <think>" is looked for in the whole string,
    before the cut (the original's test for an augmented row).
    """
    marker_seen = PSS_MARKER in solution_str
    for marker in (CHAT_ASSISTANT_MARKER, ASSISTANT_MARKER):
        idx = solution_str.find(marker)
        if idx >= 0:
            return solution_str[idx + len(marker) :], marker_seen
    return solution_str, marker_seen
