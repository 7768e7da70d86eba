"""Conformance against the original implementation's verdicts (``../shared/bench/reward_reference.jsonl``).

``python -m sparkle.reward.conformance [REFERENCE] [--show N] [--field F]`` prints the agreement rate of
every field and lists the disagreeing rows; the test suite asserts the same rates.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sparkle.reward.extract import extract_answer
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


@dataclass
class ConformanceReport:
    """Per-field agreement counts and the disagreeing rows (id → {field: (ours, theirs)})."""

    n: int = 0
    agree: dict[str, int] = field(default_factory=lambda: {f: 0 for f in FIELDS})
    chat_agree: dict[str, int] = field(default_factory=lambda: {f: 0 for f in REWARD_TYPES})
    disagreements: dict[str, dict[str, tuple]] = field(default_factory=dict)

    def rate(self, name: str) -> float:
        return self.agree[name] / self.n if self.n else 0.0


def _close(a: float, b: float) -> bool:
    return abs(float(a) - float(b)) <= 1e-6


def check_rows(rows: Iterable[dict]) -> ConformanceReport:
    """Recompute every field of the reference rows and compare (scores: either reading conforms)."""
    report = ConformanceReport()
    for row in rows:
        report.n += 1
        response, gt, level = row["response"], row["ground_truth"], int(row.get("thinking_level") or 0)
        ours: dict[str, object] = {}
        extracted = extract_answer(response)
        ours["extracted"] = extracted
        ours["train_correct"] = answers_match(extracted, gt, "train")[0]
        eval_extracted = extracted or None
        ours["eval_extracted"] = eval_extracted
        ours["eval_correct"] = answers_match(eval_extracted, gt, "eval")[0]
        ours["format_ok"] = format_ok(response, augmented=level >= 1)
        ours["granular_format"] = granular_format(response)
        bad: dict[str, tuple] = {}
        for name in FIELDS[:6]:
            theirs = row[name]
            ok = _close(ours[name], theirs) if name == "granular_format" else ours[name] == theirs
            if ok:
                report.agree[name] += 1
            else:
                bad[name] = (ours[name], theirs)
        chat = CHAT_TEMPLATE.format(prompt=row["prompt"], response=response)
        mine = score_response(response, gt, policy="train", thinking_level=level).scores
        mine_chat = score_response(chat, gt, policy="train").scores
        for rt in REWARD_TYPES:
            readings = (row[rt], row["resp_only"][rt])
            if any(_close(mine[rt], r) for r in readings):
                report.agree[rt] += 1
            else:
                bad[rt] = (mine[rt], readings)
            if _close(mine_chat[rt], row[rt]):
                report.chat_agree[rt] += 1
            else:
                bad[f"{rt}@chat"] = (mine_chat[rt], row[rt])
        if bad:
            report.disagreements[row["id"]] = bad
    return report


def load_reference(path: str | Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "reference",
        nargs="?",
        default=str(Path(__file__).resolve().parents[3] / "shared/bench/reward_reference.jsonl"),
    )
    parser.add_argument("--show", type=int, default=20, help="disagreeing rows to print per field")
    parser.add_argument("--field", default=None, help="only list disagreements on this field")
    parser.add_argument("--ids", default=None, help="comma-separated row ids to check")
    args = parser.parse_args(argv)
    rows = load_reference(args.reference)
    if args.ids:
        wanted = set(args.ids.split(","))
        rows = [r for r in rows if r["id"] in wanted]
    report = check_rows(rows)
    by_id = {r["id"]: r for r in rows}
    for name in FIELDS:
        print(f"{name:16s} {report.agree[name]:5d}/{report.n}  {100 * report.rate(name):.2f}%")
    for name in REWARD_TYPES:
        print(f"{name + '@chat':16s} {report.chat_agree[name]:5d}/{report.n}")
    shown: dict[str, int] = {}
    for rid, bad in report.disagreements.items():
        for name, (mine, theirs) in bad.items():
            if args.field and name != args.field:
                continue
            shown[name] = shown.get(name, 0) + 1
            if shown[name] <= args.show:
                r = by_id[rid]
                print(
                    f"- {rid} [{r['kind']}] {name}: ours={mine!r} theirs={theirs!r} gt={r['ground_truth']!r} "
                    f"extracted={r['extracted']!r}"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
