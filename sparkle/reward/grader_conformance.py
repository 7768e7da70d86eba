"""Conformance of the two graders with the original's verdicts, apart from answer extraction.

``python -m sparkle.reward.grader_conformance [FILE ...] [--stride N] [--show N] [--path P]`` grades each
row's reference extraction against its ground truth — ``eval_extracted`` with the benchmark grader
(policy ``eval``), ``extracted`` with the training grader (policy ``train``) — and compares with the
reference ``eval_correct`` / ``train_correct``; it also grades the whole response end to end
(extraction included). Defaults to the three reference files in ``../shared/bench``. Disagreements are
listed with the reference's ``eval_path`` label (the branch of the original that decided) where the
file has one.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sparkle.paths import shared_dir
from sparkle.reward.extract import extract_answer
from sparkle.reward.grading import answers_match

DEFAULT_FILES = ("grader_fuzz_reference.jsonl", "reward_reference.jsonl", "reward_fuzz_reference.jsonl")
CHECKS = ("eval", "train", "eval_e2e")


@dataclass
class GraderReport:
    """Agreement counts per check and the disagreeing rows: (check, row id, ours, theirs, row)."""

    n: int = 0
    agree: Counter = field(default_factory=Counter)
    timeouts: int = 0
    disagreements: list[tuple[str, str, bool, bool, dict]] = field(default_factory=list)

    def rate(self, check: str) -> float:
        return self.agree[check] / self.n if self.n else 0.0


def check_rows(rows: Iterable[dict], timeout: float | None = None, end_to_end: bool = True) -> GraderReport:
    """Grade every row with both graders on the reference extraction (and end to end) and compare."""
    report = GraderReport()
    for row in rows:
        report.n += 1
        gt = row["ground_truth"]
        ours: dict[str, bool] = {}
        ok, t = answers_match(row["eval_extracted"], gt, "eval", timeout)
        ours["eval"] = ok
        report.timeouts += t
        ok, t = answers_match(row["extracted"], gt, "train", timeout)
        ours["train"] = ok
        report.timeouts += t
        if end_to_end:
            extracted = extract_answer(row["response"]) or None
            same = extracted == row["eval_extracted"]
            ours["eval_e2e"] = ours["eval"] if same else answers_match(extracted, gt, "eval", timeout)[0]
        theirs = {"eval": row["eval_correct"], "train": row["train_correct"], "eval_e2e": row["eval_correct"]}
        for check, mine in ours.items():
            if mine == theirs[check]:
                report.agree[check] += 1
            else:
                report.disagreements.append((check, row["id"], mine, theirs[check], row))
    return report


def load_rows(path: str | Path, stride: int = 1) -> Iterator[dict]:
    """Every ``stride``-th row of a JSONL reference file."""
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f):
            if i % stride == 0 and line.strip():
                yield json.loads(line)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    bench = shared_dir() / "bench"
    parser.add_argument("files", nargs="*", default=[str(bench / name) for name in DEFAULT_FILES])
    parser.add_argument("--stride", type=int, default=1, help="grade every N-th row only")
    parser.add_argument("--show", type=int, default=30, help="disagreeing rows to print per check")
    parser.add_argument("--path", default=None, help="only list disagreements whose eval_path contains this")
    parser.add_argument("--timeout", type=float, default=None, help="time limit per symbolic comparison (s)")
    parser.add_argument(
        "--no-e2e", action="store_true", help="skip the end-to-end check (extraction included)"
    )
    args = parser.parse_args(argv)
    for path in args.files:
        start = time.perf_counter()
        report = check_rows(load_rows(path, args.stride), args.timeout, end_to_end=not args.no_e2e)
        elapsed = time.perf_counter() - start
        print(f"== {Path(path).name}: {report.n} rows in {elapsed:.1f} s, {report.timeouts} timeouts")
        for check in CHECKS:
            if check == "eval_e2e" and args.no_e2e:
                continue
            print(f"  {check:9s} {report.agree[check]:6d}/{report.n}  {100 * report.rate(check):.2f}%")
        by_path = Counter((c, r.get("eval_path", "")) for c, _, _, _, r in report.disagreements)
        for (check, label), count in sorted(by_path.items()):
            print(f"  disagreements {check} {label or '-'}: {count}")
        shown: Counter = Counter()
        for check, rid, mine, theirs, row in report.disagreements:
            if args.path and args.path not in row.get("eval_path", ""):
                continue
            shown[check] += 1
            if shown[check] <= args.show:
                answer = row["extracted"] if check == "train" else row["eval_extracted"]
                print(
                    f"- {check} {rid} ours={mine} theirs={theirs} path={row.get('eval_path', '-')} "
                    f"answer={answer!r} gt={row['ground_truth']!r}"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
