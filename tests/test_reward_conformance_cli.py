"""The conformance runner's own behaviour on small files (no ../shared needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sparkle.errors import SparkleError
from sparkle.reward.conformance import check_rows, load_reference, main

# One row as the original recorded it: plain prompt, well-formed response, correct answer.
ROW = {
    "id": "t-1",
    "kind": "test",
    "prompt": "User: What is 5+7? Assistant:",
    "response": "<think>\nadd\n</think>\n<answer>\nThe answer is \\boxed{12}.\n</answer>",
    "ground_truth": "12",
    "thinking_level": 0,
    "extracted": "12",
    "train_correct": True,
    "eval_extracted": "12",
    "eval_correct": True,
    "format_ok": True,
    "granular_format": 1.0,
    "spk_h": 2.0,
    "spk_s": 2.0,
    "spk_g": 1.0,
    "spk_h_aug": 2.0,
    "val": 1.0,
    "resp_only": {"spk_h": 2.0, "spk_s": 2.0, "spk_g": 1.0, "spk_h_aug": 2.0, "val": 1.0},
    "extract_rule": "boxed|box:brace",
}


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_a_conforming_row_and_a_changed_one(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    changed = dict(ROW, id="t-2", extracted="13", spk_g=0.5, resp_only=dict(ROW["resp_only"], spk_g=0.5))
    path = _write(tmp_path / "ref.jsonl", [ROW, changed])
    report = check_rows(load_reference(path))
    assert report.n == 2 and report.agree["extracted"] == 1 and report.agree["spk_g"] == 1
    assert set(report.failing("extracted")) == {"t-2"}
    # "13" recorded as a correct extraction: the grader run on it says otherwise
    expected = {"extracted", "spk_g", "spk_g@chat", "spk_g@resp_only", "train_correct|ref_extracted"}
    assert set(report.disagreements["t-2"]) == expected
    assert main([str(path), "--show", "5"]) == 0
    out = capsys.readouterr().out
    assert "extracted" in out and "50.00%" in out and "- t-2" in out


def test_every_nth_row(tmp_path: Path) -> None:
    rows = [dict(ROW, id=f"t-{i}") for i in range(10)]
    assert [r["id"] for r in load_reference(_write(tmp_path / "r.jsonl", rows), every=4)] == [
        "t-0",
        "t-4",
        "t-8",
    ]


def test_bad_reference_files_are_user_errors(tmp_path: Path) -> None:
    with pytest.raises(SparkleError, match="no such reference file"):
        load_reference(tmp_path / "missing.jsonl")
    (tmp_path / "bad.jsonl").write_text("{not json\n", encoding="utf-8")
    with pytest.raises(SparkleError, match="bad.jsonl, line 1"):
        load_reference(tmp_path / "bad.jsonl")
    broken = {k: v for k, v in ROW.items() if k != "resp_only"}
    with pytest.raises(SparkleError, match="t-1"):
        check_rows([broken])
    assert main([str(tmp_path / "missing.jsonl")]) == 2
