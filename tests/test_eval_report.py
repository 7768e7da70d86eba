"""`sparkle report` and `sparkle rescore` on hand-written lm-eval outputs: duplicate documents counted
once, nothing written (or half-written) when an input is bad, files replaced together, inputs never
modified, every key lm-eval wrote kept, damaged results files refused."""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

import pytest
from conftest import write_samples

from sparkle.errors import SparkleError

DATE = "2026-01-01T00-00-00.000000"
MODEL = "/ck/run/stage1"
RIGHT = "<think>\nok\n</think>\n<answer>\nThe answer is \\boxed{12}.\n</answer>"
WRONG = "<think>\nhm\n</think>\n<answer>\nThe answer is \\boxed{7}.\n</answer>"


def _row(doc_id: int, pid: str, pattern: str) -> dict:
    responses = [RIGHT if c == "1" else WRONG for c in pattern]
    correct = [int(c) for c in pattern]
    return {
        "doc_id": doc_id,
        "doc": {"id": pid, "benchmark": "gsm8k", "problem": f"problem {pid}", "answer": ["12"]},
        "target": "12",
        "arguments": {"gen_args_0": {"arg_0": "prompt"}},
        "resps": [[r] for r in responses],
        "filtered_resps": [responses],
        "filter": "all_samples",
        "avg@2": sum(correct) / 2,
        "correct": correct,
    }


def _write_run(folder: Path, patterns: list[str], extra_rows: list[dict] | None = None) -> Path:
    """An lm-eval run of gsm8k_spk with 2 samples per problem, written as lm-eval lays it out."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = [_row(i, f"p{i}", p) for i, p in enumerate(patterns)] + (extra_rows or [])
    write_samples(folder, "gsm8k_spk", rows, DATE)
    avg = sum(p.count("1") / 2 for p in patterns) / len(patterns)
    results = {
        "results": {
            "gsm8k_spk": {"alias": "gsm8k_spk", "avg@2,all_samples": avg, "avg@2_stderr,all_samples": 0.1,
                          "pass@1,all_samples": avg, "pass@1_stderr,all_samples": "N/A",
                          "correct,all_samples": avg, "correct_stderr,all_samples": "N/A"},
            "sparkle_bench": {"alias": "sparkle_bench", "avg@2,all_samples": avg},
        },
        "groups": {"sparkle_bench": {"alias": "sparkle_bench", "avg@2,all_samples": avg}},
        "group_subtasks": {"sparkle_bench": ["gsm8k_spk"]},
        "configs": {"gsm8k_spk": {"task": "gsm8k_spk", "repeats": 2}},
        "versions": {"gsm8k_spk": 1.0, "sparkle_bench": 1.0},
        "n-shot": {"gsm8k_spk": 0},
        "higher_is_better": {"gsm8k_spk": {"avg@2": True}},
        "n-samples": {"gsm8k_spk": {"original": len(patterns), "effective": len(patterns)}},
        "config": {"model": "vllm", "model_args": f"pretrained={MODEL}"},
        "git_hash": "abc123",
        "date": 1767225600.0,
        "task_hashes": {"gsm8k_spk": "f00d"},
        "model_name": MODEL,
    }  # fmt: skip
    (folder / f"results_{DATE}.json").write_text(json.dumps(results), encoding="utf-8")
    return folder


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_duplicate_documents_are_counted_once(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    from sparkle.evaluate.report import build_report

    runs = tmp_path / "runs"
    # p0 listed again (a second copy of the same document, graded differently): counted once, the copy
    # lm-eval listed first is kept, whatever the order of the lines.
    _write_run(runs / "m", ["11", "10", "00", "01"], extra_rows=[_row(4, "p0", "00")])
    with caplog.at_level(logging.WARNING):
        build_report([runs], tmp_path / "report")
    assert "1 documents appear more than once" in caplog.text
    with open(tmp_path / "report" / "main_table.csv", encoding="utf-8") as f:
        (row,) = [r for r in csv.DictReader(f) if r["benchmark"] == "gsm8k"]
    assert (row["n_docs"], float(row["ours"])) == ("4", pytest.approx(50.0))
    with open(tmp_path / "report" / "pass_at_k.csv", encoding="utf-8") as f:
        curve = {int(r["k"]): r for r in csv.DictReader(f)}
    assert curve[1]["n_docs"] == "4" and float(curve[2]["pass_at_k"]) == pytest.approx(75.0)

    samples = next((runs / "m").glob("samples_*.jsonl"))
    lines = samples.read_text(encoding="utf-8").splitlines(keepends=True)
    samples.write_text("".join(lines[::-1]), encoding="utf-8")
    build_report([runs], tmp_path / "report2")
    for name in ("main_table.csv", "pass_at_k.csv"):
        assert (tmp_path / "report" / name).read_bytes() == (tmp_path / "report2" / name).read_bytes()


def test_nothing_is_written_when_an_input_is_bad(tmp_path: Path):
    from sparkle.cli import main

    runs = _write_run(tmp_path / "runs" / "m", ["11", "10"])
    out = tmp_path / "report"
    assert main(["report", str(runs.parent), "--out", str(out)]) == 0
    (out / "mine.txt").write_text("keep me", encoding="utf-8")
    before = _snapshot(out)
    samples = next(runs.glob("samples_*.jsonl"))
    samples.write_text(samples.read_text(encoding="utf-8") + "{broken\n", encoding="utf-8")
    assert main(["report", str(runs.parent), "--out", str(out)]) == 2
    assert _snapshot(out) == before  # neither a partial report nor a mix of old and new files
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    # The output itself is checked before anything is read.
    as_file = tmp_path / "a_file"
    as_file.write_text("x", encoding="utf-8")
    assert main(["report", str(runs.parent), "--out", str(as_file)]) == 2
    assert main(["report", str(runs.parent), "--out", str(as_file / "sub")]) == 2
    assert as_file.read_text(encoding="utf-8") == "x"


def test_files_of_an_earlier_report_are_replaced_together(tmp_path: Path):
    """A report without samples no longer has pass@k curves: the old curve files go, the user's stay."""
    from sparkle.evaluate.report import build_report

    runs = _write_run(tmp_path / "runs" / "m", ["11", "10"])
    out = tmp_path / "report"
    build_report([runs.parent], out)
    assert (out / "pass_at_k.png").is_file()
    (out / "mine.txt").write_text("keep me", encoding="utf-8")
    next(runs.glob("samples_*.jsonl")).unlink()
    written = build_report([runs.parent], out)
    assert sorted(p.name for p in out.iterdir()) == [
        "main_table.csv",
        "main_table.md",
        "main_table.png",
        "mine.txt",
    ]
    assert sorted(p.name for p in written) == ["main_table.csv", "main_table.md", "main_table.png"]


# ---------------------------------------------------------------------------------------------------------
# sparkle rescore


def test_rescore_refuses_to_write_into_its_inputs(tmp_path: Path, capsys):
    from sparkle.cli import main

    runs = tmp_path / "runs"
    run = _write_run(runs / "m", ["11", "10"])
    before = _snapshot(runs)
    for out in (runs, run, run / "rescored", runs / "m" / ".."):
        assert main(["rescore", str(runs), "--policy", "train", "--out", str(out)]) == 2
        assert "never modifies its inputs" in capsys.readouterr().err
    # A folder outside the inputs whose lm-eval layout would land on an input file: also refused.
    named = _write_run(tmp_path / "flat" / "flatmodel", ["11"])
    results = json.loads((named / f"results_{DATE}.json").read_text(encoding="utf-8"))
    results["model_name"] = "flatmodel"
    results["config"]["model_args"] = "pretrained=flatmodel"
    (named / f"results_{DATE}.json").write_text(json.dumps(results), encoding="utf-8")
    flat_before = _snapshot(tmp_path / "flat")
    assert (
        main(["rescore", str(named / f"samples_gsm8k_spk_{DATE}.jsonl"), "--out", str(tmp_path / "flat")])
        == 2
    )
    assert "would overwrite the input" in capsys.readouterr().err
    assert _snapshot(runs) == before and _snapshot(tmp_path / "flat") == flat_before


def test_rescore_keeps_every_key_lm_eval_wrote(tmp_path: Path):
    from sparkle.cli import main

    runs = tmp_path / "runs"
    _write_run(runs / "m", ["11", "10", "00"])
    source = json.loads((runs / "m" / f"results_{DATE}.json").read_text(encoding="utf-8"))
    before = _snapshot(runs)
    assert main(["rescore", str(runs), "--policy", "train", "--out", str(tmp_path / "out")]) == 0
    assert _snapshot(runs) == before
    (folder,) = (tmp_path / "out").iterdir()
    written = json.loads(next(folder.glob("results_*.json")).read_text(encoding="utf-8"))
    assert set(source) <= set(written)
    for key in (
        "configs",
        "versions",
        "n-shot",
        "higher_is_better",
        "n-samples",
        "config",
        "git_hash",
        "task_hashes",
    ):
        assert written[key] == source[key], key
    task = written["results"]["gsm8k_spk"]
    assert set(source["results"]["gsm8k_spk"]) <= set(task)
    assert task["avg@2,all_samples"] == pytest.approx(0.5)
    assert task["pass@2,all_samples"] == pytest.approx(2 / 3)
    assert task["avg@2_stderr,all_samples"] == pytest.approx(0.2886751, abs=1e-6)  # sd [1, .5, 0] / sqrt 3
    assert task["pass@1_stderr,all_samples"] == "N/A"  # lm-eval wrote none: none now either
    assert written["results"]["sparkle_bench"]["avg@2,all_samples"] == pytest.approx(0.5)
    assert written["groups"]["sparkle_bench"]["avg@2,all_samples"] == pytest.approx(0.5)
    assert written["sparkle_rescore"]["policy"] == "train"
    samples = [json.loads(line) for line in next(folder.glob("samples_*.jsonl")).read_text().splitlines()]
    original = [
        json.loads(line) for line in next((runs / "m").glob("samples_*.jsonl")).read_text().splitlines()
    ]
    for new, old in zip(samples, original, strict=True):
        assert set(old) <= set(new) and new["doc"] == old["doc"] and new["policy"] == "train"


def test_rescore_refuses_a_damaged_results_file(tmp_path: Path):
    from sparkle.evaluate.rescore import rescore

    run = _write_run(tmp_path / "runs" / "m", ["11"])
    results = run / f"results_{DATE}.json"
    for damaged in ('{"results": {"gsm8k_spk": ', '["not", "a", "results", "file"]'):
        results.write_text(damaged, encoding="utf-8")
        with pytest.raises(SparkleError, match="damaged results file"):
            rescore([run], policy="train")


@pytest.mark.parametrize("timeout", [0, -1.0, float("nan")])
def test_rescore_refuses_a_useless_timeout(tmp_path: Path, timeout: float):
    from sparkle.evaluate.rescore import rescore

    run = _write_run(tmp_path / "runs" / "m", ["11"])
    with pytest.raises(SparkleError, match="--timeout"):
        rescore([run], timeout=timeout)


def test_prompts_cut_from_the_left_are_reported_never_silent(tmp_path: Path):
    from sparkle.evaluate.report import build_report
    from sparkle.evaluate.results import RUN_METADATA_KEY

    runs = tmp_path / "runs"
    _write_run(runs / "m", ["11", "10"])
    build_report([runs], tmp_path / "unmeasured")
    text = (tmp_path / "unmeasured" / "main_table.md").read_text(encoding="utf-8")
    assert "Prompt lengths not measured for:" in text and "Prompts cut" not in text

    results_file = next((runs / "m").glob("results_*.json"))
    data = json.loads(results_file.read_text(encoding="utf-8"))
    data["configs"]["gsm8k_spk"]["metadata"] = {
        RUN_METADATA_KEY: {"prompts": {"gsm8k_spk": {"longest": 900, "too_long": 3}}}
    }
    results_file.write_text(json.dumps(data), encoding="utf-8")
    build_report([runs], tmp_path / "measured")
    text = (tmp_path / "measured" / "main_table.md").read_text(encoding="utf-8")
    assert "**Prompts cut from the left**" in text and "/ GSM8K: 3" in text
    assert "not measured" not in text
    with open(tmp_path / "measured" / "main_table.csv", encoding="utf-8") as f:
        (row,) = [r for r in csv.DictReader(f) if r["benchmark"] == "gsm8k"]
    assert row["prompts_cut"] == "3"
