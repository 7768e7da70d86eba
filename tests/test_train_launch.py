"""The launch scripts and their Python side: ``--dry-run`` prints the composed config and the exact
``main_ppo`` command on data built by `sparkle.data`; Stage 2 needs a Stage-1 model; resume, wandb and
multi-node handling; the log tee. The trainer itself is never started (a stand-in command is tee'd)."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from sparkle.errors import SparkleError

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run folder with data/ built by `sparkle data stage-one` and `stage-two` from tiny local sources."""
    from sparkle.data.stage_one import build_stage_one
    from sparkle.data.stage_two import build_stage_two

    root = tmp_path_factory.mktemp("run")
    rows = [
        {"problem": f"What is {i} + 1?", "solution": f"{i} + 1 = {i + 1}.", "answer": str(i + 1)}
        for i in range(20)
    ]
    source, hard = root / "src.jsonl", root / "hard.jsonl"
    source.write_text("".join(json.dumps(row) + "\n" for row in rows))
    hard.write_text("".join(json.dumps({**row, "problem": "Hard: " + row["problem"]}) + "\n" for row in rows))
    build_stage_one(root / "data", source, source)
    for variant in ("aug", "hard", "mix"):
        build_stage_two(root / "data", variant=variant, source=hard, easy_source=source)
    return root


def _env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in (
            "PATH_TO_STAGE_ONE_MODEL",
            "MODEL_PATH",
            "NNODES",
            "GPUS_PER_NODE",
            "WANDB_API_KEY",
            "RAY_ADDRESS",
        )
    }
    env.update(PYTHON=sys.executable, WANDB_MODE="disabled", **extra)
    return env


def _script(
    repo_root: Path, name: str, args: list[str], cwd: Path, **env: str
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(repo_root / "scripts" / "train" / f"{name}.sh"), *args],
        cwd=cwd,
        env=_env(**env),
        capture_output=True,
        text=True,
        timeout=300,
    )


def _command(stdout: str) -> list[str]:
    lines = stdout.splitlines()
    return shlex.split(lines[lines.index("# launch command") + 1])


def test_stage_one_dry_run(repo_root: Path, workdir: Path, tiny_model_dir: Path) -> None:
    import yaml

    result = _script(
        repo_root,
        "stage_one",
        [
            "--dry-run",
            "--model",
            str(tiny_model_dir),
            "--nnodes",
            "2",
            "--gpus-per-node",
            "4",
            "trainer.total_epochs=3",
        ],
        workdir,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    config = yaml.safe_load(out[out.index("# composed config") : out.index("# launch command")])
    assert config["actor_rollout_ref"]["rollout"]["n"] == 32
    assert config["actor_rollout_ref"]["actor"]["kl_loss_coef"] == 0.001
    assert config["trainer"]["total_epochs"] == 3  # the user's override wins over the config
    assert (config["trainer"]["nnodes"], config["trainer"]["n_gpus_per_node"]) == (2, 4)
    assert config["trainer"]["logger"] == ["console"]
    command = _command(out)
    assert command[:3] == [sys.executable, "-m", "verl.trainer.main_ppo"]
    assert f"--config-path={repo_root / 'configs'}" in command and "--config-name=stage_one" in command
    assert f"data.train_files={workdir / 'data' / 'sparkle_dsr40k.parquet'}" in command
    assert f"data.val_files={workdir / 'data' / 'sparkle_aime2024.parquet'}" in command
    assert f"actor_rollout_ref.model.path={tiny_model_dir}" in command
    assert [c for c in command if c.startswith("trainer.total_epochs=")] == ["trainer.total_epochs=3"]
    assert f"# log: {workdir / 'logs'}/sparkle_stage_one_" in out
    assert "# note: trainer.nnodes=2 needs a Ray cluster: on every node export the same RAY_AUTH_MODE" in out
    assert "`ray start --head --port=6379`" in out
    from sparkle.train.budget import flash_attn_status

    if flash_attn_status()[0] is None:
        assert "# note: flash-attn is not installed" in out and "--attn sdpa" in out
    assert not (workdir / "logs").exists()  # a dry run starts nothing and writes nothing


@pytest.mark.parametrize("variant", ["aug", "hard", "mix"])
def test_stage_two_dry_run_takes_the_model_from_the_environment(
    workdir: Path, tiny_model_dir: Path, variant: str, monkeypatch
) -> None:
    from sparkle.train.launch import plan_launch

    monkeypatch.setenv("PATH_TO_STAGE_ONE_MODEL", str(tiny_model_dir))
    monkeypatch.chdir(workdir)
    plan = plan_launch(f"stage_two_{variant}", model_env="PATH_TO_STAGE_ONE_MODEL", local_model=True)
    files = {"aug": "aug_all", "hard": "hard", "mix": "mix"}
    assert plan.config.data.train_files == str(
        workdir / "data" / f"sparkle_hardmath_{files[variant]}_train.parquet"
    )
    assert Path(plan.config.data.train_files).is_file()
    assert plan.config.actor_rollout_ref.model.path == str(tiny_model_dir)
    assert plan.config.actor_rollout_ref.actor.kl_loss_coef == 0.01
    assert plan.experiment == f"sparkle_stage_two_{variant}"


def test_stage_two_script_dry_run(
    repo_root: Path, workdir: Path, tiny_model_dir: Path, tmp_path: Path
) -> None:
    import yaml

    result = _script(
        repo_root, "stage_two_aug", ["--dry-run"], workdir, PATH_TO_STAGE_ONE_MODEL=str(tiny_model_dir)
    )
    assert result.returncode == 0, result.stderr[-2000:]
    command = _command(result.stdout)
    assert "--config-name=stage_two_aug" in command
    assert f"actor_rollout_ref.model.path={tiny_model_dir}" in command
    # the hyperparameters come from the YAML, not from the command line
    assert not [c for c in command if c.startswith(("actor_rollout_ref.actor.", "trainer.total_epochs"))]
    out = result.stdout
    config = yaml.safe_load(out[out.index("# composed config") : out.index("# launch command")])
    assert config["actor_rollout_ref"]["actor"]["kl_loss_coef"] == 0.01
    assert (config["trainer"]["total_epochs"], config["trainer"]["save_freq"]) == (350, 800)

    # MODEL_PATH (a folder with a space in its name) wins over $PATH_TO_STAGE_ONE_MODEL
    spaced = tmp_path / "stage 1 model"
    spaced.symlink_to(tiny_model_dir, target_is_directory=True)
    result = _script(
        repo_root,
        "stage_two_aug",
        ["--dry-run"],
        workdir,
        PATH_TO_STAGE_ONE_MODEL="/nowhere",
        MODEL_PATH=str(spaced),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    # the folder is resolved, so the space survived the script
    assert f"actor_rollout_ref.model.path={tiny_model_dir.resolve()}" in _command(result.stdout)


@pytest.mark.parametrize(
    ("env", "args", "expected"),
    [
        ({"NNODES": "2", "GPUS_PER_NODE": "4"}, [], (2, 4)),
        # the option and a Hydra override win over the environment
        ({"NNODES": "2", "GPUS_PER_NODE": "4"}, ["--nnodes", "3", "trainer.n_gpus_per_node=2"], (3, 2)),
    ],
)
def test_cluster_size_comes_from_the_environment(
    repo_root: Path, workdir: Path, tiny_model_dir: Path, env: dict[str, str], args: list[str], expected
) -> None:
    import yaml

    result = _script(
        repo_root, "stage_one", ["--dry-run", "--model", str(tiny_model_dir), *args], workdir, **env
    )
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    config = yaml.safe_load(out[out.index("# composed config") : out.index("# launch command")])
    assert (config["trainer"]["nnodes"], config["trainer"]["n_gpus_per_node"]) == expected


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (
            [],
            {},
            "no model: Stage 2 starts from the merged Stage-1 model; pass --model DIR or set PATH_TO_STAGE_ONE_MODEL",
        ),
        (["--model", "/nowhere/stage1"], {}, "--model=/nowhere/stage1: the path does not exist"),
        (
            [],
            {"PATH_TO_STAGE_ONE_MODEL": "/nowhere/stage1"},
            "\\$PATH_TO_STAGE_ONE_MODEL=/nowhere/stage1: the path does not exist",
        ),
        (["--model", "sparkle-reasoning/SparkleRL-7B-Stage1"], {}, "the path does not exist"),
    ],
)
def test_stage_two_script_needs_a_stage_one_model(
    repo_root: Path, workdir: Path, args: list[str], env: dict[str, str], message: str
) -> None:
    import re

    result = _script(repo_root, "stage_two_hard", ["--dry-run", *args], workdir, **env)
    assert result.returncode == 2
    assert re.search(message, result.stderr), result.stderr[-1500:]
    assert "Traceback" not in result.stderr


def test_misspelled_override_stops_the_launch(repo_root: Path, workdir: Path, tiny_model_dir: Path) -> None:
    result = _script(
        repo_root, "smoke", ["--dry-run", "--model", str(tiny_model_dir), "trainer.total_epoch=2"], workdir
    )
    assert result.returncode == 2
    assert "Did you mean trainer.total_epochs?" in result.stderr


@pytest.mark.parametrize(
    ("model", "ok"),
    [
        ("Qwen/Qwen2.5-Math-7B", True),  # a Hub id passes through to verl
        ("./no/such/dir", False),
        ("/abs/missing", False),
        ("not-a-hub-id", False),
    ],
)
def test_stage_one_model_is_a_hub_id_or_an_existing_folder(model: str, ok: bool) -> None:
    from sparkle.train.launch import resolve_model

    if ok:
        assert resolve_model(model, None, local_only=False) == model
    else:
        with pytest.raises(SparkleError, match="does not exist"):
            resolve_model(model, None, local_only=False)


def test_a_folder_without_config_json_is_not_a_model(tmp_path: Path) -> None:
    from sparkle.train.launch import resolve_model

    with pytest.raises(SparkleError, match="no config.json.*sparkle convert"):
        resolve_model(str(tmp_path), None, local_only=True)


def test_resume_wandb_and_quoting(workdir: Path, tiny_model_dir: Path, tmp_path: Path, monkeypatch) -> None:
    from sparkle.train.launch import plan_launch

    monkeypatch.chdir(workdir)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    plan = plan_launch("smoke", model=str(tiny_model_dir))
    assert plan.resume_step is None
    assert list(plan.config.trainer.logger) == ["console", "wandb"]
    # verl's own marker of the latest checkpoint: the next launch resumes there (trainer.resume_mode=auto)
    plan.checkpoint_dir.mkdir(parents=True)
    (plan.checkpoint_dir / "latest_checkpointed_iteration.txt").write_text("4")
    again = plan_launch("smoke", ["trainer.logger=[console]"], model=str(tiny_model_dir))
    assert again.resume_step == 4 and again.config.trainer.resume_mode == "auto"
    assert list(again.config.trainer.logger) == ["console"]  # the user's choice wins
    # paths with characters Hydra would parse are quoted in the overrides
    odd = tmp_path / "my data, v2"
    odd.mkdir()
    (odd / "train.parquet").write_bytes((workdir / "data" / "sparkle_dsr40k.parquet").read_bytes())
    quoted = plan_launch("smoke", [f"data.train_files='{odd / 'train.parquet'}'"], model=str(tiny_model_dir))
    assert quoted.config.data.train_files == str(odd / "train.parquet")


def test_ray_cluster_hint(tmp_path: Path, monkeypatch) -> None:
    from sparkle.train import launch

    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.setattr(launch, "RAY_CLUSTER_FILE", tmp_path / "ray_current_cluster")
    assert launch.ray_cluster_hint(1) is None
    assert "ray start --head" in launch.ray_cluster_hint(2)
    (tmp_path / "ray_current_cluster").write_text("10.0.0.1:6379")
    assert launch.ray_cluster_hint(2) is None
    monkeypatch.setattr(launch, "RAY_CLUSTER_FILE", tmp_path / "absent")
    monkeypatch.setenv("RAY_ADDRESS", "10.0.0.1:6379")
    assert launch.ray_cluster_hint(4) is None


def test_run_plan_tees_the_output_to_the_log(tmp_path: Path, capsys) -> None:
    from sparkle.train.launch import LaunchPlan, run_plan

    command = [
        sys.executable,
        "-c",
        "import sys; print('step 1'); print('oops', file=sys.stderr); sys.exit(3)",
    ]
    plan = LaunchPlan(
        command=command,
        config=None,
        experiment="x",
        log_path=tmp_path / "logs" / "x_1.log",
        checkpoint_dir=tmp_path,
        resume_step=None,
    )
    assert run_plan(plan) == 3
    assert capsys.readouterr().out == "step 1\noops\n"
    assert plan.log_path.read_text() == "$ " + shlex.join(command) + "\nstep 1\noops\n"


def test_cli_takes_options_and_overrides_in_any_order() -> None:
    from sparkle.cli import build_parser

    args = build_parser().parse_args(
        ["train", "check", "--print-config", "stage_one", "a=1", "--max-rows", "3", "b=2"]
    )
    assert (args.config, args.overrides, args.print_config, args.max_rows) == (
        "stage_one",
        ["a=1", "b=2"],
        True,
        3,
    )
    args = build_parser().parse_args(
        ["train", "launch", "stage_two_aug", "x=1", "--dry-run", "--nnodes", "2", "y=2"]
    )
    assert (args.overrides, args.dry_run, args.nnodes) == (["x=1", "y=2"], True, 2)


def _launch_args(*argv: str):
    from sparkle.train.launch import build_parser

    return build_parser().parse_intermixed_args(list(argv))


def test_launch_refuses_missing_data_and_a_missing_ray_cluster(
    workdir: Path, tiny_model_dir: Path, tmp_path: Path, monkeypatch
) -> None:
    """Both are found before anything starts (--python /bin/false: nothing could run even if they were not)."""
    from sparkle.train import launch

    monkeypatch.chdir(tmp_path)
    args = _launch_args("smoke", "--model", str(tiny_model_dir), "--python", "/bin/false")
    with pytest.raises(
        SparkleError, match=f"{tmp_path / 'data' / 'sparkle_dsr40k.parquet'}.*do not exist.*sparkle data"
    ):
        launch.launch(args)
    monkeypatch.chdir(workdir)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.setattr(launch, "RAY_CLUSTER_FILE", tmp_path / "absent")
    args = _launch_args("smoke", "--model", str(tiny_model_dir), "--python", "/bin/false", "--nnodes", "2")
    with pytest.raises(SparkleError, match="needs a Ray cluster"):
        launch.launch(args)
    assert not (workdir / "logs").exists()


def test_launch_runs_the_command_and_tees_it(
    workdir: Path, tiny_model_dir: Path, tmp_path: Path, capsys, monkeypatch
) -> None:
    """The launch path end to end, with a stand-in interpreter in place of the GPU-only trainer."""
    from sparkle.train.budget import flash_attn_status
    from sparkle.train.launch import launch

    stand_in = tmp_path / "python"
    stand_in.write_text(
        '#!/bin/sh\necho "trainer got $# arguments: $2"\necho "ray job: $RAY_JOB_CONFIG_JSON_ENV_VAR"\nexit 0\n'
    )
    stand_in.chmod(0o755)
    monkeypatch.chdir(workdir)
    monkeypatch.setenv("SPARKLE_REWARD_TIMEOUT", "7")
    monkeypatch.setenv("WANDB_API_KEY", "not-in-the-log-line")
    monkeypatch.setenv("WANDB_MODE", "disabled")
    args = [
        "smoke",
        "--model",
        str(tiny_model_dir),
        "--python",
        str(stand_in),
        "--log-dir",
        str(tmp_path / "logs"),
    ]
    if flash_attn_status()[0] is None:
        # without flash-attn the launch stops before anything starts and names the fallback
        with pytest.raises(SparkleError, match="flash-attn.*--attn sdpa"):
            launch(_launch_args(*args))
        assert not (tmp_path / "logs").exists()
    status = launch(_launch_args(*args, "--attn", "sdpa"))
    assert status == 0
    out = capsys.readouterr().out
    assert "trainer got" in out
    (job_line,) = [line for line in out.splitlines() if line.startswith("ray job: ")]
    job = json.loads(job_line.removeprefix("ray job: "))
    assert job["runtime_env"]["env_vars"]["SPARKLE_REWARD_TIMEOUT"] == "7"
    assert job["runtime_env"]["env_vars"]["WANDB_API_KEY"] == "not-in-the-log-line"
    (log_file,) = (tmp_path / "logs").glob("sparkle_smoke_*.log")
    text = log_file.read_text()
    assert text.startswith("$ ")  # the log opens with the exact command
    (command_line,) = [line for line in text.splitlines() if line.startswith("$ ")]
    command = shlex.split(command_line.removeprefix("$ "))
    assert command[:4] == [
        str(stand_in),
        "-m",
        "verl.trainer.main_ppo",
        f"--config-path={Path(__file__).resolve().parents[1] / 'configs'}",
    ]
    assert f"\ntrainer got {len(command) - 1} arguments: verl.trainer.main_ppo\n" in text
    assert "not-in-the-log-line" not in command_line
    assert "+actor_rollout_ref.model.override_config.attn_implementation=sdpa" in command
    assert "actor_rollout_ref.model.use_remove_padding=false" in command


@pytest.mark.parametrize(
    ("content", "step"),
    [(None, None), ("12\n", 12), ("  7 ", 7), ("", None), ("global_step_3", None)],
)
def test_checkpoint_tracker(tmp_path: Path, content: str | None, step: int | None) -> None:
    """verl's latest_checkpointed_iteration.txt: the step a rerun resumes from; absent or garbled is None."""
    from sparkle.train.tracker import TRACKER_FILE, latest_step, step_folder, tracker_path

    assert tracker_path(tmp_path) == tmp_path / TRACKER_FILE == tmp_path / "latest_checkpointed_iteration.txt"
    if content is not None:
        (tmp_path / TRACKER_FILE).write_text(content)
    assert latest_step(tmp_path) == step
    assert step_folder(tmp_path, 5) == tmp_path / "global_step_5"
