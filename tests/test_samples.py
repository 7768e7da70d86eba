"""`sparkle.samples`: the one reader of lm-eval samples rows (responses and gold answers)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sparkle.errors import SparkleError
from sparkle.samples import gold_field, read_samples, responses_of, sample_answers, sample_responses


@pytest.mark.parametrize(
    ("row", "responses"),
    [
        ({"resps": [["a", "b"]], "filtered_resps": [["a", "b"]]}, ["a", "b"]),  # a repeated task
        ({"resps": [["a"], ["b"]], "filtered_resps": ["a"]}, ["a", "b"]),  # raw responses win over filtered
        ({"filtered_resps": [["x", "y"]]}, ["x", "y"]),  # no resps: the filtered ones
        ({"resps": "one"}, ["one"]),
        ({"resps": []}, []),
        ({}, []),
    ],
)
def test_sample_responses(row: dict, responses: list[str]):
    assert sample_responses(row) == responses


@pytest.mark.parametrize(
    ("row", "answers"),
    [
        (
            {"doc": {"target": ["7", "7.0"], "answer": "x"}, "target": "7 | 7.0"},
            ["7", "7.0"],
        ),  # the gold field
        ({"doc": {"answer": "12"}, "target": "other"}, ["12"]),  # older benchmark documents
        ({"doc": {"final_answer": 3}}, ["3"]),
        ({"doc": {}, "target": '["1", "2"]'}, ["1", "2"]),  # a JSON list written as text
        ({"doc": {}, "target": "5"}, ["5"]),
        ({"doc": {}}, []),
    ],
)
def test_sample_answers(row: dict, answers: list[str]):
    assert sample_answers(row) == answers


def test_gold_field_order():
    assert gold_field({"answer": "a", "target": ["t"]}) == "target"
    assert gold_field({"answer": "a", "target": None}) == "answer"
    assert gold_field({}) is None


def test_bad_responses_name_the_place():
    with pytest.raises(SparkleError, match="f.jsonl, line 3: responses must be strings"):
        sample_responses({"resps": [[3]]}, "f.jsonl, line 3")
    assert responses_of([["a", "b"]]) == ["a", "b"] == responses_of(["a", "b"])


def test_read_samples(tmp_path: Path):
    path = tmp_path / "samples_x_2026-01-01T00-00-00.jsonl"
    path.write_text(json.dumps({"doc": {"target": ["1"]}, "resps": [["a"]]}) + "\n\n", encoding="utf-8")
    assert read_samples(path) == [{"doc": {"target": ["1"]}, "resps": [["a"]]}]
    path.write_text(json.dumps({"doc": {}}) + "\n" + json.dumps({"resps": []}) + "\n", encoding="utf-8")
    with pytest.raises(SparkleError, match=r"line 2: no `doc`"):
        read_samples(path)
    path.write_text("{oops\n", encoding="utf-8")
    with pytest.raises(SparkleError, match="line 1: not valid JSON"):
        read_samples(path)
    with pytest.raises(SparkleError, match="file not found"):
        read_samples(tmp_path / "absent.jsonl")
