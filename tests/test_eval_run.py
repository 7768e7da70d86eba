"""`sparkle eval run` / eval_all_vllm.sh: model checks, length capping, skipping finished pairs, the
lm-eval command line, and a REAL lm-eval run with the hf backend on the tiny offline model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sparkle.errors import SparkleError
from sparkle.evaluate import run as evrun
from sparkle.evaluate.tasks import TASKS


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two problems per benchmark in the layout of `sparkle data benchmarks --out DIR`."""
    out = tmp_path_factory.mktemp("bench_data")
    for name in ("aime2024", "amc2023", "math500", "gsm8k", "olympiad_bench"):
        rows = [
            {"id": f"{name}-{i}", "problem": f"What is {i} + {i}?", "answer": str(2 * i)} for i in range(2)
        ]
        (out / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return out


def _write_results(out: Path, model: str, tasks: list[str], date: str = "2026-01-01T00-00-00.000000") -> None:
    folder = out / model.replace("/", "__")
    folder.mkdir(parents=True, exist_ok=True)
    results = {
        "results": {t: {"alias": t, "avg@8,all_samples": 0.5} for t in tasks},
        "config": {"model": "vllm", "model_args": f"pretrained={model},max_model_len=4096"},
    }
    (folder / f"results_{date}.json").write_text(json.dumps(results), encoding="utf-8")


def test_plan_checks_caps_and_builds_the_vllm_command(tiny_model_dir: Path, tmp_path: Path, data_dir: Path):
    runs = evrun.plan_runs(
        [str(tiny_model_dir), "sparkle-reasoning/SparkleRL-7B-Stage1"],
        None,
        tmp_path / "out",
        tensor_parallel_size=2,
        data_parallel_size=4,
        data_dir=str(data_dir),
    )
    local, hub = runs
    # The tiny model's context is 4096: max_model_len capped, 1000 tokens kept for the prompt.
    assert (local.max_model_len, local.max_gen_toks) == (4096, 3096)
    assert local.tasks == list(TASKS) and local.skipped == []
    command = local.command
    assert command[:3] == [sys.executable, "-m", "lm_eval"]
    args = dict(zip(command[3::2], command[4::2], strict=False))
    assert args["--model"] == "vllm"
    model_args = dict(kv.split("=", 1) for kv in command[command.index("--model_args") + 1].split(","))
    assert model_args["pretrained"] == str(tiny_model_dir.resolve())
    assert model_args["tensor_parallel_size"] == "2" and model_args["data_parallel_size"] == "4"
    assert model_args["max_model_len"] == "4096" and model_args["max_gen_toks"] == "3096"
    assert command[command.index("--tasks") + 1] == "aime2024,amc2023,math500,gsm8k_spk,olympiad_bench"
    assert command[command.index("--include_path") + 1] == str(evrun.REPO_TASKS)
    assert "--apply_chat_template" in command and "--log_samples" in command
    assert command[command.index("--gen_kwargs") + 1] == "max_gen_toks=3096"
    assert json.loads(command[command.index("--metadata") + 1]) == {"data_dir": str(data_dir)}
    # A Hub id is passed through; without network its context is unknown and the requested length stays.
    assert hub.model == "sparkle-reasoning/SparkleRL-7B-Stage1"
    assert (hub.max_model_len, hub.max_gen_toks) == (32768, 31768)


def test_plan_skips_pairs_with_results(tiny_model_dir: Path, tmp_path: Path):
    out = tmp_path / "out"
    model = str(tiny_model_dir.resolve())
    _write_results(out, model, ["aime2024", "math500"])
    _write_results(out, "someone/else", ["amc2023"])
    (run,) = evrun.plan_runs([str(tiny_model_dir)], ["sparkle_bench"], out)
    assert run.skipped == ["aime2024", "math500"]
    assert run.tasks == ["amc2023", "gsm8k_spk", "olympiad_bench"]
    (other_k,) = evrun.plan_runs([str(tiny_model_dir)], ["aime2024"], out, samples=16)
    assert other_k.tasks == ["aime2024"]  # results with avg@8 do not count for a 16-sample run
    (forced,) = evrun.plan_runs([str(tiny_model_dir)], ["aime2024"], out, force=True)
    assert forced.tasks == ["aime2024"]
    _write_results(out, model, ["amc2023", "gsm8k_spk", "olympiad_bench"], date="2026-01-02T00-00-00.000000")
    (done,) = evrun.plan_runs([str(tiny_model_dir)], None, out)
    assert done.tasks == []
    assert evrun.execute([done]) == 0  # nothing to run


def test_other_sample_counts_get_a_generated_task_folder(tiny_model_dir: Path, tmp_path: Path):
    (run,) = evrun.plan_runs([str(tiny_model_dir)], ["gsm8k_spk"], tmp_path, samples=16, max_gen_toks=512)
    include = Path(run.command[run.command.index("--include_path") + 1])
    assert include == tmp_path / "_tasks_k16"
    assert "repeats: 16" in (include / "sparkle_bench" / "_sparkle_bench_template_yaml").read_text()
    assert run.max_gen_toks == 512


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("missing", "no such folder"),
        ("no_config", "config.json is missing"),
        ("verl_checkpoint", "fsdp2hf"),
        ("bad_task", "unknown benchmark task 'gsm8k'"),
        ("no_models", "PATH_TO_STAGE_ONE_MODEL"),
        ("bad_data_dir", "--data-dir"),
    ],
)
def test_plan_errors_before_anything_runs(tmp_path: Path, tiny_model_dir: Path, setup: str, message: str):
    models, tasks, kwargs = [str(tiny_model_dir)], None, {}
    if setup == "missing":
        models = [str(tiny_model_dir), str(tmp_path / "absent")]
    elif setup in ("no_config", "verl_checkpoint"):
        folder = tmp_path / "ckpt"
        folder.mkdir()
        if setup == "verl_checkpoint":
            (folder / "model_world_size_2_rank_0.pt").write_bytes(b"")
        models = [str(folder)]
    elif setup == "bad_task":
        tasks = ["aime2024,gsm8k"]
    elif setup == "no_models":
        models = []
    elif setup == "bad_data_dir":
        kwargs = {"data_dir": str(tmp_path / "absent")}
    with pytest.raises(SparkleError, match=message):
        evrun.plan_runs(models, tasks, tmp_path / "out", **kwargs)
    assert not (tmp_path / "out").exists()


def test_cli_takes_models_from_the_stage_variables(tiny_model_dir: Path, tmp_path: Path, monkeypatch, capsys):
    from sparkle.cli import main

    monkeypatch.setenv("PATH_TO_STAGE_ONE_MODEL", str(tiny_model_dir))
    monkeypatch.delenv("PATH_TO_STAGE_TWO_MODEL", raising=False)
    assert main(["eval", "run", "--out", str(tmp_path / "out"), "--tasks", "aime2024", "--dry-run"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith(sys.executable)]
    assert len(lines) == 1 and f"pretrained={tiny_model_dir.resolve()}," in lines[0]
    monkeypatch.setenv("PATH_TO_STAGE_TWO_MODEL", str(tmp_path / "absent"))
    assert main(["eval", "run", "--out", str(tmp_path / "out"), "--dry-run"]) == 2


def test_eval_all_vllm_script(repo_root: Path, tiny_model_dir: Path, tmp_path: Path):
    script = repo_root / "scripts" / "eval" / "eval_all_vllm.sh"
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "OUTPUT_DIR": str(tmp_path / "out"),
        "TP_SIZE": "2",
    }
    env.pop("PATH_TO_STAGE_ONE_MODEL", None)
    env.pop("PATH_TO_STAGE_TWO_MODEL", None)
    missing = subprocess.run(["bash", str(script), "--dry-run"], env=env, capture_output=True, text=True)
    assert missing.returncode == 2 and "PATH_TO_STAGE_ONE_MODEL" in missing.stderr
    env["PATH_TO_STAGE_TWO_MODEL"] = str(tiny_model_dir)
    done = subprocess.run(["bash", str(script), "--dry-run"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    (line,) = [x for x in done.stdout.splitlines() if x.startswith(sys.executable)]
    assert "--model vllm" in line and "tensor_parallel_size=2" in line and "max_model_len=4096" in line
    assert not (tmp_path / "out" / "report").exists()  # a dry run makes no report


@pytest.mark.slow
def test_real_lm_eval_run_with_the_hf_backend(tiny_model_dir: Path, data_dir: Path, tmp_path: Path, capsys):
    """lm-eval itself (subprocess, hf backend, chat template) on two local tasks: results + samples files
    in lm-eval's layout, read back by `sparkle report` and `sparkle rescore`; a second run skips both."""
    from sparkle.cli import main
    from sparkle.evaluate.results import collect_results, read_samples

    out = tmp_path / "out"
    argv = ["eval", "run", "--backend", "hf", "--models", str(tiny_model_dir), "--tasks", "aime2024", "gsm8k_spk",
            "--samples", "2", "--max-gen-toks", "8", "--batch-size", "4", "--data-dir", str(data_dir), "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    model = str(tiny_model_dir.resolve())
    found = collect_results([out])
    assert {(r.model, r.task) for r in found} == {(model, "aime2024"), (model, "gsm8k_spk")}
    for r in found:
        assert set(r.metrics) == {"avg@2", "pass@1", "pass@2", "maj@1", "maj@2", "correct"}
        assert r.n_docs == 2 and r.samples_file is not None and r.results_file.parent.parent == out
        rows = read_samples(r.samples_file)
        assert len(rows) == 2
        for row in rows:
            assert len(row["filtered_resps"][0]) == 2 and len(row["correct"]) == 2
            prompt = row["arguments"]["gen_args_0"]["arg_0"]
            assert prompt.startswith("<|im_start|>system\n") and prompt.endswith("<|im_start|>assistant\n")
            assert row["arguments"]["gen_args_0"]["arg_1"]["max_gen_toks"] == 8
            assert row["arguments"]["gen_args_0"]["arg_1"]["temperature"] == 0.6
            assert row["avg@2"] == sum(row["correct"]) / 2

    capsys.readouterr()
    assert main([*argv, "--dry-run"]) == 0  # everything done: no lm-eval command
    assert sys.executable not in capsys.readouterr().out

    assert main(["report", str(out), "--out", str(tmp_path / "report")]) == 0
    md = (tmp_path / "report" / "main_table.md").read_text(encoding="utf-8")
    assert "# Benchmark results: Avg@2 (%)" in md and f"`{model}`" in md
    assert main(["rescore", str(out), "--policy", "train"]) == 0
    assert "| train |" in capsys.readouterr().out
