"""The partial-step splitter of Stage-2 PSS data: cut a reference solution into reasoning steps.

The cascade reproduces the original release's behaviour, quirks included (empty steps when a marker or
header sits at position 0 or two header patterns match at one place, ``first_half`` keeping the whole
text under rules 1, 2 and 4), because the PSS training set of the paper was built with it. The rules, and
the agreement measured on the original's outputs, are in ``docs/data.md``.
"""

from __future__ import annotations

import math
import re

TARGET_STEPS = 4

_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
# A numbered item: digits, a period, white space, optionally ``**``; standing at the very start of the
# text, after a line break plus optional white space, or after sentence punctuation plus white space.
# Group 1 is the number. The original wrote the line-break branch as ``\n\s*``; matching instead from
# the first white-space character of a run that contains a line break (atomically) gives the same digit
# positions (a match always consumes the whole white-space run after its item, so a later match never
# starts inside a run) and stays linear on long runs of line breaks, where ``\n\s*`` is quadratic.
NUMBERED_REGEX = re.compile(r"(?:^|(?<!\s)(?>\s*\n\s*)|[.!?]\s+)(\d+)\.\s+(?:\*\*)?")
# A bold bullet: a line starting with optional white space, ``-``, ``*`` or ``•``, white space, ``**``.
# The original wrote ``^\s*[-*•]\s+\*\*`` with MULTILINE; that regex is quadratic on long runs of line
# breaks. This form tries each white-space run once, from its first line start (the text start, or the
# first line break of a run), which counts the same matches: a match from a later line start of the run
# would need the same tail, and the earlier match consumes the whole run.
BULLET_REGEX = re.compile(r"(?:\A|(?<!\s)[^\S\n]*\n)(?>\s*)[-*•]\s+\*\*")
# The three header patterns; each must start the text or follow one white-space character, and the
# break is the start of the match (that white-space character). All three ignore case.
_BOLD_HEADER = re.compile(r"(?:^|\s)\*\*[^*]+\*\*\s*:", re.IGNORECASE)
# The phrase header of the original, ``(?:^|\s)[A-Z][a-z\s]+:\s`` with IGNORECASE, is found by
# ``_phrase_header_starts`` in linear time (the regex is quadratic on long colon-free runs of words).
PHRASE_HEADER_REGEX = re.compile(r"(?:^|\s)[A-Z][a-z\s]+:\s", re.IGNORECASE)
_WORD_HEADER = re.compile(
    r"(?:^|\s)(?:Understanding|Determining|Calculating|Finding|Analysis|Diagram|Position|Area|Volume|Step|"
    r"First|Next|Finally)(?:\s+(?:of|the))?\s*:",
    re.IGNORECASE,
)
# What ``[a-z]`` matches under IGNORECASE besides ASCII letters.
_EXTRA_LETTERS = frozenset("\u0130\u0131\u017f\u212a")


def _is_letter(ch: str) -> bool:
    return ("a" <= ch <= "z") or ("A" <= ch <= "Z") or ch in _EXTRA_LETTERS


# Maximal runs of letters and white space, and a white-space character before a letter (same character
# classes as the phrase regex: ``[a-z]`` under IGNORECASE and ``\s``).
_LETTER_SPACE_RUN = re.compile(r"[a-z\s]+", re.IGNORECASE)
_SPACE_LETTER = re.compile(r"\s[a-z]", re.IGNORECASE)


def _phrase_header_starts(text: str) -> list[int]:
    """Match starts of ``PHRASE_HEADER_REGEX.finditer(text)``, computed in one pass.

    From a start, ``[a-z\\s]+`` runs to the first character that is neither a letter nor white space; the
    match succeeds iff that character is ``:`` followed by white space and at least one letter or
    white-space character lies between the first letter and the colon (a one-letter label such as
    ``y:`` is no header). So each maximal run of letters and white space yields at most one match: its
    leftmost valid start at or after the previous match's end (position 0 before a letter, or a
    white-space character before a letter), if that start lies at least three characters before the colon.
    """
    starts: list[int] = []
    n = len(text)
    pos = 0  # end of the previous match: matches never overlap
    for run in _LETTER_SPACE_RUN.finditer(text):
        colon = run.end()
        if colon + 1 >= n or text[colon] != ":" or not text[colon + 1].isspace():
            continue
        lo = max(run.start(), pos)
        if lo == 0 and _is_letter(text[0]) and colon >= 2:
            start = 0
        else:
            found = _SPACE_LETTER.search(text, lo, colon)
            if found is None or found.start() > colon - 3:
                continue
            start = found.start()
        starts.append(start)
        pos = colon + 2
    return starts


def _header_positions(text: str) -> list[int]:
    """Start of every match of the three header patterns, sorted, duplicates kept."""
    found = [m.start() for m in _BOLD_HEADER.finditer(text)]
    found += _phrase_header_starts(text)
    found += [m.start() for m in _WORD_HEADER.finditer(text)]
    return sorted(found)


_SENTENCE = re.compile(r"[^.!?]+[.!?]+")


def _group_ranges(count: int, groups: int) -> list[tuple[int, int]]:
    """Indices [lo, hi) of ``groups`` contiguous groups over ``count`` items; the last takes the rest."""
    ranges = []
    for k in range(groups):
        lo = k * count // groups
        hi = count if k == groups - 1 else (k + 1) * count // groups
        ranges.append((lo, hi))
    return ranges


def _cut(text: str, starts: list[int], groups: int) -> list[str]:
    """Group section starts into ``groups`` runs and cut the text at each run's first start."""
    firsts = [starts[lo] for lo, _ in _group_ranges(len(starts), groups)]
    ends = firsts[1:] + [len(text)]
    return [text[a:b].strip() for a, b in zip(firsts, ends, strict=True)]


def split_sentences(text: str, pieces: int) -> list[str]:
    """Rule 5: sentences grouped ``ceil(n / pieces)`` to a piece (all of them when ``n <= pieces``)."""
    # Only the part up to the last punctuation mark goes through the regex: on a long tail without
    # punctuation ``[^.!?]+`` would rescan the tail from every position (quadratic).
    last = max(text.rfind("."), text.rfind("!"), text.rfind("?"))
    sentences = []
    end = 0
    for match in _SENTENCE.finditer(text, 0, last + 1):
        sentences.append(match.group().strip())
        end = match.end()
    tail = text[end:].strip()
    if tail:
        sentences.append(tail)
    if len(sentences) <= pieces:
        return sentences
    per_piece = math.ceil(len(sentences) / pieces)
    return [" ".join(sentences[i : i + per_piece]) for i in range(0, len(sentences), per_piece)]


def split_reasoning_with_rule(text: str, first_half: bool = False) -> tuple[list[str], str]:
    """``split_reasoning`` plus the name of the cascade branch that produced the steps."""
    target = TARGET_STEPS
    steps = target // 2 if first_half else target

    paragraphs = [p.strip() for p in _PARAGRAPH_BREAK.split(text) if p.strip()]
    if len(paragraphs) == steps:
        return paragraphs, "1_paragraphs_exact"
    if len(paragraphs) > steps:
        grouped = ["\n\n".join(paragraphs[lo:hi]) for lo, hi in _group_ranges(len(paragraphs), steps)]
        return grouped, "1_paragraphs_grouped"

    markers = [m.start(1) for m in NUMBERED_REGEX.finditer(text)]
    if len(markers) >= steps - 1:
        starts = [0, *markers]
        if len(starts) >= steps:
            return _cut(text, starts, steps), "2_numbered_grouped"
        ends = starts[1:] + [len(text)]
        return [text[a:b].strip() for a, b in zip(starts, ends, strict=True)][:steps], "2_numbered_cut"

    if len(BULLET_REGEX.findall(text)) >= 2:
        pieces = split_sentences(text, target)[:steps]
        return pieces, "3_bullets>5:" + _sentence_label(text, target)

    headers = _header_positions(text)
    if len(headers) < steps - 1:
        return split_sentences(text, target)[:steps], "4_headers_too_few>5:" + _sentence_label(text, target)
    breaks = [0, *headers[:steps], len(text)]
    if len(breaks) > steps + 1:
        return _cut(text, breaks[:-1], steps), "4_headers_grouped"
    return [text[a:b].strip() for a, b in zip(breaks, breaks[1:], strict=False)][:steps], "4_headers_cut"


def _sentence_label(text: str, pieces: int) -> str:
    count = len(split_sentences(text, 10**9))
    return "sentences_all" if count <= pieces else "sentences_grouped"


def split_reasoning(text: str, first_half: bool = False) -> list[str]:
    """Split a reference solution into at most 4 steps (``first_half``: at most 2); see ``docs/data.md``."""
    return split_reasoning_with_rule(text, first_half)[0]
