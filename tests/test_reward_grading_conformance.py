"""Both graders against the original's verdicts, apart from extraction: the reference extraction of each row
is graded against its ground truth and compared with ``eval_correct`` / ``train_correct``.

The full files take tens of seconds on a busy machine, so the suite grades a deterministic stratified
subset of ``../shared/bench/grader_fuzz_reference.jsonl`` (every row of each rare deciding branch,
``eval_path``, and every fourth row of the common ones) and every fifth row of the reward files;
``python -m sparkle.reward.grader_conformance`` grades them in full (docs/reward.md has the figures).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from sparkle.reward.grader_conformance import check_rows, load_rows

pytestmark = pytest.mark.shared

RARE = 250  # eval_path labels with at most this many rows are graded in full


def _reference(shared_bench: Path, name: str) -> Path:
    path = shared_bench / name
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    return path


def stratified(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    counts = Counter(r["eval_path"] for r in rows)
    seen: Counter = Counter()
    subset = []
    for row in rows:
        label = row["eval_path"]
        if counts[label] <= RARE or seen[label] % 4 == 0:
            subset.append(row)
        seen[label] += 1
    return subset


@pytest.fixture(scope="module")
def grader_fuzz(shared_bench: Path):
    rows = stratified(_reference(shared_bench, "grader_fuzz_reference.jsonl"))
    assert 3000 < len(rows) < 6000
    assert {"+latex_retry" in r["eval_path"] for r in rows} == {True, False}
    return check_rows(rows, end_to_end=False)


@pytest.mark.timeout(600)
@pytest.mark.parametrize("check", ["eval", "train"])
def test_grader_fuzz_verdicts(grader_fuzz, check: str) -> None:
    bad = [(rid, row["eval_path"]) for c, rid, _, _, row in grader_fuzz.disagreements if c == check]
    assert grader_fuzz.rate(check) >= 0.999, bad
    assert grader_fuzz.timeouts == 0


@pytest.mark.timeout(600)
@pytest.mark.parametrize("name", ["reward_reference.jsonl", "reward_fuzz_reference.jsonl"])
def test_reward_files_verdicts(shared_bench: Path, name: str) -> None:
    report = check_rows(load_rows(_reference(shared_bench, name), stride=5), end_to_end=False)
    assert report.n > 900
    for check in ("eval", "train"):
        assert report.rate(check) >= 0.999, [d[:4] for d in report.disagreements]
