"""Stage-one and stage-two (aug / hard / mix) files: prompts, levels, schema, determinism, errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from sparkle.cli import main
from sparkle.data import build_stage_one, build_stage_two, split_reasoning
from sparkle.errors import SparkleError
from sparkle.prompts import plain_prompt, pss_prompt

TRAIN = [
    {"problem": "What is 2+3?", "solution": "2+3=5.", "answer": "5"},
    {"problem": "Name the roots of $x^2=1$.", "solution": "x = 1 or -1.", "answer": ["1", "-1"]},
    {"problem": "Compute $3 \\cdot 9$.", "answer": 27.0},
]
VAL = [{"id": "v1", "problem": "What is 1+1?", "answer": "002"}]
HARD = [
    {"problem": "H1?", "solution": "ignored", "CoT": "A.\n\nB.\n\nC.\n\nD.\n\nE.", "answer": "1"},
    {"problem": "H2?", "solution": "One. Two. Three.", "CoT": "", "answer": "2"},
    {"problem": "H3?", "solution": "1. First\n2. Second\n3. Third", "answer": 3.0},
]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def read_parquet(path: Path) -> list[dict]:
    return pq.read_table(path).to_pylist()


@pytest.fixture()
def inputs(tmp_path: Path) -> dict[str, Path]:
    return {
        "train": write_jsonl(tmp_path / "train.jsonl", TRAIN),
        "val": write_jsonl(tmp_path / "val.jsonl", VAL),
        "hard": write_jsonl(tmp_path / "hard.jsonl", HARD),
    }


def test_stage_one_rows(inputs: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    build_stage_one(out, inputs["train"], inputs["val"])
    assert sorted(p.name for p in out.iterdir()) == [
        "sparkle_aime2024.jsonl",
        "sparkle_aime2024.parquet",
        "sparkle_dsr40k.jsonl",
        "sparkle_dsr40k.parquet",
    ]
    rows = read_parquet(out / "sparkle_dsr40k.parquet")
    assert rows == [json.loads(line) for line in (out / "sparkle_dsr40k.jsonl").read_text().splitlines()]
    assert [r["prompt"] for r in rows] == [
        [{"role": "user", "content": plain_prompt(t["problem"])}] for t in TRAIN
    ]
    assert rows[0]["prompt"][0]["content"].endswith("\n\nUser: What is 2+3? Assistant:")
    # One parquet type per column: with one multi-answer row, every ground truth is a list.
    assert [r["reward_model"] for r in rows] == [
        {"style": "rule", "ground_truth": ["5"]},
        {"style": "rule", "ground_truth": ["1", "-1"]},
        {"style": "rule", "ground_truth": ["27"]},
    ]
    assert [r["extra_info"] for r in rows] == [{"split": "train", "index": i} for i in range(3)]
    assert {(r["data_source"], r["ability"]) for r in rows} == {("sparkle_dsr40k", "math")}
    val = read_parquet(out / "sparkle_aime2024.parquet")
    # The original also wrote the validation rows as JSON lines beside the parquet.
    assert val == [json.loads(line) for line in (out / "sparkle_aime2024.jsonl").read_text().splitlines()]
    assert {r["data_source"] for r in val} == {"sparkle_aime2024"}
    assert val[0]["reward_model"]["ground_truth"] == "002"
    assert val[0]["extra_info"] == {"split": "test", "index": 0, "id": "v1"}


def test_stage_one_bad_row_writes_nothing(inputs: dict[str, Path], tmp_path: Path) -> None:
    bad = write_jsonl(tmp_path / "bad.jsonl", [*TRAIN, {"problem": "no answer here"}])
    out = tmp_path / "out"
    with pytest.raises(SparkleError, match=r"bad.jsonl, row 4: missing field 'answer'"):
        build_stage_one(out, bad, inputs["val"])
    assert not out.exists()


def test_aug_levels_prompts_and_shuffle(inputs: dict[str, Path], tmp_path: Path) -> None:
    import datasets

    paths = build_stage_two(tmp_path, "aug", inputs["hard"], aug_version="all")
    assert [p.name for p in paths] == [
        "sparkle_hardmath_aug_all_train.parquet",
        "sparkle_hardmath_aug_all_train.jsonl",
    ]
    rows = read_parquet(paths[0])
    reasoning = [HARD[0]["CoT"], HARD[1]["solution"], HARD[2]["solution"]]  # CoT, else solution
    steps = [split_reasoning(text) for text in reasoning]
    assert [len(s) for s in steps] == [4, 3, 4]
    expected = []
    for index, (item, item_steps) in enumerate(zip(HARD, steps, strict=True)):
        answer = str(item["answer"]) if not isinstance(item["answer"], float) else "3"
        for level in range(len(item_steps) + 1):
            prompt = (
                plain_prompt(item["problem"])
                if level == 0
                else pss_prompt(item["problem"], "\n".join(item_steps[:level]))
            )
            info = {
                "split": "train",
                "index": f"{index}_{level}",
                "question": item["problem"],
                "thinking_level": level,
                "total_thinking_levels": len(item_steps),
                "augmented": level > 0,
            }
            expected.append((prompt, answer, info))
    # Shuffled exactly as datasets.Dataset.shuffle(seed=10000) would.
    order = datasets.Dataset.from_dict({"i": list(range(len(expected)))}).shuffle(seed=10000)["i"]
    got = [(r["prompt"][0]["content"], r["reward_model"]["ground_truth"], r["extra_info"]) for r in rows]
    assert got == [expected[i] for i in order]
    assert got != expected  # the shuffle did something
    last = next(r for r in rows if r["extra_info"]["index"] == "0_4")["prompt"][0]["content"]
    assert last.endswith("Assistant: <think>\nA.\nB.\nC.\nD.\n\nE.\n")  # level S = the whole reasoning


def test_aug_first_half_keeps_two_levels(inputs: dict[str, Path], tmp_path: Path) -> None:
    rows = read_parquet(build_stage_two(tmp_path, "aug", inputs["hard"], aug_version="first_half")[0])
    assert len(rows) == 3 * 3
    assert max(r["extra_info"]["thinking_level"] for r in rows) == 2
    h1 = {
        r["extra_info"]["thinking_level"]: r["prompt"][0]["content"]
        for r in rows
        if r["extra_info"]["question"] == "H1?"
    }
    # Rule 1 with S = 2: all five paragraphs, in two groups (the whole text, the original's behaviour).
    assert h1[2].endswith("<think>\nA.\n\nB.\nC.\n\nD.\n\nE.\n")


def test_hard_and_mix(inputs: dict[str, Path], tmp_path: Path) -> None:
    hard = read_parquet(build_stage_two(tmp_path, "hard", inputs["hard"])[0])
    assert [r["prompt"][0]["content"] for r in hard] == [plain_prompt(h["problem"]) for h in HARD]
    assert {r["extra_info"]["thinking_level"] for r in hard} == {0}

    easy = write_jsonl(
        tmp_path / "easy.jsonl", [*TRAIN, {"problem": "H1?", "answer": "1"}, {"problem": "E4", "answer": "4"}]
    )
    mix = read_parquet(build_stage_two(tmp_path, "mix", inputs["hard"], easy_source=easy, mix_ratio=1.0)[0])
    sources = [r["data_source"] for r in mix]
    assert sources.count("sparkle_hardmath") == 3 and sources.count("sparkle_dsr40k") == 3
    easy_questions = {r["extra_info"]["question"] for r in mix if r["data_source"] == "sparkle_dsr40k"}
    assert "H1?" not in easy_questions  # a hard problem is never drawn again as an easy one
    again = read_parquet(build_stage_two(tmp_path / "again", "mix", inputs["hard"], easy_source=easy)[0])
    assert again == mix
    other = read_parquet(
        build_stage_two(tmp_path / "other", "mix", inputs["hard"], easy_source=easy, seed=1)[0]
    )
    assert other != mix
    with pytest.raises(SparkleError, match="asks for 6 easy problems but the easy source has only 4"):
        build_stage_two(tmp_path, "mix", inputs["hard"], easy_source=easy, mix_ratio=2.0)


@pytest.mark.parametrize(
    ("variant", "expected"),
    [("aug", {"sparkle_hardmath"}), ("hard", {"sparkle_hardmath"})],
)
def test_stage_two_data_source(inputs: dict[str, Path], tmp_path: Path, variant: str, expected: set) -> None:
    """The original's names: verl keys validation metrics, and the original scored rows, by data_source."""
    rows = read_parquet(build_stage_two(tmp_path, variant, inputs["hard"])[0])
    assert {r["data_source"] for r in rows} == expected


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"problem": "p", "answer": "1", "CoT": "", "solution": "  "}, "row 2: no reference reasoning"),
        ({"problem": "p", "answer": "1", "CoT": 5}, "row 2: field 'CoT' must be a string"),
        ({"problem": "p", "CoT": "x"}, "row 2: missing field 'answer'"),
    ],
)
def test_aug_rejects_bad_rows(tmp_path: Path, row: dict, message: str) -> None:
    src = write_jsonl(tmp_path / "h.jsonl", [HARD[0], row])
    with pytest.raises(SparkleError, match=message):
        build_stage_two(tmp_path / "out", "aug", src)
    assert not (tmp_path / "out").exists()


def test_entry_points_are_byte_identical(inputs: dict[str, Path], tmp_path: Path) -> None:
    """`sparkle data` and the original-style script give the same bytes, run after run."""
    for run in ("a", "b"):
        assert main(["data", "stage-two", "--source", str(inputs["hard"]), "--out", str(tmp_path / run)]) == 0
        assert (
            main(
                [
                    "data",
                    "stage-one",
                    "--source",
                    str(inputs["train"]),
                    "--val-source",
                    str(inputs["val"]),
                    "--out",
                    str(tmp_path / run),
                ]
            )
            == 0
        )
    script = Path(__file__).resolve().parents[1] / "scripts" / "data" / "prepare_stage_two_data_aug.py"
    subprocess.run(
        [
            sys.executable,
            str(script),
            "--local_dir",
            str(tmp_path / "c"),
            "--aug_version",
            "all",
            "--source",
            str(inputs["hard"]),
        ],
        check=True,
        capture_output=True,
    )
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert len(names) == 6
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    for name in ("sparkle_hardmath_aug_all_train.parquet", "sparkle_hardmath_aug_all_train.jsonl"):
        assert (tmp_path / "c" / name).read_bytes() == (tmp_path / "a" / name).read_bytes()


@pytest.mark.shared
def test_real_training_components(shared_data: Path, tmp_path: Path) -> None:
    """DeepScaleR's AIME component (975 rows, with solutions) through stage one and aug; the MATH component
    has two null answers, which stop the build with the row named."""
    aime = shared_data / "deepscaler_train_components" / "deepscaler_train_aime.json"
    build_stage_one(tmp_path, aime, shared_data / "aime2024" / "aime2024.normalized.jsonl")
    assert len(read_parquet(tmp_path / "sparkle_dsr40k.parquet")) == 975
    assert len(read_parquet(tmp_path / "sparkle_aime2024.parquet")) == 30
    records = json.loads(aime.read_text())
    rows = read_parquet(build_stage_two(tmp_path, "aug", aime)[0])
    assert len(rows) == sum(len(split_reasoning(r["solution"])) + 1 for r in records)
    assert sum(r["extra_info"]["thinking_level"] == 0 for r in rows) == 975
    math = shared_data / "deepscaler_train_components" / "deepscaler_train_math.json"
    with pytest.raises(SparkleError, match=r"deepscaler_train_math.json, row 887: field 'answer' is null"):
        build_stage_one(tmp_path / "m", math, shared_data / "aime2024" / "aime2024.normalized.jsonl")
