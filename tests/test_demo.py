"""`sparkle demo` end to end on the tiny offline model and the shipped sample problems."""

from __future__ import annotations

import csv
import subprocess
import sys

import pytest

from sparkle.demo import DEMO_DATA, run_demo
from sparkle.errors import SparkleError
from sparkle.io import read_jsonl


def test_demo_samples_are_complete_and_consistent():
    preview = read_jsonl(DEMO_DATA / "sparkle_preview.jsonl")
    problems = {r["problem ID"] for r in preview}
    assert len(problems) == 5 and len(preview) == 13
    for name in ("aime2024", "amc2023", "math500", "gsm8k", "olympiad_bench"):
        ids = {r["id"] for r in read_jsonl(DEMO_DATA / f"{name}.jsonl")}
        assert ids & problems, f"{name}: the benchmark sample should contain its annotated problem"


def test_demo_rejects_an_incomplete_data_dir(tmp_path):
    (tmp_path / "train.jsonl").write_text('{"problem": "1+1?", "solution": "2", "answer": "2"}\n')
    with pytest.raises(SparkleError, match=r"hardmath.jsonl"):
        run_demo(out=tmp_path / "out", data_dir=tmp_path)
    assert not (tmp_path / "out" / "data").exists()


@pytest.mark.slow
def test_demo_runs_the_whole_pipeline(tmp_path, repo_root):
    out = tmp_path / "demo"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "sparkle",
            "demo",
            "--out",
            str(out),
            "--samples",
            "2",
            "--max-gen-toks",
            "16",
            "--train-steps",
            "6",
        ],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().endswith("SUMMARY.md")
    summary = (out / "SUMMARY.md").read_text()
    assert "accuracy means nothing" in summary and "sparkle train check" in summary
    for name in (
        "data/sparkle_dsr40k.parquet",
        "data/sparkle_hardmath_aug_all_train.parquet",
        "data/sparkle_aime2024.parquet",
        "data/sparkle_preview.jsonl",
        "report/main_table.md",
        "report/main_table.csv",
        "report/main_table.png",
        "probe_report/probes.csv",
        "probe_report/probes.md",
    ):
        assert (out / name).is_file(), name
    assert list((out / "eval").rglob("samples_*.jsonl")) and list((out / "rescored").rglob("samples_*.jsonl"))
    with open(out / "probe_report" / "probes.csv") as f:
        rows = list(csv.DictReader(f))
    metrics = {r["metric"] for r in rows}
    assert {"avg@2", "delta", "subproblem_success", "position_1_accuracy"} <= metrics
    assert {r["condition"] for r in rows} >= {"plan", "knowledge", "subproblem"}
    assert list((out / "probe_report").glob("*.png"))

    # the demo trains: TRL run of the tiny model, whose checkpoint the evaluation and the probes use
    assert "sparkle train local" in summary and "Reward curve" in summary
    assert (out / "train" / "reward_curve.png").is_file() and (
        out / "train" / "final" / "config.json"
    ).is_file()
    metrics = read_jsonl(out / "train" / "metrics.jsonl")
    assert len(metrics) == 6
    trained = str(out / "train" / "final").replace("/", "__")
    assert any(trained in str(p) for p in (out / "eval").rglob("results_*.json")), "eval must use train/final"
    assert "--model " + str(out / "train" / "final") in summary
    # one progress line per step on the terminal; the engines' output goes to the log file
    assert "Running generate_until requests" not in proc.stderr
    assert "Running generate_until" in (out / "demo.log").read_text()
    assert proc.stderr.count(" s\n") >= 13

    # a second run reuses every unchanged step and reruns what a changed setting affects
    again = subprocess.run(
        [sys.executable, "-m", "sparkle", "demo", "--out", str(out), "--samples", "1", "--max-gen-toks", "16",
         "--train-steps", "6"],
        cwd=repo_root, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr[-3000:]
    summary = (out / "SUMMARY.md").read_text()
    rows = {line.split("|")[1].strip(): line for line in summary.splitlines() if line.startswith("| ")}
    for title in ("stage-one data", "benchmark files", "build the tiny offline model"):
        assert "reused: same command and inputs" in rows[title], rows[title]
    assert "reused" in rows["GRPO training, TRL on this machine (6 steps)"]
    for title in ("benchmark evaluation of the trained model (lm-eval)", "main table vs the paper"):
        assert "| ran:" in rows[title], rows[title]
    assert "settings changed" in rows["benchmark evaluation of the trained model (lm-eval)"]
