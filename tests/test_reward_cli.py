"""``sparkle score``: JSONL in, rows + scores out (input order), one-line JSON summary, lm-eval samples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sparkle.cli import main
from sparkle.io import read_jsonl, write_jsonl_atomic
from sparkle.prompts import plain_prompt, pss_prompt

GOOD = "<think>\nx\n</think>\n<answer>\nThe answer is \\boxed{%s}.\n</answer>"


def _rows() -> list[dict]:
    return [
        {"id": "a", "prompt": plain_prompt("1+1?"), "response": GOOD % "2", "ground_truth": "2"},
        {"id": "b", "prompt": plain_prompt("1+2?"), "response": GOOD % "4", "ground_truth": "3"},
        {
            "id": "c",
            "prompt": pss_prompt("3+4?", "add"),
            "response": "so\n</think>\n<answer>\\boxed{7}</answer>",
            "ground_truth": ["7", "seven"],
        },
        {"id": "d", "prompt": plain_prompt("1/2?"), "response": GOOD % "0.5", "ground_truth": "\\frac{1}{2}"},
        {
            "id": "e",
            "prompt": plain_prompt("?"),
            "response": "I don't know. The answer is 5",
            "ground_truth": "5",
        },
    ]


def _run(capsys, args: list[str]) -> tuple[int, dict]:
    code = main(["score", *args])
    lines = capsys.readouterr().out.strip().splitlines()
    return code, json.loads(lines[-1]) if lines else {}


def test_score_writes_rows_in_order_and_a_summary(tmp_path: Path, capsys) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_jsonl_atomic(src, _rows())
    code, summary = _run(
        capsys, [str(src), "--output", str(out), "--reward-type", "spk_h_aug", "--policy", "train"]
    )
    assert code == 0
    rows = read_jsonl(out)
    assert [r["id"] for r in rows] == ["a", "b", "c", "d", "e"]
    assert [r["score"] for r in rows] == [2.0, -1.0, 2.0, 2.0, 1.0]  # c: PSS row told by its prompt
    assert [r["acc"] for r in rows] == [1, 0, 1, 1, 1]
    assert [r["format_ok"] for r in rows] == [True, True, True, True, False]
    assert rows[3]["extracted"] == "0.5" and rows[0]["timed_out"] is False
    assert rows[2]["ground_truth"] == ["7", "seven"]  # input fields kept
    assert set(summary) == {"n", "mean_score", "accuracy", "format_rate", "timeouts", "malformed", "seconds"}
    assert summary["malformed"] == 0 and all(r["malformed"] is None for r in rows)
    assert summary["n"] == 5 and summary["accuracy"] == pytest.approx(0.8) and summary["timeouts"] == 0
    assert summary["mean_score"] == pytest.approx(6 / 5) and summary["format_rate"] == pytest.approx(0.8)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_workers_and_compare_give_the_same_rows(tmp_path: Path, capsys) -> None:
    src, one, two = tmp_path / "in.jsonl", tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    write_jsonl_atomic(src, _rows() * 40)
    _run(capsys, [str(src), "-o", str(one), "--policy", "eval"])
    code, summary = _run(capsys, [str(src), "-o", str(two), "--workers", "2", "--compare", "eval,train"])
    assert code == 0
    a, b = read_jsonl(one), read_jsonl(two)
    assert [r["score"] for r in a] == [r["score"] for r in b]
    # the eval grader does not convert LaTeX: 0.5 vs \frac{1}{2} passes its Hendrycks rule, both agree
    assert summary["compare"] == {
        "policies": ["eval", "train"],
        "agree": 200,
        "only_eval": 0,
        "only_train": 0,
    }
    assert all("acc_eval" in r and "acc_train" in r for r in b)


def test_lm_eval_samples_file(tmp_path: Path, capsys) -> None:
    samples = [
        {
            "doc_id": 0,
            "doc": {"problem": "p", "answer": "12"},
            "target": "12",
            "resps": [[GOOD % "12", GOOD % "11"]],
            "filtered_resps": [GOOD % "12"],
        },
        {
            "doc_id": 1,
            "doc": {"problem": "q", "answer": "0.6875"},
            "target": "0.6875",
            "resps": [[GOOD % "\\frac{11}{16}"]],
            "filtered_resps": [GOOD % "\\frac{11}{16}"],
        },
    ]
    src, out = tmp_path / "samples_aime2024_2025.jsonl", tmp_path / "scored.jsonl"
    write_jsonl_atomic(src, samples)
    code, summary = _run(capsys, [str(src), "-o", str(out), "--policy", "eval", "--reward-type", "val"])
    assert code == 0
    rows = read_jsonl(out)
    assert rows[0]["acc"] == [1, 0] and rows[0]["score"] == [1.0, 0.0]
    assert rows[1]["acc"] == [0]  # the benchmark grader's quirk: LaTeX is not converted
    assert summary["n"] == 3


def test_missing_field_is_a_one_line_error(tmp_path: Path, capsys) -> None:
    src = tmp_path / "in.jsonl"
    write_jsonl_atomic(src, [{"response": "x", "ground_truth": "1"}, {"text": "y", "ground_truth": "1"}])
    code = main(["score", str(src), "-o", str(tmp_path / "o.jsonl")])
    err = capsys.readouterr().err
    assert code == 2
    assert "line 2" in err and "'response'" in err and "--response-field" in err
    assert not (tmp_path / "o.jsonl").exists()  # nothing half-written
    code = main(
        ["score", str(src), "-o", str(tmp_path / "o.jsonl"), "--response-field", "text", "--compare", "x"]
    )
    assert code == 2 and "--compare" in capsys.readouterr().err
