"""Probe records and analysis: regrading samples without `correct`, bootstrap intervals (paired deltas),
incomplete chains, and refused inputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from probe_cases import PATTERNS, preview_rows

from sparkle.errors import SparkleError


def test_samples_without_correct_are_regraded(replay_run):
    from sparkle.probes.records import load_records

    out, _, _ = replay_run
    path = next(out.glob("samples_sparkle_plan_gsm8k_*.jsonl"))
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    for row in rows:
        del row["correct"]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    records = {r.problem_id: r.correct for r in load_records([path])}
    assert records == {pid: tuple(c == "1" for c in PATTERNS["plan"][pid]) for pid in ("P3", "P4")}


def test_bootstrap_intervals():
    import numpy as np

    from sparkle.probes.analysis import bootstrap_mean_ci

    assert bootstrap_mean_ci(np.full(30, 0.25)) == (0.25, 0.25)
    low, high = bootstrap_mean_ci(np.array([0.0, 1.0]), iterations=2000, seed=1)
    assert (low, high) == (0.0, 1.0)
    values = np.linspace(0, 1, 200)
    low, high = bootstrap_mean_ci(values, iterations=2000, seed=3)
    # Normal approximation of the mean's 95 % interval: 0.5 +- 1.96 * sd / sqrt(n).
    half = 1.96 * values.std() / np.sqrt(values.size)
    assert low == pytest.approx(0.5 - half, abs=0.01) and high == pytest.approx(0.5 + half, abs=0.01)
    assert bootstrap_mean_ci(values, seed=3) == bootstrap_mean_ci(values, seed=3)


def test_delta_interval_is_paired():
    """Problems of very different difficulty, each helped by exactly one sample in 8: the paired interval of
    the delta collapses to +12.5 although each condition's own interval is wide."""
    from sparkle.probes.analysis import analyze
    from sparkle.probes.records import DocRecord

    records = []
    for i in range(20):
        base = i % 8
        for condition, right_count in (("vanilla", base), ("plan", base + 1)):
            correct = tuple(j < right_count for j in range(8))
            records.append(DocRecord("m", "math500", condition, "sparkle", f"q{i}", 1 + i % 10, correct))
    rows = {(r.benchmark, r.condition, r.level, r.metric): r for r in analyze(records, iterations=300)}
    delta = rows[("math500", "plan", "all", "delta")]
    assert (delta.value, delta.ci_low, delta.ci_high) == pytest.approx((12.5, 12.5, 12.5))
    plan = rows[("math500", "plan", "all", "avg@8")]
    assert plan.ci_high - plan.ci_low > 10


def test_incomplete_chains_are_left_out_of_success():
    from sparkle.probes.analysis import analyze
    from sparkle.probes.records import DocRecord

    def rec(pid: str, pos: int, total: int, pattern: str) -> DocRecord:
        return DocRecord(
            "m", "amc2023", "subproblem", "sparkle", pid, 4, tuple(c == "1" for c in pattern), pos, total
        )

    records = [rec("a", 1, 2, "11"), rec("a", 2, 2, "10"), rec("b", 1, 2, "11")]  # b lost its second row
    rows = {(r.benchmark, r.level, r.metric): r for r in analyze(records, iterations=10)}
    assert rows[("amc2023", "all", "subproblem_success")].value == pytest.approx(50.0)
    assert rows[("amc2023", "all", "subproblem_success")].n == 1
    assert rows[("amc2023", "all", "position_1_accuracy")].value == pytest.approx(100.0)
    assert not any(metric.startswith("avg@") for _, _, metric in rows)  # no vanilla run, no original avg@k


def test_bad_inputs(tmp_path: Path, preview_dir: Path):
    from sparkle.cli import main
    from sparkle.probes.records import load_records
    from sparkle.probes.tasks import load_dataset

    with pytest.raises(SparkleError, match="no probe samples"):
        load_records([tmp_path])
    with pytest.raises(SparkleError, match="no such file"):
        load_records([tmp_path / "missing"])
    lone = tmp_path / "results_2026-01-01T00-00-00.json"
    lone.write_text('{"results": {"sparkle_plan_gsm8k": {}}}', encoding="utf-8")
    with pytest.raises(SparkleError, match="--log_samples"):
        load_records([lone])
    bad = tmp_path / "m" / "samples_sparkle_plan_gsm8k_2026-01-01T00-00-00.jsonl"
    bad.parent.mkdir()
    bad.write_text('{"doc_id": 0}\n', encoding="utf-8")
    with pytest.raises(SparkleError, match=r"line 1: no `doc`"):
        load_records([bad])
    with pytest.raises(SparkleError, match="no math500 problems"):
        load_dataset(probe_benchmark="math500", probe_condition="plan")
    assert main(["probe", "report", str(tmp_path / "missing"), "--out", str(tmp_path / "r")]) == 2
    assert not (tmp_path / "r").exists()
    # A preview row without its planning skeleton is refused with the row named.
    rows = preview_rows()
    del rows[2]["planning"]
    broken = tmp_path / "broken.jsonl"
    broken.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    with pytest.raises(SparkleError, match="planning"):
        load_dataset(probe_benchmark="gsm8k", probe_condition="plan", preview=str(broken))
