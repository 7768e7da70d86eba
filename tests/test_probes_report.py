"""The probe analysis and report read as they should: paired deltas whose columns agree by construction,
no interval for one problem, labels with the real settings, results that do not depend on input order,
duplicate documents counted once, refused settings, and report files replaced together."""

from __future__ import annotations

import csv
import dataclasses
import logging
import random
import re
from pathlib import Path

import pytest

from sparkle.errors import SparkleError
from sparkle.probes.analysis import MIN_BOOTSTRAP_N, analyze
from sparkle.probes.records import DocRecord


def _rec(
    pid: str, condition: str, pattern: str, level: int = 1, benchmark: str = "math500", **kw
) -> DocRecord:
    return DocRecord("m", benchmark, condition, "sparkle", pid, level, tuple(c == "1" for c in pattern), **kw)


def _random_records(seed: int, problems: int = 40) -> list[DocRecord]:
    """Several benchmarks and levels, conditions run on overlapping but different problem sets, chains."""
    rng = random.Random(seed)
    out = []
    for i in range(problems):
        benchmark = ("math500", "gsm8k", "aime2024")[i % 3]
        level = 1 + i % 4
        pid = f"q{i:03d}"
        for condition in ("vanilla", "plan", "knowledge"):
            if rng.random() < 0.8:
                out.append(
                    _rec(pid, condition, "".join(rng.choice("01") for _ in range(8)), level, benchmark)
                )
        total = 1 + i % 3
        for pos in range(1, total + 1):
            pattern = "".join(rng.choice("011") for _ in range(8))
            out.append(_rec(pid, "subproblem", pattern, level, benchmark, position=pos, total=total))
    return out


def test_paired_columns_agree_by_construction():
    """Each condition over its own problems reads 34.4 → 21.9, yet Δ = +25.0 on the two problems run in
    both. The report shows without / with over those pairs, so Δ = with − without."""
    records = [
        _rec("a", "vanilla", "11111111"),  # only without: easy
        _rec("b", "vanilla", "11100000"),
        _rec("c", "vanilla", "00000000"),
        _rec("d", "vanilla", "00000000"),
        _rec("b", "plan", "11111000"),  # +25 % on b
        _rec("c", "plan", "11000000"),  # +25 % on c
        _rec("e", "plan", "00000000"),  # only with: hard
        _rec("f", "plan", "00000000"),
    ]
    rows = {(r.condition, r.metric): r for r in analyze(records, iterations=200) if r.level == "all"}
    own_without, own_with = rows[("vanilla", "avg@8")], rows[("plan", "avg@8")]
    assert (own_without.value, own_with.value) == pytest.approx((34.375, 21.875))  # (1+3/8)/4, (5/8+2/8)/4
    delta = rows[("plan", "delta")]
    without, with_ = rows[("plan", "paired_without")], rows[("plan", "paired_with")]
    assert delta.value == pytest.approx(25.0)
    assert (without.value, with_.value) == pytest.approx((3 / 16 * 100, 7 / 16 * 100))
    assert with_.value - without.value == pytest.approx(delta.value)
    assert without.n == with_.n == delta.n == 2

    from sparkle.probes.report import markdown

    md = markdown(analyze(records, iterations=200), 200, 0.95, [])
    line = next(ln for ln in md.splitlines() if ln.startswith("| m | MATH500 |") and "Δ" not in ln)
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert cells[2:4] == ["18.8†", "43.8†"] and cells[4].startswith("+25.0 [") and cells[5] == "2"
    assert cells[6] == "34.4 (4) → 21.9 (4)"  # each condition over all its own problems, labelled as such


def test_every_delta_equals_its_paired_columns():
    rows = analyze(_random_records(1), iterations=50)
    table = {(r.benchmark, r.condition, r.level, r.metric): r for r in rows}
    deltas = [key for key in table if key[3] == "delta"]
    assert len(deltas) > 20
    for benchmark, condition, level, _ in deltas:
        delta = table[(benchmark, condition, level, "delta")]
        without = table[(benchmark, condition, level, "paired_without")]
        with_ = table[(benchmark, condition, level, "paired_with")]
        assert with_.value - without.value == pytest.approx(delta.value, abs=1e-9)
        assert without.n == with_.n == delta.n


def test_one_problem_has_no_interval_and_small_n_is_flagged():
    records = [_rec("only", "vanilla", "11110000", level=9)] + [
        _rec(f"p{i}", "vanilla", "1" * (i % 9) + "0" * (8 - i % 9), level=1 if i < 3 else 2)
        for i in range(15)
    ]
    rows = {(r.level, r.metric): r for r in analyze(records, iterations=300) if r.condition == "vanilla"}
    single, few, many = rows[("9", "avg@8")], rows[("1", "avg@8")], rows[("all", "avg@8")]
    assert (single.n, single.ci_low, single.ci_high, single.note) == (
        1,
        None,
        None,
        "one problem: no interval",
    )
    assert few.n == 3 < MIN_BOOTSTRAP_N and few.ci_low is not None and "fewer than" in few.note
    assert many.n == 16 and many.note == "" and many.ci_low < many.value < many.ci_high
    off = {(r.level, r.metric): r for r in analyze(records, iterations=0)}[("all", "avg@8")]
    assert off.ci_low is None and off.note == "no interval (--bootstrap 0)"


def test_order_of_the_records_does_not_matter():
    records = _random_records(7, problems=60)
    reference = analyze(records, iterations=300, seed=5)
    for seed in range(3):
        shuffled = records[:]
        random.Random(seed).shuffle(shuffled)
        assert analyze(shuffled, iterations=300, seed=5) == reference


def test_duplicate_documents_counted_once_whatever_the_order(caplog: pytest.LogCaptureFixture):
    """A document listed twice (e.g. two runs appended to one file) counts once, with a warning; of two
    different copies the one lm-eval listed first (smallest doc_id) is kept, in any input order."""
    records = [_rec(f"p{i}", "vanilla", "11110000", doc_id=i) for i in range(4)]
    records += [_rec("p0", "vanilla", "00000000", doc_id=7), _rec("p1", "vanilla", "11110000", doc_id=1)]
    expected = analyze(records[:4], iterations=100)
    with caplog.at_level(logging.WARNING):
        assert analyze(records, iterations=100) == expected
        assert analyze(records[::-1], iterations=100) == expected
    assert "2 probe documents appear more than once" in caplog.text
    chain = [_rec("c", "subproblem", "11", position=1, total=1, doc_id=0)] * 2
    (success,) = [
        r
        for r in analyze(chain, iterations=10)
        if (r.benchmark, r.level, r.metric) == ("all", "all", "subproblem_success")
    ]
    assert success.n == 1


def test_labels_carry_the_real_settings(tmp_path: Path):
    from sparkle.probes.report import markdown, write_report

    records = _random_records(3)
    rows = analyze(records, iterations=250, confidence=0.9)
    md = markdown(rows, 250, 0.9, [])
    assert "95%" not in md
    assert "Δ avg@8 [90% CI, 250 resamples]" in md
    assert "subproblem success [90% CI, 250 resamples]" in md
    assert "90% percentile bootstrap interval over problems (250 resamples)" in md
    assert "97.5% CI" in markdown(analyze(records, iterations=20, confidence=0.975), 20, 0.975, [])
    assert "[no CI]" in markdown(analyze(records, iterations=0), 0, 0.95, [])
    # The CSV: empty interval cells for one problem, and the count and note on every line.
    paths = write_report(rows, tmp_path / "r", 250, 0.9, figures=False)
    with open(paths["csv"], encoding="utf-8") as f:
        lines = list(csv.DictReader(f))
    assert all(line["n"].isdigit() for line in lines)
    assert all(
        (line["ci_low"] == "") == (line["note"].startswith(("one problem", "no interval"))) for line in lines
    )


@pytest.mark.parametrize(
    ("option", "value", "fragment"),
    [
        ("--bootstrap", "-5", "number of resamples"),
        ("--bootstrap", "many", "number of resamples"),
        ("--confidence", "0", "strictly between 0 and 1"),
        ("--confidence", "2", "strictly between 0 and 1"),
        ("--confidence", "1", "strictly between 0 and 1"),
        ("--confidence", "nan", "strictly between 0 and 1"),
    ],
)
def test_bad_interval_settings_are_refused(tmp_path: Path, capsys, option: str, value: str, fragment: str):
    from sparkle.cli import main

    out = tmp_path / "report"
    with pytest.raises(SystemExit) as exc:
        main(["probe", "report", str(tmp_path), "--out", str(out), option, value])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert fragment in err and "Traceback" not in err
    assert not out.exists()


@pytest.mark.parametrize(("iterations", "confidence"), [(-1, 0.95), (10, 0.0), (10, 1.0), (10, float("nan"))])
def test_analyze_refuses_bad_settings(iterations: int, confidence: float):
    with pytest.raises(SparkleError, match="--bootstrap|--confidence"):
        analyze([_rec("a", "vanilla", "1")], iterations=iterations, confidence=confidence)


def test_report_files_are_replaced_together(tmp_path: Path):
    """A second report replaces the first one's files, removes its figures when this run draws none, and
    leaves a user's own file alone; a failing run leaves the folder exactly as it was."""
    from sparkle.probes.report import write_report

    out = tmp_path / "r"
    rows = analyze(_random_records(2), iterations=20)
    write_report(rows, out, 20, 0.95, figures=True)
    assert len(list(out.glob("probe_*.png"))) == 7
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    broken = dataclasses.replace(rows[0], level="not a level")
    with pytest.raises(ValueError):
        write_report([*rows, broken], out, 20, 0.95, figures=False)  # fails after writing the CSV
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging folder left behind
    write_report(rows[:5], out, 20, 0.95, figures=False)
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt", "probes.csv", "probes.md"]
    assert re.search(r"^# SPARKLE probes", (out / "probes.md").read_text(encoding="utf-8"))
