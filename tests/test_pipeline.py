"""`sparkle pipeline`: the plan it prints, real data steps on local files, resume and failures."""

from __future__ import annotations

import json
import shutil

import pytest

from sparkle.cli import main
from sparkle.demo import DEMO_DATA


def _commands(capsys) -> list[str]:
    return [line for line in capsys.readouterr().out.splitlines() if line.strip()]


def test_dry_run_prints_the_whole_plan_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["pipeline", "--out", str(out), "--variant", "hard", "--nnodes", "2", "--dry-run"]) == 0
    lines = _commands(capsys)
    assert len(lines) == 12

    def command(fragment: str) -> str:
        (line,) = [line for line in lines if fragment in line]
        return line

    data_two = command("data stage-two --variant hard")
    stage_one = command("stage_one.sh ")
    assert "stage_one.sh --model Qwen/Qwen2.5-Math-7B --nnodes 2 --gpus-per-node 8" in stage_one
    assert f"trainer.default_local_dir={out / 'checkpoints' / 'stage_one'}" in stage_one
    convert_one = command(str(out / "checkpoints" / "stage_one" / "global_step_<latest>"))
    assert "convert --fsdp_path" in convert_one
    stage_two = command("stage_two_hard.sh ")
    assert "stage_two_hard.sh --model " + str(out / "models" / "stage1") in stage_two
    assert "sparkle_hardmath_hard_train.parquet" in stage_two
    evaluate, probes = command("eval run --model"), command("probe run --model")
    assert "--dp" not in evaluate  # evaluation on every visible GPU unless --dp is given
    steps = [data_two, stage_one, convert_one, stage_two, evaluate, probes]
    assert [lines.index(line) for line in steps] == sorted(lines.index(line) for line in steps)
    assert not out.exists()


def test_attention_fallback_reaches_both_training_stages(tmp_path, capsys):
    argv = [
        "pipeline",
        "--out",
        str(tmp_path),
        "--only",
        "stage_one",
        "stage_two",
        "--attn",
        "sdpa",
        "--dry-run",
    ]
    assert main(argv) == 0
    training = [line for line in _commands(capsys) if "scripts/train/stage_" in line]
    assert len(training) == 2 and all("--attn sdpa" in line for line in training)


def test_evaluation_gets_tp_and_dp(tmp_path, capsys):
    argv = ["pipeline", "--out", str(tmp_path), "--only", "evaluate", "probes", "--dry-run"]
    assert main([*argv, "--tp", "2", "--dp", "4"]) == 0
    for line in _commands(capsys):
        assert line.endswith("--backend vllm --tp 2 --dp 4")


def test_data_step_runs_records_and_resumes(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["pipeline", "--out", str(out), "--data-dir", str(DEMO_DATA), "--only", "data"]
    assert main(argv) == 0
    assert len(_commands(capsys)) == 4
    for name in (
        "sparkle_dsr40k.parquet",
        "sparkle_hardmath_aug_all_train.parquet",
        "gsm8k.jsonl",
        "sparkle_preview.jsonl",
    ):
        assert (out / "data" / name).is_file(), name
    state = json.loads((out / "pipeline_state.json").read_text())
    assert set(state["done"]) == {"data"}
    assert main(argv) == 0  # second run: the finished step is skipped
    assert _commands(capsys) == []


def test_a_failing_step_is_not_recorded(tmp_path, capsys):
    data = tmp_path / "inputs"
    shutil.copytree(DEMO_DATA, data)
    (data / "train.jsonl").write_text('{"problem": "What is 1+1?", "solution": "2"}\n')  # no answer
    out = tmp_path / "run"
    assert main(["pipeline", "--out", str(out), "--data-dir", str(data), "--only", "data"]) == 2
    assert "step data failed" in capsys.readouterr().err
    assert not (out / "pipeline_state.json").exists()


def test_convert_without_a_checkpoint_says_so(tmp_path, capsys):
    assert main(["pipeline", "--out", str(tmp_path), "--only", "convert_stage_one"]) == 2
    assert "latest_checkpointed_iteration.txt: no checkpoint to convert" in capsys.readouterr().err


@pytest.mark.parametrize("content", ["{oops", '{"nothing": 1}'])
def test_a_damaged_state_file_is_a_clear_error(tmp_path, capsys, content):
    (tmp_path / "pipeline_state.json").write_text(content)
    assert main(["pipeline", "--out", str(tmp_path), "--only", "data"]) == 2
    assert "pipeline_state.json" in capsys.readouterr().err


def test_pipeline_and_demo_share_one_step_table(tmp_path, capsys):
    """The data, runner and report command lines come from sparkle.steps for both commands."""
    from sparkle.pipeline import local_sources
    from sparkle.steps import data_commands

    out = tmp_path / "run"
    argv = ["pipeline", "--out", str(out), "--data-dir", str(DEMO_DATA), "--only", "data", "--dry-run"]
    assert main(argv) == 0
    printed = [line.split(" -m sparkle ", 1)[1] for line in _commands(capsys)]
    expected = data_commands(out.resolve() / "data", local_sources(DEMO_DATA.resolve()))
    assert printed == [" ".join(command) for command in expected.values()]
