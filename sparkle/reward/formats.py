"""Format checks: the plain and augmented tag checks and the granular format score (docs/reward.md)."""

from __future__ import annotations

from sparkle.reward.extract import first_answer_block

TAGS: tuple[str, ...] = ("<think>", "</think>", "<answer>", "</answer>")


def _ordered(text: str, tags: tuple[str, ...]) -> bool:
    positions = [text.find(t) for t in tags]
    return all(a < b for a, b in zip(positions, positions[1:], strict=False))


def _answer_has_boxed(text: str) -> bool:
    block = first_answer_block(text)
    return block is not None and "\\boxed{" in block


def format_ok(text: str, augmented: bool = False) -> bool:
    """Plain check: each tag exactly once, in order, ``\\boxed{`` inside ``<answer>``.

    Augmented (PSS) rows, whose prompt already opened ``<think>``, skip the ``<think>`` requirement.
    """
    tags = TAGS[1:] if augmented else TAGS
    if any(text.count(t) != 1 for t in tags):
        return False
    return _ordered(text, tags) and _answer_has_boxed(text)


def granular_format(text: str) -> float:
    """1.0, −0.25 per tag not present exactly once, −0.2 for an unboxed answer block, −0.4 for bad order."""
    score = 1.0
    counts = [text.count(t) for t in TAGS]
    score -= 0.25 * sum(c != 1 for c in counts)
    block = first_answer_block(text)
    if block is not None and "\\boxed{" not in block:
        score -= 0.2
    if all(c == 1 for c in counts) and not _ordered(text, TAGS):
        score -= 0.4
    return min(1.0, max(0.0, score))


def looks_augmented(response: str) -> bool:
    """The original's heuristic for a PSS continuation: starts with ``</think>``, or closes without opening."""
    stripped = response.lstrip()
    return stripped.startswith("</think>") or ("</think>" in response and "<think>" not in response)
