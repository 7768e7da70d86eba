"""Benchmarks: unified rows and verl validation parquet from the real files in ../shared/data."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from sparkle.cli import main
from sparkle.data import load_benchmark
from sparkle.prompts import plain_prompt
from sparkle.registry import BENCHMARKS

# (benchmark, file under ../shared/data, rows, (row index, id, answers) spot checks)
FILES = [
    ("aime2024", "aime2024/aime2024.normalized.jsonl", 30, (0, "2024-I-1", ["204"])),
    ("aime2024", "aime2024/qwen25math_aime24_test.jsonl", 30, (0, "60", ["204"])),
    ("aime2024", "aime2024/deepscaler_test_aime.json", 30, (0, "aime2024-0", ["204"])),
    ("amc2023", "amc2023/amc2023.normalized.jsonl", 40, (0, "amc2023-0", ["27"])),
    ("amc2023", "amc2023/qwen25math_amc23_test.jsonl", 40, (0, "0", ["27"])),  # answer 27.0 in the file
    ("math500", "math500/math500.normalized.jsonl", 500, (0, "test/precalculus/807.json", None)),
    ("math500", "math500/simplerl_math500_test.jsonl", 500, (0, "test/precalculus/807.json", None)),
    ("gsm8k", "gsm8k/gsm8k.normalized.jsonl", 1319, (0, "gsm8k-test-0", ["18"])),
    ("gsm8k", "gsm8k/openai_gsm8k_test.jsonl", 1319, (0, "gsm8k-0", ["18"])),  # "#### 18" solutions
    ("olympiad_bench", "olympiadbench/olympiadbench.normalized.jsonl", 675, (0, "1606", ["2"])),
    ("olympiad_bench", "olympiadbench/qwen25math_olympiadbench_test.jsonl", 675, (0, "1606", ["2"])),
    ("olympiad_bench", "olympiadbench/deepscaler_test_olympiad_bench.json", 675, (0, "1606", ["2"])),
]
NORMALIZED = {
    "aime2024": "aime2024/aime2024.normalized.jsonl",
    "amc2023": "amc2023/qwen25math_amc23_test.jsonl",
    "math500": "math500/math500.normalized.jsonl",
    "gsm8k": "gsm8k/openai_gsm8k_test.jsonl",
    "olympiad_bench": "olympiadbench/qwen25math_olympiadbench_test.jsonl",
}


@pytest.mark.shared
@pytest.mark.parametrize(("name", "relpath", "count", "spot"), FILES)
def test_every_shared_file_unifies(shared_data: Path, name: str, relpath: str, count: int, spot) -> None:
    rows = load_benchmark(name, shared_data / relpath)
    assert len(rows) == count
    for row in rows:
        assert isinstance(row["id"], str) and row["problem"].strip()
        assert row["answer"] and all(isinstance(a, str) and a for a in row["answer"])
    index, row_id, answers = spot
    assert rows[index]["id"] == row_id
    if answers is not None:
        assert rows[index]["answer"] == answers


@pytest.mark.shared
def test_raw_and_normalized_copies_agree(shared_data: Path) -> None:
    """Different field names and answer types give the same problems and answers."""
    pairs = [
        ("gsm8k", "gsm8k/openai_gsm8k_test.jsonl", "gsm8k/gsm8k.normalized.jsonl"),
        ("amc2023", "amc2023/qwen25math_amc23_test.jsonl", "amc2023/amc2023.normalized.jsonl"),
        (
            "olympiad_bench",
            "olympiadbench/qwen25math_olympiadbench_test.jsonl",
            "olympiadbench/olympiadbench.normalized.jsonl",
        ),
        ("aime2024", "aime2024/qwen25math_aime24_test.jsonl", "aime2024/aime2024.normalized.jsonl"),
    ]
    for name, raw, normalized in pairs:
        a, b = load_benchmark(name, shared_data / raw), load_benchmark(name, shared_data / normalized)
        assert [(r["problem"], r["answer"]) for r in a] == [(r["problem"], r["answer"]) for r in b], name
    aime = load_benchmark("aime2024", shared_data / "aime2024/qwen25math_aime24_test.jsonl")
    assert any(r["answer"][0].startswith("0") for r in aime)  # zero-padded answers kept as given
    gsm = load_benchmark("gsm8k", shared_data / "gsm8k/openai_gsm8k_test.jsonl")
    assert "2,125" in {r["answer"][0] for r in gsm}  # thousands separators kept (the grader handles them)
    assert gsm[0]["solution"].endswith("#### 18")


@pytest.mark.shared
def test_cli_writes_all_benchmarks_deterministically(shared_data: Path, tmp_path: Path) -> None:
    args = [f"--source={name}={shared_data / rel}" for name, rel in NORMALIZED.items()]
    assert main(["data", "benchmarks", "--out", str(tmp_path / "a"), *args]) == 0
    assert main(["data", "benchmarks", "--out", str(tmp_path / "b"), *args]) == 0
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == sorted([f"{n}.jsonl" for n in BENCHMARKS] + [f"sparkle_{n}.parquet" for n in BENCHMARKS])
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name

    table = pq.read_table(tmp_path / "a" / "sparkle_amc2023.parquet").to_pylist()
    assert len(table) == 40
    first = table[0]
    problem = json.loads((tmp_path / "a" / "amc2023.jsonl").read_text().splitlines()[0])["problem"]
    assert first["prompt"] == [{"role": "user", "content": plain_prompt(problem)}]
    assert first["data_source"] == "sparkle_amc2023" and first["ability"] == "math"
    assert first["reward_model"] == {"style": "rule", "ground_truth": "27"}
    assert first["extra_info"] == {"split": "test", "index": 0, "id": "0"}


def test_cli_rejects_bad_sources_without_writing(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "amc.jsonl"
    bad.write_text('{"problem": "p", "answer": 1}\n{"problem": "", "answer": 2}\n', encoding="utf-8")
    out = tmp_path / "out"
    status = main(
        ["data", "benchmarks", "--out", str(out), "--only", "amc2023", "--source", f"amc2023={bad}"]
    )
    assert status == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and f"{bad}, row 2: field 'problem' is empty" in err
    assert not out.exists()
    assert main(["data", "benchmarks", "--out", str(out), "--source", "aime=x.jsonl"]) == 2
    assert "unknown benchmark 'aime'" in capsys.readouterr().err


def test_duplicate_ids_are_rejected(tmp_path: Path) -> None:
    from sparkle.errors import SparkleError

    path = tmp_path / "m.jsonl"
    path.write_text(
        '{"id": "a", "problem": "p", "answer": "1"}\n{"id": "a", "problem": "q", "answer": "2"}\n'
    )
    with pytest.raises(SparkleError, match="row 2: id 'a' repeats row 1"):
        load_benchmark("math500", path)
