"""Hard-problem mining from lm-eval samples files and verl generation dumps, graded by sparkle.reward."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sparkle.cli import main
from sparkle.data import build_stage_two
from sparkle.data.mining import mine_hard
from sparkle.data.rl import rl_row
from sparkle.errors import SparkleError
from sparkle.prompts import plain_prompt


def boxed(x: str) -> str:
    return f"<think>\nwork\n</think>\n<answer>\nThe answer is \\boxed{{{x}}}.\n</answer>"


def lm_eval_line(doc_id: int, doc: dict, responses: list[str]) -> dict:
    # lm-eval 0.4 layout with repeats: one [response] list per repeat.
    return {
        "doc_id": doc_id,
        "doc": doc,
        "target": str(doc.get("answer")),
        "resps": [[r] for r in responses],
        "filtered_resps": [responses],
    }


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture()
def samples(tmp_path: Path) -> list[Path]:
    a = {"problem": "A?", "answer": "5", "solution": "Because 5."}
    b = {"problem": "B?", "answer": "\\frac{1}{2}"}
    c = {"problem": "C?", "answer": "9"}
    first = write_jsonl(
        tmp_path / "samples_dsr_part1.jsonl",
        [
            lm_eval_line(0, a, [boxed("4"), boxed("6")]),
            lm_eval_line(1, b, [boxed("0.5"), boxed("1")]),  # 0.5 = 1/2 under the train policy
            lm_eval_line(2, c, [boxed("8"), boxed("7")]),
        ],
    )
    # A verl generation dump (parquet): RL columns plus `responses`; the problem comes from the prompt.
    dump = tmp_path / "gen.parquet"
    rows = [
        {
            **rl_row("dsr40k", plain_prompt("A?"), "5", {"split": "train", "index": 0}),
            "responses": [boxed("3")],
        },
        {
            **rl_row("dsr40k", plain_prompt("B?"), "\\frac{1}{2}", {"split": "train", "index": 1}),
            "responses": [boxed("2")],
        },
    ]
    pq.write_table(pa.Table.from_pylist(rows), dump)
    return [first, dump]


def test_mine_keeps_unsolved_problems(samples: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "hard.jsonl"
    mine_hard(samples, out, max_correct=0, min_samples=3)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    # A: 3 samples, 0 correct -> kept. B: 1 of 3 correct -> dropped. C: only 2 samples -> skipped.
    assert rows == [
        {"problem": "A?", "solution": "Because 5.", "CoT": "", "answer": "5", "n_samples": 3, "n_correct": 0}
    ]
    mine_hard(samples, out, max_correct=1, min_samples=3)
    assert [json.loads(line)["problem"] for line in out.read_text().splitlines()] == ["A?", "B?"]
    mine_hard(samples, out, max_correct=0, min_samples=2)
    assert [json.loads(line)["problem"] for line in out.read_text().splitlines()] == ["A?", "C?"]


def test_mined_file_feeds_stage_two(samples: list[Path], tmp_path: Path) -> None:
    train = write_jsonl(
        tmp_path / "train.jsonl", [{"problem": "C?", "solution": "First. Then. Done.", "answer": "9"}]
    )
    out = tmp_path / "hard.parquet"
    status = main(
        [
            "data",
            "mine-hard",
            *map(str, samples),
            "--out",
            str(out),
            "--min-samples",
            "2",
            "--solutions",
            str(train),
        ]
    )
    assert status == 0
    mined = pq.read_table(out).to_pylist()
    assert [(r["problem"], r["solution"]) for r in mined] == [
        ("A?", "Because 5."),
        ("C?", "First. Then. Done."),
    ]
    rows = pq.read_table(build_stage_two(tmp_path / "s2", "aug", out)[0]).to_pylist()
    assert len(rows) == (1 + 1) + (1 + 3)  # levels 0..1 for A, 0..3 for C


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"doc_id": 0, "output": "x"}, "row 1: no 'resps' \\(lm-eval samples\\) or 'responses'"),
        ({"resps": [["x"]], "doc": {"answer": "1"}}, "row 1: missing field 'problem' or 'question'"),
        (
            {
                "responses": ["x"],
                "prompt": [{"role": "user", "content": "hi"}],
                "reward_model": {"ground_truth": "1"},
            },
            "cannot find the problem",
        ),
        ({"resps": [[3]], "doc": {"problem": "p", "answer": "1"}}, "responses must be strings"),
    ],
)
def test_bad_sample_files(tmp_path: Path, row: dict, message: str) -> None:
    path = write_jsonl(tmp_path / "samples_x.jsonl", [row])
    out = tmp_path / "hard.jsonl"
    with pytest.raises(SparkleError, match=message):
        mine_hard([path], out)
    assert not out.exists()
