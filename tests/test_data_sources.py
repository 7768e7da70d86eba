"""Loading rows from local files / folders and the Hub, and validating the fields the builders need."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sparkle.data import load_records
from sparkle.data.sources import get_answer, get_text, normalize_answer
from sparkle.errors import SparkleError

ROWS = [{"problem": "1+1?", "answer": 2.0}, {"problem": "2+2?", "answer": 4.0}]


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_local_formats_load_the_same_rows(tmp_path: Path) -> None:
    import datasets
    import pyarrow as pa
    import pyarrow.parquet as pq

    jsonl = _write_jsonl(tmp_path / "a.jsonl", ROWS)
    as_list = tmp_path / "b.json"
    as_list.write_text(json.dumps(ROWS), encoding="utf-8")
    by_split = tmp_path / "c.json"
    by_split.write_text(json.dumps({"train": ROWS, "test": ROWS[:1]}), encoding="utf-8")
    lines_named_json = _write_jsonl(tmp_path / "d.json", ROWS)
    parquet = tmp_path / "e.parquet"
    pq.write_table(pa.Table.from_pylist(ROWS), parquet)
    saved = tmp_path / "saved"
    datasets.Dataset.from_list(ROWS).save_to_disk(str(saved))
    saved_dict = tmp_path / "saved_dict"
    datasets.DatasetDict({"train": datasets.Dataset.from_list(ROWS)}).save_to_disk(str(saved_dict))

    for source in (jsonl, as_list, lines_named_json, parquet, saved, saved_dict):
        assert load_records(source) == ROWS, source
    assert load_records(by_split, split="train") == ROWS
    assert load_records(by_split, split="test") == ROWS[:1]


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        ('{"problem": "x"}\nnot json\n', "bad.jsonl", "line 2: not valid JSON"),
        ("[1, 2]", "bad.json", "row 1: expected a JSON object"),
        ('{"a": [], "b": []}', "two.json", "pass --split"),
        ("{broken", "broken.json", "not valid JSON"),
        ("PAR1 nonsense", "bad.parquet", "not a readable parquet file"),
        ("x", "rows.csv", "unsupported file type"),
    ],
)
def test_bad_local_files_name_the_file(tmp_path: Path, content: str, name: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(SparkleError, match=message) as info:
        load_records(path)
    assert str(path) in str(info.value)


def test_missing_path_and_unreachable_hub(tmp_path: Path) -> None:
    with pytest.raises(SparkleError, match="not found"):
        load_records(tmp_path / "nope.jsonl")
    # Offline (conftest sets HF_HUB_OFFLINE): real datasets.load_dataset, turned into a one-line error.
    with pytest.raises(SparkleError, match="sparkle-reasoning/dsr40k.*Hugging Face Hub.*local copy"):
        load_records("dsr40k")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("025", "025"),  # AIME: the string as the source gives it
        (27.0, "27"),  # AMC: integer-valued float
        (0.5, "0.5"),
        (12, "12"),
        ("\\frac{1}{2}", "\\frac{1}{2}"),
        (["$3$"], "$3$"),  # a one-element list is a single answer
        (["1", 2.0], ["1", "2"]),  # several acceptable answers
    ],
)
def test_answer_normalisation(value, expected) -> None:
    assert normalize_answer(value, "f, row 1") == expected


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"problem": "p"}, "f, row 3: missing field 'answer' or 'final_answer'"),
        ({"problem": "p", "answer": ""}, "f, row 3: field 'answer' is empty"),
        ({"problem": "p", "answer": []}, "empty list"),
        ({"problem": "p", "answer": True}, "must be a string or a number"),
        ({"problem": "p", "answer": {"x": 1}}, "got dict"),
        ({"problem": "p", "answer": float("nan")}, "finite"),
    ],
)
def test_bad_answers(row: dict, message: str) -> None:
    with pytest.raises(SparkleError, match=message.replace("(", r"\(")):
        get_answer(row, ("answer", "final_answer"), "f, row 3")


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"answer": "1"}, "missing field 'problem' or 'question'"),
        ({"problem": "   "}, "field 'problem' is empty"),
        ({"problem": 7}, "field 'problem' must be a string, got int"),
    ],
)
def test_bad_problems(row: dict, message: str) -> None:
    with pytest.raises(SparkleError, match=message):
        get_text(row, ("problem", "question"), "f, row 1")
    assert get_text({"question": "q"}, ("problem", "question"), "x") == "q"
