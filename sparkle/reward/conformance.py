"""Conformance against the original implementation's recorded outputs.

``python -m sparkle.reward.conformance [REFERENCE ...] [--every N] [--show N] [--field F] [--ids A,B]``
reads one or more reference files (default: ``reward_reference.jsonl`` and
``reward_fuzz_reference.jsonl`` in ``../shared/bench``), recomputes every field of every row and prints,
per file, the agreement rate of each field and the disagreeing rows. The test suite asserts the same rates.

Fields: ``extracted`` (the training extraction), ``train_correct`` (training grader on it),
``eval_extracted`` / ``eval_correct`` (benchmark grader, which never cuts the response), ``format_ok``,
``granular_format`` and the five scores. A score conforms when it matches the original on either
reading: the whole decoded chat string, or the response alone (``resp_only``, what verl 0.9 passes);
the score checked is the one verl gets (the response with the row's ``thinking_level``). Each reading
is also counted on its own, computed the way the original computed it (the chat string; the response
without a level). Two diagnostics separate extraction from grading: ``extract_rule`` (which extraction step fired,
when the file records it) and ``train_correct|ref_extracted`` (the training grader run on the
*original's* extraction — a disagreement there is the grader's, not the extraction's).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sparkle.errors import SparkleError
from sparkle.io import read_jsonl
from sparkle.paths import shared_dir
from sparkle.reward.extract import extract_with_rule
from sparkle.reward.formats import format_ok, granular_format
from sparkle.reward.grading import answers_match
from sparkle.reward.scores import REWARD_TYPES, score_response

CHAT_TEMPLATE = (
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n{prompt}<|im_end|>\n"
    "<|im_start|>assistant\n{response}<|im_end|>"
)
FIELDS: tuple[str, ...] = (
    "extracted",
    "train_correct",
    "eval_extracted",
    "eval_correct",
    "format_ok",
    "granular_format",
    *REWARD_TYPES,
)
RULE_FIELD = "extract_rule"
GRADER_ONLY = "train_correct|ref_extracted"
REFERENCE_FILES: tuple[str, ...] = ("reward_reference.jsonl", "reward_fuzz_reference.jsonl")
DEFAULT_BENCH = shared_dir() / "bench"
TOLERANCE = 1e-6


@dataclass
class ConformanceReport:
    """Per-field agreement counts and the disagreeing rows (id → {field: (ours, theirs)}).

    ``agree`` counts the fields of ``FIELDS`` (scores: the verl path, response + level, against either
    reading); ``chat_agree`` / ``resp_agree`` count each reading on its own (chat string; response
    without a level); ``chat_from_response_agree`` the chat reading recomputed by the verl path from the
    response and its level (``reading="chat"``); ``extra_agree`` / ``extra_n`` count the diagnostics
    (``extract_rule`` only over rows that record it).
    """

    n: int = 0
    agree: dict[str, int] = field(default_factory=lambda: {f: 0 for f in FIELDS})
    chat_agree: dict[str, int] = field(default_factory=lambda: {f: 0 for f in REWARD_TYPES})
    resp_agree: dict[str, int] = field(default_factory=lambda: {f: 0 for f in REWARD_TYPES})
    chat_from_response_agree: dict[str, int] = field(default_factory=lambda: {f: 0 for f in REWARD_TYPES})
    extra_agree: dict[str, int] = field(default_factory=lambda: {RULE_FIELD: 0, GRADER_ONLY: 0})
    extra_n: dict[str, int] = field(default_factory=lambda: {RULE_FIELD: 0, GRADER_ONLY: 0})
    disagreements: dict[str, dict[str, tuple]] = field(default_factory=dict)

    def rate(self, name: str) -> float:
        """Agreement rate of a field of ``FIELDS`` or of a diagnostic."""
        if name in self.extra_agree:
            n = self.extra_n[name]
            return self.extra_agree[name] / n if n else 1.0
        return self.agree[name] / self.n if self.n else 0.0

    def failing(self, name: str) -> dict[str, tuple]:
        """The disagreeing rows of one field: id → (ours, theirs)."""
        return {rid: bad[name] for rid, bad in self.disagreements.items() if name in bad}


def _close(a: float, b: float) -> bool:
    return abs(float(a) - float(b)) <= TOLERANCE


def _count(report: ConformanceReport, bad: dict, name: str, ours: object, theirs: object, ok: bool) -> None:
    if ok:
        report.agree[name] += 1
    else:
        bad[name] = (ours, theirs)


def check_row(report: ConformanceReport, row: dict) -> None:
    """Recompute one reference row and add it to ``report``."""
    try:
        response, gt = row["response"], row["ground_truth"]
        level = int(row.get("thinking_level") or 0)
        prompt, rid = row["prompt"], row["id"]
        theirs_chat = {rt: row[rt] for rt in REWARD_TYPES}
        theirs_resp = {rt: row["resp_only"][rt] for rt in REWARD_TYPES}
        theirs = {name: row[name] for name in FIELDS[:6]}
    except (KeyError, TypeError, ValueError) as e:
        raise SparkleError(
            f"reference row {row.get('id', '?') if isinstance(row, dict) else '?'}: missing or bad field "
            f"({e!r}); use a file written by the original's reward run (see ../shared/bench/README.md)"
        ) from e
    report.n += 1
    bad: dict[str, tuple] = {}
    extracted, rule = extract_with_rule(response)
    # the benchmark grader reads the same extraction; an empty answer is no answer there
    eval_extracted = extracted or None
    ours = {
        "extracted": extracted,
        "train_correct": answers_match(extracted, gt, "train")[0],
        "eval_extracted": eval_extracted,
        "eval_correct": answers_match(eval_extracted, gt, "eval")[0],
        "format_ok": format_ok(response, augmented=level >= 1),
        "granular_format": granular_format(response),
    }
    for name, value in ours.items():
        ok = _close(value, theirs[name]) if name == "granular_format" else value == theirs[name]
        _count(report, bad, name, value, theirs[name], ok)
    if RULE_FIELD in row:
        report.extra_n[RULE_FIELD] += 1
        if rule == row[RULE_FIELD]:
            report.extra_agree[RULE_FIELD] += 1
        else:
            bad[RULE_FIELD] = (rule, row[RULE_FIELD])
    report.extra_n[GRADER_ONLY] += 1
    on_ref = answers_match(theirs["extracted"], gt, "train")[0]
    if on_ref == theirs["train_correct"]:
        report.extra_agree[GRADER_ONLY] += 1
    else:
        bad[GRADER_ONLY] = (on_ref, theirs["train_correct"])
    mine_resp = score_response(response, gt, policy="train", thinking_level=level).scores
    mine_plain = score_response(response, gt, policy="train").scores  # the original's call: no level
    mine_wrap = score_response(response, gt, policy="train", thinking_level=level, reading="chat").scores
    mine_chat = score_response(
        CHAT_TEMPLATE.format(prompt=prompt, response=response), gt, policy="train"
    ).scores
    for rt in REWARD_TYPES:
        chat_ok = _close(mine_chat[rt], theirs_chat[rt])
        resp_ok = _close(mine_plain[rt], theirs_resp[rt])
        either = any(_close(mine_resp[rt], r) for r in (theirs_chat[rt], theirs_resp[rt]))
        _count(report, bad, rt, mine_resp[rt], (theirs_chat[rt], theirs_resp[rt]), either)
        report.chat_agree[rt] += chat_ok
        report.resp_agree[rt] += resp_ok
        report.chat_from_response_agree[rt] += _close(mine_wrap[rt], theirs_chat[rt])
        if not chat_ok:
            bad[f"{rt}@chat"] = (mine_chat[rt], theirs_chat[rt])
        if not resp_ok:
            bad[f"{rt}@resp_only"] = (mine_plain[rt], theirs_resp[rt])
    if bad:
        report.disagreements[rid] = bad


def check_rows(rows: Iterable[dict]) -> ConformanceReport:
    """Recompute every field of the reference rows and compare (scores: either reading conforms)."""
    report = ConformanceReport()
    for row in rows:
        check_row(report, row)
    return report


def load_reference(path: str | Path, every: int = 1) -> list[dict]:
    """The rows of a reference JSONL file; ``every=N`` keeps rows 0, N, 2N, … (a deterministic subset)."""
    path = Path(path)
    if not path.is_file():
        raise SparkleError(f"{path}: no such reference file; pass the path of a reward reference JSONL")
    rows = read_jsonl(path)
    return rows[::every] if every > 1 else rows


def format_report(report: ConformanceReport, title: str) -> list[str]:
    """The per-field rate table of one file."""
    lines = [f"== {title}: {report.n} rows"]
    for name in FIELDS:
        lines.append(f"{name:32s} {report.agree[name]:6d}/{report.n}  {100 * report.rate(name):7.2f}%")
    for name in REWARD_TYPES:
        readings = (
            ("chat", report.chat_agree),
            ("resp_only", report.resp_agree),
            ("chat, from response", report.chat_from_response_agree),
        )
        for reading, counts in readings:
            label = f"{name} ({reading})"
            lines.append(
                f"{label:32s} {counts[name]:6d}/{report.n}  {100 * counts[name] / max(report.n, 1):7.2f}%"
            )
    for name in (RULE_FIELD, GRADER_ONLY):
        if report.extra_n[name]:
            n = report.extra_n[name]
            lines.append(f"{name:32s} {report.extra_agree[name]:6d}/{n}  {100 * report.rate(name):7.2f}%")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "reference", nargs="*", help=f"reference files (default: {', '.join(REFERENCE_FILES)})"
    )
    parser.add_argument(
        "--every", type=int, default=1, help="check every N-th row only (deterministic subset)"
    )
    parser.add_argument("--show", type=int, default=20, help="disagreeing rows to print per field")
    parser.add_argument("--field", default=None, help="only list disagreements on this field")
    parser.add_argument("--ids", default=None, help="comma-separated row ids to check")
    args = parser.parse_args(argv)
    # pylatexenc logs a warning for every malformed macro it meets while the graders normalise answers
    logging.getLogger("pylatexenc").setLevel(logging.ERROR)
    paths = args.reference or [str(DEFAULT_BENCH / name) for name in REFERENCE_FILES]
    for path in paths:
        try:
            rows = load_reference(path, args.every)
        except SparkleError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        if args.ids:
            wanted = set(args.ids.split(","))
            rows = [r for r in rows if r.get("id") in wanted]
        report = check_rows(rows)
        print("\n".join(format_report(report, Path(path).name)))
        by_id = {r["id"]: r for r in rows}
        shown: dict[str, int] = {}
        for rid, bad in report.disagreements.items():
            for name, (mine, theirs) in bad.items():
                if args.field and name != args.field:
                    continue
                shown[name] = shown.get(name, 0) + 1
                if shown[name] <= args.show:
                    r = by_id[rid]
                    print(
                        f"- {rid} [{r.get('kind')}] {name}: ours={mine!r} theirs={theirs!r} "
                        f"gt={r['ground_truth']!r} extracted={r['extracted']!r}"
                    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
