"""sparkle_preview rows (one per subproblem) grouped into problems for the probes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sparkle.cli import main
from sparkle.data import group_preview, load_preview
from sparkle.errors import SparkleError


def preview_row(pid: str, seq: int, total: int, source: str = "aime24", **extra) -> dict:
    row = {
        "problem ID": pid,
        "problem": f"Problem {pid}",
        "reasoning": f"Reasoning {pid}",
        "answer": ["7"],
        "difficulty_level": "6",
        "domains": ["Algebra", "Number Theory"],
        "planning": f"1. Plan {pid}",
        "knowledge": f"Knowledge {pid}",
        "subproblem_id": f"{pid}-{seq}",
        "subproblem_question": f"Q{seq} of {pid}?",
        "subproblem_answer": str(seq),
        "augmented_problem": f"Context of {pid}. Q{seq}?",
        "subproblem_sequence": seq,
        "total_subproblems": total,
        "source": source,
        "general_id": 0,
    }
    row.update(extra)
    return row


def write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_group_orders_chains_and_types(tmp_path: Path) -> None:
    # Rows out of order; the same problem ID in two benchmarks stays two problems.
    rows = [
        preview_row("p1", 2, 3),
        preview_row("p2", 1, 1, source="gsm8k", difficulty_level=2, answer=["18", 18.0]),
        preview_row("p1", 3, 3),
        preview_row("p1", 1, 3),
        preview_row("p1", 1, 1, source="olympiadbench", subproblem_answer=4.0),
    ]
    problems = group_preview(load_preview(write(tmp_path / "preview.jsonl", rows)))
    assert [(p["id"], p["benchmark"]) for p in problems] == [
        ("p1", "aime2024"),
        ("p2", "gsm8k"),
        ("p1", "olympiad_bench"),
    ]
    p1 = problems[0]
    assert (
        p1["problem"] == "Problem p1" and p1["planning"] == "1. Plan p1" and p1["knowledge"] == "Knowledge p1"
    )
    assert (
        p1["difficulty_level"] == 6
        and p1["domains"] == ["Algebra", "Number Theory"]
        and p1["answer"] == ["7"]
    )
    assert [s["sequence"] for s in p1["subproblems"]] == [1, 2, 3]
    assert p1["subproblems"][0] == {
        "id": "p1-1",
        "sequence": 1,
        "question": "Q1 of p1?",
        "answer": "1",
        "augmented_problem": "Context of p1. Q1?",
    }
    assert problems[1]["answer"] == ["18", "18"] and problems[1]["difficulty_level"] == 2
    assert problems[2]["subproblems"][0]["answer"] == "4"


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (
            [preview_row("p", 1, 3), preview_row("p", 3, 3)],
            r"'p' \(aime24\): subproblem_sequence is \[1, 3\]",
        ),
        ([preview_row("p", 1, 2), preview_row("p", 1, 2)], r"subproblem_sequence is \[1, 1\]"),
        (
            [preview_row("p", 1, 1, difficulty_level="hard")],
            "row 1: field 'difficulty_level' must be an integer",
        ),
        ([preview_row("p", 1, 1, difficulty_level="11")], "outside 1..10"),
        ([preview_row("p", 1, 1, planning="")], "row 1: field 'planning' must be a non-empty string"),
        (
            [preview_row("p", 1, 1), preview_row("q", 1, 1, augmented_problem=None)],
            r"row 2: missing field\(s\) \['augmented_problem'\]",
        ),
        ([preview_row("p", 4, 3)], "subproblem_sequence 4 is outside 1..3"),
        ([preview_row("p", 1, 1, domains=[1])], "'domains' must be a list of strings"),
    ],
)
def test_bad_preview_rows(tmp_path: Path, rows: list[dict], message: str) -> None:
    path = write(tmp_path / "preview.jsonl", rows)
    with pytest.raises(SparkleError, match=message):
        group_preview(load_preview(path))


def test_cli_writes_rows_and_problems(repo_root: Path, tmp_path: Path) -> None:
    source = repo_root / "sparkle" / "demo" / "data" / "sparkle_preview.jsonl"
    assert main(["data", "probes", "--source", str(source), "--out", str(tmp_path)]) == 0
    rows = [json.loads(line) for line in (tmp_path / "sparkle_preview.jsonl").read_text().splitlines()]
    problems = [
        json.loads(line) for line in (tmp_path / "sparkle_preview_problems.jsonl").read_text().splitlines()
    ]
    assert len(rows) == sum(len(p["subproblems"]) for p in problems)
    # The written rows load again as a preview source (what SPARKLE_DATA_DIR points the probes at).
    assert group_preview(load_preview(tmp_path / "sparkle_preview.jsonl")) == problems
