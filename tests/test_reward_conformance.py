"""Conformance with the original implementation on ../shared/bench (skipped when absent).

Files: ``reward_reference.jsonl`` (4,801 rows, checked in full) and ``reward_fuzz_reference.jsonl``
(15,000 generated rows). On the fuzz file the string-only fields (extraction, its rule, the format
checks) are checked on every row; the graded fields and the scores — sympy in the worker pool — on a
deterministic fifth of the rows, to keep the suite short. ``python -m sparkle.reward.conformance``
checks every row of both files (docs/reward.md gives the figures and the timing).

Every field must agree on at least 99.9 % of the rows. A score conforms when it matches the original on
either reading (whole chat string, or response alone); each reading is also reproduced on its own.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sparkle.reward.conformance import (
    FIELDS,
    GRADER_ONLY,
    RULE_FIELD,
    ConformanceReport,
    check_rows,
    load_reference,
)
from sparkle.reward.extract import extract_with_rule
from sparkle.reward.formats import format_ok, granular_format
from sparkle.reward.scores import REWARD_TYPES

pytestmark = pytest.mark.shared

BAR = 0.999
FUZZ_EVERY = 5
# Fields owned by the benchmark grader (grading.py / normalize.py), checked here but fixed there.
EVAL_FIELDS = ("eval_correct",)


def _path(shared_bench: Path, name: str) -> Path:
    path = shared_bench / name
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    return path


@pytest.fixture(scope="module")
def report(shared_bench: Path) -> ConformanceReport:
    rows = load_reference(_path(shared_bench, "reward_reference.jsonl"))
    assert len(rows) == 4801
    return check_rows(rows)


@pytest.fixture(scope="module")
def fuzz_rows(shared_bench: Path) -> list[dict]:
    rows = load_reference(_path(shared_bench, "reward_fuzz_reference.jsonl"))
    assert len(rows) == 15000
    return rows


@pytest.fixture(scope="module")
def fuzz_report(fuzz_rows: list[dict]) -> ConformanceReport:
    return check_rows(fuzz_rows[::FUZZ_EVERY])


@pytest.mark.parametrize("field", FIELDS)
def test_field_agreement(report: ConformanceReport, field: str) -> None:
    assert report.rate(field) >= BAR, report.failing(field)


@pytest.mark.parametrize("reward_type", REWARD_TYPES)
def test_each_reading_is_reproduced(report: ConformanceReport, reward_type: str) -> None:
    assert report.chat_agree[reward_type] == report.n
    assert report.resp_agree[reward_type] == report.n
    assert report.chat_from_response_agree[reward_type] == report.n


def test_every_disagreement_is_listed(report: ConformanceReport) -> None:
    # the only allowed entries are deliberate: the verl path (response + thinking_level) scores a PSS
    # row as the chat string did, where the original's call on the response alone could not tell
    for rid, bad in report.disagreements.items():
        assert set(bad) <= {f"{rt}@resp_only" for rt in REWARD_TYPES}, (rid, bad)


def test_fuzz_string_fields_on_every_row(fuzz_rows: list[dict]) -> None:
    wrong: dict[str, list[str]] = {"extracted": [], RULE_FIELD: [], "format_ok": [], "granular_format": []}
    for row in fuzz_rows:
        extracted, rule = extract_with_rule(row["response"])
        level = int(row.get("thinking_level") or 0)
        if extracted != row["extracted"]:
            wrong["extracted"].append(row["id"])
        if rule != row[RULE_FIELD]:
            wrong[RULE_FIELD].append(row["id"])
        if format_ok(row["response"], augmented=level >= 1) != row["format_ok"]:
            wrong["format_ok"].append(row["id"])
        if abs(granular_format(row["response"]) - row["granular_format"]) > 1e-6:
            wrong["granular_format"].append(row["id"])
    for name, ids in wrong.items():
        assert len(ids) <= (1 - BAR) * len(fuzz_rows), (name, ids[:20])


@pytest.mark.parametrize("field", [f for f in FIELDS if f not in EVAL_FIELDS])
def test_fuzz_field_agreement(fuzz_report: ConformanceReport, field: str) -> None:
    assert fuzz_report.rate(field) >= BAR, list(fuzz_report.failing(field).items())[:20]


@pytest.mark.parametrize("field", EVAL_FIELDS)
def test_fuzz_benchmark_grader_agreement(fuzz_report: ConformanceReport, field: str) -> None:
    assert fuzz_report.rate(field) >= BAR, list(fuzz_report.failing(field).items())[:20]


@pytest.mark.parametrize("name", [RULE_FIELD, GRADER_ONLY])
def test_fuzz_extraction_and_grader_are_separately_right(fuzz_report: ConformanceReport, name: str) -> None:
    # the extraction step that fired, and the training grader on the original's own extraction
    assert fuzz_report.rate(name) == 1.0, list(fuzz_report.failing(name).items())[:20]


@pytest.mark.parametrize("reward_type", REWARD_TYPES)
def test_fuzz_each_reading_is_reproduced(fuzz_report: ConformanceReport, reward_type: str) -> None:
    assert fuzz_report.chat_agree[reward_type] == fuzz_report.n
    assert fuzz_report.resp_agree[reward_type] == fuzz_report.n
    assert fuzz_report.chat_from_response_agree[reward_type] == fuzz_report.n
