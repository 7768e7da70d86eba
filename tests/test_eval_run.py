"""`sparkle eval run` / `sparkle probe run` / eval_all_vllm.sh / `sparkle pipeline`: the one lm-eval runner.
Model checks, context capping, the generation budget from the run's longest prompt, the "done" rule both
runners share, every visible GPU, the lm-eval command line, and a REAL lm-eval run with the hf backend on
the tiny offline model."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from sparkle.cli import main
from sparkle.errors import SparkleError
from sparkle.evaluate import run as evrun
from sparkle.evaluate.results import collect_results
from sparkle.evaluate.tasks import TASKS
from sparkle.prompts import plain_prompt

EIGHT_GPUS = "0,1,2,3,4,5,6,7"


def _bench_rows(name: str, problems: list[str]) -> str:
    rows = [{"id": f"{name}-{i}", "problem": p, "answer": str(i)} for i, p in enumerate(problems)]
    return "".join(json.dumps(r) + "\n" for r in rows)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two problems per benchmark in the layout of `sparkle data benchmarks --out DIR`."""
    out = tmp_path_factory.mktemp("bench_data")
    for name in ("aime2024", "amc2023", "math500", "gsm8k", "olympiad_bench"):
        problems = [f"What is {i} + {i}?" for i in range(2)]
        (out / f"{name}.jsonl").write_text(_bench_rows(name, problems), encoding="utf-8")
    return out


@pytest.fixture(autouse=True)
def no_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """This machine's GPU count (none) unless a test fakes another one."""
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")


def _chat_tokens(tokenizer, text: str) -> int:
    """Tokens of one user message through the chat template, counted independently of the runner."""
    rendered = tokenizer.apply_chat_template(
        [{"role": "user", "content": text}], tokenize=False, add_generation_prompt=True
    )
    return len(tokenizer(rendered, add_special_tokens=False)["input_ids"])


def _settings(models, out, **kwargs) -> evrun.Settings:
    return evrun.Settings(models=tuple(models), out=Path(out), **kwargs)


def _model_args(command: list[str]) -> dict[str, str]:
    return dict(kv.split("=", 1) for kv in command[command.index("--model_args") + 1].split(","))


def _write_results(
    out: Path, model: str, tasks: list[str], date: str = "2026-01-01T00-00-00.000000", samples: int = 8,
    settings: dict | None = None,
) -> None:  # fmt: skip
    """A results file as lm-eval writes it (with the runner's record in each task's metadata when given)."""
    folder = out / model.replace("/", "__")
    folder.mkdir(parents=True, exist_ok=True)
    results = {
        "results": {t: {"alias": t, f"avg@{samples},all_samples": 0.5} for t in tasks},
        "config": {"model": "vllm", "model_args": f"pretrained={model},max_model_len=4096"},
    }
    if settings is not None:
        results["configs"] = {t: {"metadata": {"sparkle_run": {"settings": settings}}} for t in tasks}
    (folder / f"results_{date}.json").write_text(json.dumps(results), encoding="utf-8")


def test_plan_checks_caps_and_builds_the_vllm_command(
    tiny_model_dir: Path, tiny_tokenizer, tmp_path: Path, data_dir: Path
):
    settings = _settings(
        [str(tiny_model_dir), "sparkle-reasoning/SparkleRL-7B-Stage1"], tmp_path / "out", tp=2, dp=4,
        data_dir=str(data_dir),
    )  # fmt: skip
    local, hub = evrun.plan(settings, evrun.BENCH, evrun.expand_tasks(None))
    # The tiny model's context is 4096; the budget is what the longest prompt leaves of it.
    longest = _chat_tokens(tiny_tokenizer, plain_prompt("What is 1 + 1?"))
    assert local.max_model_len == 4096 and local.max_gen_toks == 4096 - longest
    assert local.prompts == {t: {"count": 2, "longest": longest, "too_long": 0} for t in TASKS}
    assert local.too_long == 0
    assert local.tasks == list(TASKS) and local.skipped == []
    command = local.command
    assert command[:3] == [sys.executable, "-m", "lm_eval"]
    args = dict(zip(command[3::2], command[4::2], strict=False))
    assert args["--model"] == "vllm"
    model_args = _model_args(command)
    assert model_args["pretrained"] == str(tiny_model_dir.resolve())
    assert model_args["tensor_parallel_size"] == "2" and model_args["data_parallel_size"] == "4"
    assert model_args["max_model_len"] == "4096" and model_args["max_gen_toks"] == str(4096 - longest)
    assert command[command.index("--tasks") + 1] == "aime2024,amc2023,math500,gsm8k_spk,olympiad_bench"
    assert command[command.index("--include_path") + 1] == str(tmp_path / "out" / "_tasks_k8")
    assert "--apply_chat_template" in command and "--log_samples" in command
    assert command[command.index("--gen_kwargs") + 1] == f"max_gen_toks={4096 - longest}"
    metadata = json.loads(command[command.index("--metadata") + 1])
    assert metadata["data_dir"] == str(data_dir) and metadata["family"] == "sparkle"
    assert metadata["sparkle_run"]["settings"] == settings.key()
    assert metadata["sparkle_run"]["prompts"]["aime2024"]["longest"] == longest
    # A Hub id is passed through; offline its context and tokenizer are unknown: the paper's split stays.
    assert hub.model == "sparkle-reasoning/SparkleRL-7B-Stage1"
    assert (hub.max_model_len, hub.max_gen_toks, hub.too_long) == (32768, 31768, None)


@pytest.mark.parametrize(
    ("words", "max_gen_toks", "budget", "too_long"),
    [
        (10, None, "context - longest", 0),  # short prompts: the context minus the longest
        (10, 64, 64, 0),  # the configured cap wins when it is smaller
        (50, None, "context - longest", 0),  # a long prompt shortens everyone's budget, nothing is cut
        (150, None, 2048, 1),  # longer than half the context: budget floored, the prompt counted
    ],
)
def test_generation_budget_comes_from_the_longest_prompt(
    tiny_model_dir: Path, tiny_tokenizer, tmp_path: Path, words: int, max_gen_toks, budget, too_long: int
):
    data = tmp_path / "data"
    data.mkdir()
    long_problem = "Find x such that " + " ".join(f"{i} + {i} = 2 * {i}" for i in range(words)) + "."
    (data / "olympiad_bench.jsonl").write_text(
        _bench_rows("olympiad_bench", ["What is 1 + 1?", long_problem]), encoding="utf-8"
    )
    (data / "gsm8k.jsonl").write_text(_bench_rows("gsm8k", ["What is 2 + 2?"]), encoding="utf-8")
    settings = _settings(
        [str(tiny_model_dir)], tmp_path / "out", data_dir=str(data), max_gen_toks=max_gen_toks
    )
    (run,) = evrun.plan(settings, evrun.BENCH, ["gsm8k_spk", "olympiad_bench"])
    longest = _chat_tokens(tiny_tokenizer, plain_prompt(long_problem))
    expected = 4096 - longest if budget == "context - longest" else budget
    assert run.max_gen_toks == expected
    assert run.prompts["olympiad_bench"] == {"count": 2, "longest": longest, "too_long": too_long}
    assert run.prompts["gsm8k_spk"]["too_long"] == 0 and run.too_long == too_long
    assert (
        json.loads(run.command[run.command.index("--metadata") + 1])["sparkle_run"]["prompts"] == run.prompts
    )


def test_plan_skips_tasks_done_with_the_same_settings(tiny_model_dir: Path, tmp_path: Path, data_dir: Path):
    out = tmp_path / "out"
    model = str(tiny_model_dir.resolve())
    base = _settings([str(tiny_model_dir)], out, data_dir=str(data_dir))
    _write_results(out, model, ["aime2024", "math500"], settings=base.key())
    _write_results(out, "someone/else", ["amc2023"])
    (run,) = evrun.plan(base, evrun.BENCH, evrun.expand_tasks(["sparkle_bench"]))
    assert run.skipped == ["aime2024", "math500"]
    assert run.tasks == ["amc2023", "gsm8k_spk", "olympiad_bench"]
    for changed in ({"samples": 16}, {"limit": 1}, {"family": "srl"}, {"max_gen_toks": 512}, {"force": True}):
        (other,) = evrun.plan(replace(base, **changed), evrun.BENCH, ["aime2024"])
        assert other.tasks == ["aime2024"], changed  # other settings: not done
    # Results without the runner's record (lm-eval run by hand) count on model, task and samples.
    _write_results(out, model, ["amc2023", "gsm8k_spk", "olympiad_bench"], date="2026-01-02T00-00-00.000000")
    (done,) = evrun.plan(base, evrun.BENCH, evrun.expand_tasks(None))
    assert done.tasks == [] and done.prompts == {}
    assert evrun.execute([done], base, evrun.BENCH) == 0  # nothing to run, nothing written
    assert not (out / "_tasks_k8").exists()


def test_probe_run_does_not_skip_tasks_done_with_other_samples(tiny_model_dir: Path, tmp_path: Path, capsys):
    """The skip bug: `sparkle probe run --repeats 4` after an 8-sample run reported the tasks as done."""
    out = tmp_path / "probes"
    model = str(tiny_model_dir.resolve())
    tasks = ["sparkle_plan_gsm8k", "sparkle_vanilla_gsm8k"]
    _write_results(out, model, tasks, samples=8)
    argv = ["probe", "run", "--model", str(tiny_model_dir), "--out", str(out), "--conditions", "vanilla", "plan",
            "--benchmarks", "gsm8k", "--dry-run"]  # fmt: skip
    assert main(argv) == 0  # 8 samples: done
    assert capsys.readouterr().out == ""
    for spelling in ("--repeats", "--samples"):
        assert main([*argv, spelling, "4"]) == 0
        (line,) = capsys.readouterr().out.splitlines()
        assert "--tasks sparkle_vanilla_gsm8k,sparkle_plan_gsm8k " in line
        assert str(out / "_tasks_k4") in line


def test_other_sample_counts_get_their_task_folder_when_the_run_starts(
    tiny_model_dir: Path, tmp_path: Path, data_dir: Path
):
    settings = _settings(
        [str(tiny_model_dir)], tmp_path, samples=16, max_gen_toks=512, data_dir=str(data_dir)
    )
    (run,) = evrun.plan(settings, evrun.BENCH, ["gsm8k_spk"])
    include = Path(run.command[run.command.index("--include_path") + 1])
    assert include == tmp_path / "_tasks_k16" and not include.exists()  # planning writes nothing
    assert run.max_gen_toks == 512
    assert evrun.execute([run], settings, evrun.BENCH, dry_run=True) == 0
    assert not include.exists()  # nor does a dry run
    done = replace(run, tasks=[])  # nothing to launch: the folder is still written only for real runs
    assert evrun.execute([done], settings, evrun.BENCH) == 0 and not include.exists()


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("missing", "no such folder"),
        ("no_config", "config.json is missing"),
        ("verl_checkpoint", "fsdp2hf"),
        ("bad_task", "unknown benchmark task 'gsm8k'"),
        ("no_models", "PATH_TO_STAGE_ONE_MODEL"),
        ("bad_data_dir", "--data-dir"),
        ("bad_samples", "--samples must be at least 1"),
        ("tp_over_gpus", "--tp 4 needs 4 GPUs but 2 are visible"),
    ],
)
def test_plan_errors_before_anything_runs(
    tmp_path: Path, tiny_model_dir: Path, setup: str, message: str, monkeypatch
):
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
    elif setup == "bad_samples":
        kwargs = {"samples": 0}
    elif setup == "tp_over_gpus":
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
        kwargs = {"tp": 4}
    with pytest.raises(SparkleError, match=message):
        evrun.plan(_settings(models, tmp_path / "out", **kwargs), evrun.BENCH, evrun.expand_tasks(tasks))
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("visible", "gpus"),
    [(None, None), ("", 0), ("0", 1), ("0,1,2,3,4,5,6,7", 8), ("GPU-1a2b,GPU-3c4d", 2), ("0,1,-1,3", 2)],
)
def test_visible_gpus(monkeypatch, visible, gpus):
    if visible is None:
        monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
        import torch

        gpus = torch.cuda.device_count()  # this machine's real count
    else:
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    assert evrun.visible_gpus() == gpus


@pytest.mark.parametrize(
    ("backend", "gpus", "tp", "dp", "replicas"),
    [("vllm", 8, 1, None, 8), ("vllm", 8, 2, None, 4), ("vllm", 8, 4, None, 2), ("vllm", 8, 3, None, 2),
     ("vllm", 8, 2, 1, 1), ("vllm", 0, 1, None, 1), ("vllm", 0, 2, None, 1), ("hf", 8, 1, None, 1)],
)  # fmt: skip
def test_data_parallel_defaults_to_every_visible_gpu(backend, gpus, tp, dp, replicas):
    assert evrun.data_parallel(backend, tp, dp, gpus=gpus) == replicas


def _lm_eval_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(sys.executable)]


def test_eight_gpus_every_runner_uses_all_of_them(
    tiny_model_dir: Path, tmp_path: Path, data_dir: Path, repo_root: Path, monkeypatch, capsys
):
    """The lm-eval command lines on a machine with 8 GPUs (only the count is faked): `eval run`, `probe
    run`, eval_all_vllm.sh and the pipeline's evaluation steps all run 8 GPUs (replicas × TP)."""
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", EIGHT_GPUS)
    model = str(tiny_model_dir)
    common = ["--model", model, "--dry-run", "--data-dir", str(data_dir)]
    lines = {}
    assert main(["eval", "run", *common, "--out", str(tmp_path / "a"), "--tasks", "aime2024"]) == 0
    (lines["eval run"],) = _lm_eval_lines(capsys.readouterr().out)
    assert (
        main(["eval", "run", *common, "--out", str(tmp_path / "b"), "--tasks", "aime2024", "--tp", "2"]) == 0
    )
    (lines["eval run --tp 2"],) = _lm_eval_lines(capsys.readouterr().out)
    preview = tmp_path / "preview"
    preview.mkdir()
    (preview / "sparkle_preview.jsonl").write_text("", encoding="utf-8")
    assert main(["probe", "run", "--model", model, "--dry-run", "--data-dir", str(preview), "--out",
                 str(tmp_path / "c"), "--conditions", "plan", "--benchmarks", "gsm8k"]) == 0  # fmt: skip
    (lines["probe run"],) = _lm_eval_lines(capsys.readouterr().out)

    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "OUTPUT_DIR": str(tmp_path / "d"), "PATH_TO_STAGE_ONE_MODEL": model}  # fmt: skip
    script = repo_root / "scripts" / "eval" / "eval_all_vllm.sh"
    done = subprocess.run(["bash", str(script), "--dry-run", "--tasks", "aime2024", "--data-dir", str(data_dir)],
                          env=env, capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr
    (lines["eval_all_vllm.sh"],) = _lm_eval_lines(done.stdout)

    # The pipeline's evaluation steps, run as printed (the converted models replaced by the tiny one).
    out = tmp_path / "pipeline"
    for name in ("stage1", "stage2-aug"):
        (out / "models").mkdir(parents=True, exist_ok=True)
        shutil.copytree(tiny_model_dir, out / "models" / name)
    assert main(["pipeline", "--out", str(out), "--only", "evaluate", "probes", "--dry-run"]) == 0
    evaluate, probes = [shlex.split(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert evaluate[3:5] == ["eval", "run"] and probes[3:5] == ["probe", "run"]
    assert "--dp" not in evaluate and "--dp" not in probes  # left to the runner: every visible GPU
    assert main([*evaluate[3:], "--dry-run", "--tasks", "aime2024", "--data-dir", str(data_dir)]) == 0
    pipeline_eval = _lm_eval_lines(capsys.readouterr().out)
    assert len(pipeline_eval) == 2  # stage one and stage two
    lines["pipeline (evaluate)"] = pipeline_eval[0]

    for name, line in lines.items():
        args = _model_args(shlex.split(line))
        gpus = int(args["tensor_parallel_size"]) * int(args["data_parallel_size"])
        assert gpus == 8, (name, line)
    assert _model_args(shlex.split(lines["eval run --tp 2"]))["data_parallel_size"] == "4"
    with capsys.disabled():  # shown in the test log: what an 8-GPU node runs
        print("\n" + "\n".join(f"{name}: {line}" for name, line in lines.items()))


def test_cli_takes_models_from_the_stage_variables(tiny_model_dir: Path, tmp_path: Path, monkeypatch, capsys):
    monkeypatch.setenv("PATH_TO_STAGE_ONE_MODEL", str(tiny_model_dir))
    monkeypatch.delenv("PATH_TO_STAGE_TWO_MODEL", raising=False)
    assert main(["eval", "run", "--out", str(tmp_path / "out"), "--tasks", "aime2024", "--dry-run"]) == 0
    lines = _lm_eval_lines(capsys.readouterr().out)
    assert len(lines) == 1 and f"pretrained={tiny_model_dir.resolve()}," in lines[0]
    monkeypatch.setenv("PATH_TO_STAGE_TWO_MODEL", str(tmp_path / "absent"))
    assert main(["eval", "run", "--out", str(tmp_path / "out"), "--dry-run"]) == 2


@pytest.mark.parametrize(
    "old",
    [
        ["--models", "{m}", "--tensor-parallel-size", "2", "--data-parallel-size", "3", "--output", "{o}"],
        ["--model", "{m}", "--tp", "2", "--dp", "3", "--out", "{o}"],
    ],
)
def test_old_spellings_stay_hidden_aliases(tiny_model_dir: Path, tmp_path: Path, capsys, old: list[str]):
    argv = [a.format(m=tiny_model_dir, o=tmp_path / "out") for a in old]
    assert main(["eval", "run", *argv, "--tasks", "aime2024", "--dry-run"]) == 0
    (line,) = _lm_eval_lines(capsys.readouterr().out)
    args = _model_args(shlex.split(line))
    assert (args["tensor_parallel_size"], args["data_parallel_size"]) == ("2", "3")
    assert f"--output_path {tmp_path / 'out'}" in line


@pytest.mark.parametrize("command", [["eval", "run"], ["probe", "run"]])
def test_both_runners_show_the_same_flags(command: list[str], capsys):
    with pytest.raises(SystemExit):
        main([*command, "--help"])
    text = capsys.readouterr().out
    for flag in ("--model MODEL", "--out", "--samples", "--family", "--tp", "--dp", "--data-dir", "--limit"):
        assert flag in text, flag
    for hidden in ("--models", "--repeats", "--tensor-parallel-size", "--data-parallel-size", "--output "):
        assert hidden not in text, hidden


def test_eval_all_vllm_script(repo_root: Path, tiny_model_dir: Path, tmp_path: Path):
    script = repo_root / "scripts" / "eval" / "eval_all_vllm.sh"
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "OUTPUT_DIR": str(tmp_path / "out"),
        "TP_SIZE": "2",
        "DP_SIZE": "3",
    }
    env.pop("PATH_TO_STAGE_ONE_MODEL", None)
    env.pop("PATH_TO_STAGE_TWO_MODEL", None)
    missing = subprocess.run(["bash", str(script), "--dry-run"], env=env, capture_output=True, text=True)
    assert missing.returncode == 2 and "PATH_TO_STAGE_ONE_MODEL" in missing.stderr
    env["PATH_TO_STAGE_TWO_MODEL"] = str(tiny_model_dir)
    done = subprocess.run(["bash", str(script), "--dry-run"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    (line,) = _lm_eval_lines(done.stdout)
    assert "--model vllm" in line and "tensor_parallel_size=2" in line and "data_parallel_size=3" in line
    assert "max_model_len=4096" in line
    assert not (tmp_path / "out" / "report").exists()  # a dry run makes no report


@pytest.mark.slow
def test_real_lm_eval_run_with_the_hf_backend(tiny_model_dir: Path, tiny_tokenizer, tmp_path: Path, capsys):
    """lm-eval itself (subprocess, hf backend, chat template) on two local tasks: results + samples files
    in lm-eval's layout with the runner's record (settings, prompt figures) read back from them, one prompt
    too long for the context counted; `sparkle report` and `sparkle rescore` read the outputs; a second run
    skips both tasks."""
    from sparkle.evaluate.results import read_samples

    data = tmp_path / "data"
    data.mkdir()
    long_problem = "Find x such that " + " ".join(f"{i} + {i} = 2 * {i}" for i in range(30)) + "."
    (data / "aime2024.jsonl").write_text(_bench_rows("aime2024", ["What is 1 + 1?", long_problem]), "utf-8")
    (data / "gsm8k.jsonl").write_text(_bench_rows("gsm8k", ["What is 0 + 0?", "What is 1 + 1?"]), "utf-8")
    longest = _chat_tokens(tiny_tokenizer, plain_prompt(long_problem))
    assert 504 < longest < 1000  # longer than the 512-token context minus the 8 generated tokens

    out = tmp_path / "out"
    argv = ["eval", "run", "--backend", "hf", "--model", str(tiny_model_dir), "--tasks", "aime2024", "gsm8k_spk",
            "--samples", "2", "--max-model-len", "512", "--max-gen-toks", "8", "--batch-size", "4",
            "--data-dir", str(data), "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    written = capsys.readouterr().out.split()
    model = str(tiny_model_dir.resolve())
    found = collect_results([out])
    assert [str(r.results_file) for r in found[:1]] == written  # the command prints what it wrote
    assert {(r.model, r.task) for r in found} == {(model, "aime2024"), (model, "gsm8k_spk")}
    by_task = {r.task: r for r in found}
    assert (by_task["aime2024"].longest_prompt, by_task["aime2024"].prompts_too_long) == (longest, 1)
    assert by_task["gsm8k_spk"].prompts_too_long == 0
    for r in found:
        assert r.settings == {"samples": 2, "family": "sparkle", "limit": None, "max_model_len": 512,
                              "max_gen_toks": 8}  # fmt: skip
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

    assert main([*argv, "--dry-run"]) == 0  # everything done: no lm-eval command
    assert sys.executable not in capsys.readouterr().out

    assert main(["report", str(out), "--out", str(tmp_path / "report")]) == 0
    md = (tmp_path / "report" / "main_table.md").read_text(encoding="utf-8")
    assert "# Benchmark results: Avg@2 (%)" in md and f"`{model}`" in md
    assert main(["rescore", str(out), "--policy", "train"]) == 0
    assert "| train |" in capsys.readouterr().out
