"""Probe runs end to end: replayed outputs with hand-computed deltas / subproblem success / per-position
accuracy through the tasks and the report, a real run of the tiny model, and the planned lm-eval commands."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import pytest
from probe_cases import EXPECTED, PATTERNS, PROBLEMS, expected_prompt


def test_replayed_outputs_give_hand_computed_metrics(replay_run, tmp_path: Path):
    from sparkle.cli import main

    out, results, lm = replay_run
    # Every prompt was asked exactly 8 times (repeats), so the tasks produced exactly the paper's prompts.
    assert set(lm.calls.values()) == {8}
    assert len(lm.calls) == 4 * 3 + 10
    # lm-eval's own aggregate of the per-document avg@8.
    assert results["results"]["sparkle_plan_aime2024"]["avg@8,all_samples"] == pytest.approx(0.375)
    assert results["results"]["sparkle_subproblem_gsm8k"]["correct,all_samples"] == pytest.approx(
        sum(PATTERNS["subproblem"][k].count("1") for k in PATTERNS["subproblem"] if k[0] in ("P3", "P4")) / 40
    )

    report = tmp_path / "report"
    assert main(["probe", "report", str(out.parent), "--out", str(report), "--bootstrap", "500"]) == 0
    with open(report / "probes.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == [
        "model",
        "benchmark",
        "condition",
        "level",
        "metric",
        "value",
        "ci_low",
        "ci_high",
        "n",
        "note",
    ]
    table = {(r["benchmark"], r["condition"], r["level"], r["metric"]): r for r in rows}
    assert {r["model"] for r in rows} == {"replay-model"}
    for key, value in EXPECTED.items():
        row = table[key]
        assert float(row["value"]) == pytest.approx(value, abs=1e-4), key
        if row["ci_low"]:
            assert float(row["ci_low"]) - 1e-9 <= float(row["value"]) <= float(row["ci_high"]) + 1e-9, key
    # One problem: no interval at all (an interval [v, v] would read as certainty), and the note says why.
    one = table[("aime2024", "plan", "7", "delta")]
    assert (one["ci_low"], one["ci_high"], one["n"]) == ("", "", "1")
    assert one["note"] == "one problem: no interval"
    # Two problems: an interval, flagged as too few problems for a percentile bootstrap.
    two = table[("aime2024", "plan", "all", "delta")]
    assert two["n"] == "2" and two["ci_low"] and two["note"].startswith("fewer than 10 problems")
    # Every delta sits next to the means it was computed from.
    for (benchmark, condition, level, metric), row in table.items():
        if metric == "delta":
            without = table[(benchmark, condition, level, "paired_without")]
            with_ = table[(benchmark, condition, level, "paired_with")]
            assert float(with_["value"]) - float(without["value"]) == pytest.approx(
                float(row["value"]), abs=1e-3
            )
            assert without["n"] == with_["n"] == row["n"]
    # Levels present: 3, 5, 7 (and no position 4: the longest chain has 3 subproblems).
    assert {r["level"] for r in rows} == {"all", "3", "5", "7"}
    assert ("all", "subproblem", "all", "position_4_accuracy") not in table
    md = (report / "probes.md").read_text(encoding="utf-8")
    assert "| replay-model | AIME24 | 31.2† | 37.5† | +6.2 [" in md
    assert "| replay-model | 7 | 12.5† | 0.0† | -12.5 (1 problem: no interval) | 1 | = pairs |" in md
    assert "Δ avg@8 [95% CI, 500 resamples]" in md and "95% CI" not in md.replace("95% CI, 500", "")
    for name in ("plan_benchmarks", "plan_levels", "knowledge_benchmarks", "subproblem_positions"):
        png = report / f"probe_{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"![probe_{name}.png](probe_{name}.png)" in md


def test_report_does_not_depend_on_input_order(replay_run, tmp_path: Path):
    """The lines of every samples file shuffled (and a duplicated document appended): probes.csv and
    probes.md are byte for byte those of the original outputs."""
    import random

    from sparkle.cli import main

    out, _, _ = replay_run
    shuffled = tmp_path / "shuffled" / out.name
    shuffled.mkdir(parents=True)
    for i, path in enumerate(sorted(out.glob("samples_*.jsonl"))):
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        random.Random(i).shuffle(lines)
        if i == 0:
            lines.append(lines[0])  # one document twice: counted once
        (shuffled / path.name).write_text("".join(lines), encoding="utf-8")
    reports = []
    for source in (out.parent, shuffled.parent):
        report = tmp_path / f"report_{len(reports)}"
        args = ["probe", "report", str(source), "--out", str(report), "--bootstrap", "400", "--no-figures"]
        assert main(args) == 0
        reports.append({name: (report / name).read_bytes() for name in ("probes.csv", "probes.md")})
    assert reports[0] == reports[1]


def test_models_with_the_same_short_name_stay_apart(replay_run, tmp_path: Path):
    """Two checkpoints both called stage1 are two models; one model run into two folders is one."""
    from sparkle.probes.records import load_records

    out, _, _ = replay_run
    runs = tmp_path / "two"
    for sub, name in (
        ("a", "/ck/a/stage1/huggingface"),
        ("b", "/ck/b/stage1/huggingface"),
        ("c", "/ck/b/stage1/huggingface"),
    ):
        folder = runs / sub
        folder.mkdir(parents=True)
        tasks = ["sparkle_vanilla_gsm8k"] if sub != "c" else ["sparkle_plan_gsm8k"]
        for task in tasks:
            src = next(out.glob(f"samples_{task}_*.jsonl"))
            (folder / src.name).write_bytes(src.read_bytes())
        stamp = src.stem.rsplit("_", 1)[1]
        (folder / f"results_{stamp}.json").write_text(json.dumps({"model_name": name, "results": {}}))
    models = Counter(r.model for r in load_records([runs]))
    assert models == {"/ck/a/stage1/huggingface": 2, "/ck/b/stage1/huggingface": 4}


CHAT = "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n{}<|im_end|>\n<|im_start|>assistant\n"


@pytest.mark.slow
def test_real_hf_run_then_report(preview_dir: Path, tiny_model_dir: Path, tmp_path: Path):
    """`sparkle probe run` drives a real lm-eval run (hf backend, tiny offline model, chat template) over the
    fixture; a second run skips the finished tasks; `sparkle probe report` turns the outputs into tables and
    figures."""
    from sparkle.cli import main

    out = tmp_path / "runs"
    args = ["probe", "run", "--backend", "hf", "--model", str(tiny_model_dir), "--out", str(out),
            "--benchmarks", "aime2024", "gsm8k", "--repeats", "2", "--max-gen-toks", "8", "--batch-size", "8"]  # fmt: skip
    assert main(args) == 0
    (model_dir,) = [p for p in out.iterdir() if not p.name.startswith("_tasks")]
    samples = sorted(model_dir.glob("samples_sparkle_*.jsonl"))
    assert len(samples) == 8
    first = json.loads(
        next(model_dir.glob("samples_sparkle_knowledge_gsm8k_*.jsonl")).read_text().splitlines()[0]
    )
    assert first["arguments"]["gen_args_0"]["arg_0"] == CHAT.format(expected_prompt("knowledge", PROBLEMS[3]))
    assert first["arguments"]["gen_args_0"]["arg_1"]["temperature"] == 0.6
    assert len(first["filtered_resps"][0]) == 2 and len(first["correct"]) == 2

    from sparkle.probes.records import load_records

    (results_file,) = model_dir.glob("results_*.json")
    assert load_records([results_file]) == load_records([out]) == load_records(samples)
    assert len(load_records([out])) == 2 * (2 + 2 + 2) + 5 + 5

    before = sorted(model_dir.iterdir())
    assert main(args) == 0  # everything finished: no new lm-eval run
    assert sorted(model_dir.iterdir()) == before

    report = tmp_path / "report"
    assert main(["probe", "report", str(out), "--out", str(report), "--bootstrap", "200"]) == 0
    with open(report / "probes.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    metrics = {(r["benchmark"], r["condition"], r["metric"]) for r in rows if r["level"] == "all"}
    for benchmark in ("aime2024", "gsm8k", "all"):
        assert {(benchmark, c, "avg@2") for c in ("vanilla", "plan", "knowledge")} <= metrics
        assert {(benchmark, c, "delta") for c in ("plan", "knowledge", "subproblem")} <= metrics
        assert (benchmark, "subproblem", "subproblem_success") in metrics
    assert ("gsm8k", "subproblem", "position_3_accuracy") in metrics
    # The vanilla avg@2 equals the mean over problems of the logged per-sample correctness.
    vanilla = [
        json.loads(line) for p in model_dir.glob("samples_sparkle_vanilla_*.jsonl") for line in p.open()
    ]
    expected = 100 * sum(sum(r["correct"]) / 2 for r in vanilla) / len(vanilla)
    (row,) = [
        r for r in rows if r["benchmark"] == "all" and r["condition"] == "vanilla" and r["level"] == "all"
    ]
    assert float(row["value"]) == pytest.approx(expected, abs=1e-4)
    assert row["model"] == tiny_model_dir.name
    pngs = sorted(p.name for p in report.glob("*.png"))
    assert len(pngs) == 7 and all((report / p).stat().st_size > 5000 for p in pngs)


def test_run_dry_run_prints_lm_eval_commands(tiny_model_dir: Path, tmp_path: Path, capsys):
    """One lm-eval command per model: the chosen family's tasks, the context capped to the model's (4096 for
    the tiny model, generation = context - 1000), chat template and samples on; missing models fail first."""
    from sparkle.cli import main

    out = tmp_path / "runs"
    args = ["probe", "run", "--model", str(tiny_model_dir), "--out", str(out), "--family", "srl",
            "--conditions", "plan", "subproblem", "--benchmarks", "gsm8k", "--dry-run"]  # fmt: skip
    assert main(args) == 0
    (command,) = capsys.readouterr().out.strip().splitlines()
    assert "--tasks sparkle_plan_gsm8k_srl,sparkle_subproblem_gsm8k_srl " in command
    assert "max_model_len=4096" in command and "max_gen_toks=3096" in command
    assert "--apply_chat_template" in command and "--log_samples" in command
    assert not out.exists()  # a dry run writes nothing
    assert main(["probe", "run", "--model", str(tmp_path / "nope"), "--model", str(tiny_model_dir),
                 "--out", str(out), "--dry-run"]) == 2  # fmt: skip
    assert capsys.readouterr().out == ""
