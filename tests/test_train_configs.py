"""The stage configs: composed by Hydra on the installed verl's ``ppo_trainer``, accepted by verl's own
``validate_config``, and equal to the paper's values one by one; the shell scripts name no hyperparameter, yet
what they launch resolves to the paper's values; verl's ``main_ppo --cfg job`` composes the launch command the
scripts build; the ``verl/`` folder stays a boundary."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from sparkle.errors import SparkleError

pytestmark = pytest.mark.slow

STAGE_TWO = ("stage_two_aug", "stage_two_hard", "stage_two_mix")
STAGES = ("stage_one", *STAGE_TWO)

# The paper's values, one row per value, the same for every stage.
COMMON = [
    ("algorithm.adv_estimator", "grpo"),
    ("data.train_batch_size", 128),
    ("data.max_prompt_length", 1024),
    ("data.max_response_length", 3000),
    ("data.val_files", "data/sparkle_aime2024.parquet"),
    ("data.seed", 1),
    ("data.filter_overlong_prompts", True),
    ("data.shuffle", True),
    ("actor_rollout_ref.rollout.n", 32),
    ("actor_rollout_ref.rollout.temperature", 0.6),
    ("actor_rollout_ref.actor.optim.lr", 1e-6),
    ("actor_rollout_ref.actor.ppo_mini_batch_size", 64),
    ("actor_rollout_ref.actor.use_dynamic_bsz", True),
    ("actor_rollout_ref.actor.ppo_max_token_len_per_gpu", 32768),
    ("actor_rollout_ref.actor.use_kl_loss", True),
    ("actor_rollout_ref.actor.kl_loss_type", "low_var_kl"),
    ("actor_rollout_ref.actor.entropy_coeff", 0.001),
    ("actor_rollout_ref.model.use_remove_padding", True),
    ("actor_rollout_ref.model.enable_gradient_checkpointing", True),
    ("actor_rollout_ref.rollout.name", "vllm"),
    ("actor_rollout_ref.rollout.tensor_model_parallel_size", 1),
    # the paper's 0.8 of what the actor left free, as vLLM V1's fraction of the whole A100-80GB
    ("actor_rollout_ref.rollout.gpu_memory_utilization", 0.75),
    ("actor_rollout_ref.ref.fsdp_config.param_offload", True),
    # greedy validation, as the original ran it
    ("actor_rollout_ref.rollout.val_kwargs.n", 1),
    ("actor_rollout_ref.rollout.val_kwargs.do_sample", False),
    ("actor_rollout_ref.rollout.val_kwargs.temperature", 0.0),
    ("actor_rollout_ref.rollout.val_kwargs.top_p", 1.0),
    ("actor_rollout_ref.rollout.val_kwargs.top_k", -1),
    # dual-clip PPO off; verl 0.9's token-mean aggregation
    ("actor_rollout_ref.actor.clip_ratio_c", 1e9),
    ("actor_rollout_ref.actor.loss_agg_mode", "token-mean"),
    # the last 3 checkpoints are kept
    ("trainer.max_actor_ckpt_to_keep", 3),
    ("trainer.test_freq", 20),
    ("trainer.nnodes", 1),
    ("trainer.n_gpus_per_node", 8),
    ("trainer.resume_mode", "auto"),
    ("trainer.val_before_train", True),
    ("reward.custom_reward_function.path", "pkg://sparkle.reward"),
    ("reward.custom_reward_function.name", "compute_score"),
    ("reward.custom_reward_function.reward_kwargs.policy", "train"),
    ("reward.custom_reward_function.reward_kwargs.reading", "chat"),
    # the ignored legacy key must stay unset, so nothing looks configured that verl 0.9 drops
    ("custom_reward_function.path", None),
]
PER_STAGE = {
    "stage_one": [
        ("data.train_files", "data/sparkle_dsr40k.parquet"),
        ("actor_rollout_ref.actor.kl_loss_coef", 0.001),
        ("trainer.total_epochs", 30),
        ("trainer.save_freq", 80),
        ("reward.custom_reward_function.reward_kwargs.reward_type", "spk_h"),
    ],
    "stage_two_aug": [
        ("data.train_files", "data/sparkle_hardmath_aug_all_train.parquet"),
        ("reward.custom_reward_function.reward_kwargs.reward_type", "spk_h_aug"),
    ],
    "stage_two_hard": [
        ("data.train_files", "data/sparkle_hardmath_hard_train.parquet"),
        ("reward.custom_reward_function.reward_kwargs.reward_type", "spk_h"),
    ],
    "stage_two_mix": [
        ("data.train_files", "data/sparkle_hardmath_mix_train.parquet"),
        ("reward.custom_reward_function.reward_kwargs.reward_type", "spk_h"),
    ],
}
for _stage in STAGE_TWO:
    PER_STAGE[_stage] += [
        ("actor_rollout_ref.actor.kl_loss_coef", 0.01),
        ("trainer.total_epochs", 350),
        ("trainer.save_freq", 800),
    ]
CASES = [(stage, key, value) for stage in STAGES for key, value in COMMON + PER_STAGE[stage]]

_composed: dict[str, object] = {}


def composed(stage: str, tiny_model_dir: Path):
    """Each stage composed once per test session (with the tiny model as Stage 2's start)."""
    from sparkle.train.compose import compose_config

    if stage not in _composed:
        overrides = [f"actor_rollout_ref.model.path={tiny_model_dir}"] if stage in STAGE_TWO else []
        _composed[stage] = compose_config(stage, overrides)
    return _composed[stage]


@pytest.mark.parametrize(("stage", "key", "expected"), CASES, ids=[f"{s}:{k}" for s, k, _ in CASES])
def test_resolved_value_matches_spec(stage: str, key: str, expected, tiny_model_dir: Path) -> None:
    from omegaconf import OmegaConf

    value = OmegaConf.select(composed(stage, tiny_model_dir), key, throw_on_missing=True)
    if isinstance(expected, float):
        assert value == pytest.approx(expected, rel=1e-12)
    else:
        assert value == expected
        assert type(value) is type(expected)


@pytest.mark.parametrize("stage", [*STAGES, "smoke"])
def test_stage_passes_verls_validate_config(stage: str, tiny_model_dir: Path) -> None:
    from sparkle.train.compose import validate

    validate(composed(stage, tiny_model_dir))


def test_smoke_recipe_is_small_and_otherwise_stage_one(tiny_model_dir: Path) -> None:
    """One GPU, n = 4, a few steps; everything it does not scale down is Stage 1's."""
    from omegaconf import OmegaConf

    smoke = composed("smoke", tiny_model_dir)
    assert (
        smoke.trainer.n_gpus_per_node,
        smoke.actor_rollout_ref.rollout.n,
        smoke.trainer.total_training_steps,
    ) == (
        1,
        4,
        4,
    )
    scaled = {
        "data.train_batch_size",
        "data.max_response_length",
        "actor_rollout_ref.actor.ppo_mini_batch_size",
        "actor_rollout_ref.actor.ppo_max_token_len_per_gpu",
        "actor_rollout_ref.rollout.n",
        "actor_rollout_ref.rollout.gpu_memory_utilization",
        "actor_rollout_ref.rollout.val_kwargs.n",
        "trainer.n_gpus_per_node",
        "trainer.save_freq",
        "trainer.test_freq",
        "trainer.total_epochs",
    }
    for key, value in COMMON + PER_STAGE["stage_one"]:
        if key not in scaled:
            assert OmegaConf.select(smoke, key) == value, key


def test_stage_one_starts_from_the_registry_base_model(tiny_model_dir: Path) -> None:
    from sparkle.registry import BASE_MODEL

    assert composed("stage_one", tiny_model_dir).actor_rollout_ref.model.path == BASE_MODEL


def test_stage_two_model_comes_from_the_environment(monkeypatch, tiny_model_dir: Path) -> None:
    from sparkle.train.compose import compose_config, model_path

    monkeypatch.delenv("PATH_TO_STAGE_ONE_MODEL", raising=False)
    assert model_path(compose_config("stage_two_hard")) is None
    monkeypatch.setenv("PATH_TO_STAGE_ONE_MODEL", str(tiny_model_dir))
    assert model_path(compose_config("stage_two_hard")) == str(tiny_model_dir)


def test_config_by_path_and_by_name_agree(repo_root: Path, tiny_model_dir: Path) -> None:
    from omegaconf import OmegaConf

    from sparkle.train.compose import compose_config

    by_path = compose_config(repo_root / "configs" / "stage_one.yaml")
    assert OmegaConf.to_container(by_path) == OmegaConf.to_container(composed("stage_one", tiny_model_dir))


@pytest.mark.parametrize(
    ("override", "message"),
    [
        # a misspelled key names the key, verl's `+` hint and the closest real key
        ("actor_rollout_ref.actor.entropy_coef=0.1", "Did you mean actor_rollout_ref.actor.entropy_coeff?"),
        ("trainer.total_epoch=3", "Did you mean trainer.total_epochs?"),
        ("actor_rollout_ref.rollout.n_val=16", "actor_rollout_ref.rollout.n_val"),
        ("data.train_batch_size", "data.train_batch_size"),
    ],
)
def test_bad_override_is_a_clear_error(override: str, message: str) -> None:
    from sparkle.train.compose import compose_config

    with pytest.raises(SparkleError) as error:
        compose_config("stage_one", [override])
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_unknown_config_is_a_clear_error(tmp_path: Path) -> None:
    from sparkle.train.compose import compose_config

    with pytest.raises(SparkleError, match="stage_three.*not found.*stage_one"):
        compose_config("stage_three")
    with pytest.raises(SparkleError, match="not found"):
        compose_config(tmp_path / "absent.yaml")


def test_verl_rejection_becomes_a_sparkle_error(tiny_model_dir: Path) -> None:
    from sparkle.train.compose import compose_config, validate

    cfg = compose_config(
        "stage_one",
        [
            "actor_rollout_ref.actor.use_dynamic_bsz=false",
            "actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=4",
            "trainer.n_gpus_per_node=7",
        ],
    )
    with pytest.raises(SparkleError, match="validate_config.*divisible"):
        validate(cfg)


@pytest.mark.parametrize(
    ("groups", "expected"),
    [
        ([["a=1", "b=2"], ["a=3"]], ["b=2", "a=3"]),
        ([["+x.y=1"], ["x.y=2"]], ["x.y=2"]),
        ([["a=1"], [], ["c=[1,2]", "a=1"]], ["c=[1,2]", "a=1"]),
        ([["~trainer.logger"], ["trainer.logger=[console]"]], ["trainer.logger=[console]"]),
    ],
)
def test_merge_overrides_keeps_the_last_value_per_key(groups, expected) -> None:
    from sparkle.train.compose import merge_overrides

    assert merge_overrides(*groups) == expected


# What a launch script may name: the model, the cluster size, where it lives. Anything else is a
# hyperparameter, whose one home is the stage's YAML.
SCRIPT_VARIABLES = {"MODEL_PATH", "NNODES", "GPUS_PER_NODE", "repo_root"}
SCRIPT_OVERRIDES = {"trainer.nnodes", "trainer.n_gpus_per_node"}
SCRIPT_ASSIGNMENT = re.compile(r"^(\w+)=", re.M)
SCRIPT_DEFAULT = re.compile(r"^(\w+)=\$\{\1:-([^}]*)\}(?:\s+#.*)?$", re.M)
HYDRA_OVERRIDE = re.compile(r"(?:^|\s)\+{0,2}~?([a-z_][\w.]*\.[\w.]+)=")


def _script_code(repo_root: Path, stage: str) -> str:
    """The script without its comments."""
    text = (repo_root / "scripts" / "train" / f"{stage}.sh").read_text()
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))


@pytest.mark.parametrize("stage", [*STAGES, "smoke"])
def test_scripts_name_no_hyperparameter(stage: str, repo_root: Path, tiny_model_dir: Path) -> None:
    """A launch script holds paths, the cluster size and the user's overrides; its defaults are the config's."""
    code = _script_code(repo_root, stage)
    assert f'"$repo_root/configs/{stage}.yaml"' in code
    assert set(SCRIPT_ASSIGNMENT.findall(code)) <= SCRIPT_VARIABLES
    assert set(HYDRA_OVERRIDE.findall(code)) == SCRIPT_OVERRIDES
    assert code.rstrip().endswith('"$@"')  # the user's overrides come last and win
    defaults = dict(SCRIPT_DEFAULT.findall(code))
    assert set(defaults) == {"MODEL_PATH", "NNODES", "GPUS_PER_NODE"}
    cfg = composed(stage, tiny_model_dir)
    assert (int(defaults["NNODES"]), int(defaults["GPUS_PER_NODE"])) == (
        cfg.trainer.nnodes,
        cfg.trainer.n_gpus_per_node,
    )
    if stage in STAGE_TWO:
        assert defaults["MODEL_PATH"] == ""  # Stage 2 falls back to $PATH_TO_STAGE_ONE_MODEL
        assert "--model-env PATH_TO_STAGE_ONE_MODEL --local-model" in code
    else:
        assert defaults["MODEL_PATH"] == cfg.actor_rollout_ref.model.path


@pytest.mark.parametrize("stage", STAGES)
def test_script_command_resolves_to_the_paper_values(
    stage: str, repo_root: Path, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """What the script really launches (its --dry-run) holds every paper value, though it names none."""
    import os

    import yaml
    from omegaconf import OmegaConf

    env = {k: v for k, v in os.environ.items() if k not in ("MODEL_PATH", "NNODES", "GPUS_PER_NODE")}
    env.update(PYTHON=sys.executable, WANDB_MODE="disabled", PATH_TO_STAGE_ONE_MODEL=str(tiny_model_dir))
    result = subprocess.run(
        [str(repo_root / "scripts" / "train" / f"{stage}.sh"), "--dry-run"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    cfg = OmegaConf.create(
        yaml.safe_load(out[out.index("# composed config") : out.index("# launch command")])
    )
    for key, expected in COMMON + PER_STAGE[stage]:
        value = OmegaConf.select(cfg, key)
        if key in ("data.train_files", "data.val_files"):
            assert value == str(tmp_path / expected), key  # made absolute for Ray's workers
        elif isinstance(expected, float):
            assert value == pytest.approx(expected, rel=1e-12), key
        else:
            assert value == expected, key


def test_launch_command_composes_in_verls_own_main_ppo(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch
) -> None:
    """`main_ppo --cfg job` (no Ray, no trainer) resolves the exact command the scripts run to the paper's values."""
    import yaml

    from sparkle.train.launch import plan_launch

    monkeypatch.chdir(tmp_path)
    plan = plan_launch(
        "stage_two_aug", ["trainer.total_epochs=7"], model=str(tiny_model_dir), local_model=True, nnodes=2
    )
    result = subprocess.run(
        [*plan.command, "--cfg", "job"], capture_output=True, text=True, timeout=240, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr[-2000:]
    job = yaml.safe_load(result.stdout)
    assert plan.command[:3] == [sys.executable, "-m", "verl.trainer.main_ppo"]
    assert job["actor_rollout_ref"]["actor"]["kl_loss_coef"] == 0.01
    assert job["actor_rollout_ref"]["actor"]["entropy_coeff"] == 0.001
    assert job["actor_rollout_ref"]["rollout"]["val_kwargs"]["n"] == 1
    assert job["actor_rollout_ref"]["rollout"]["val_kwargs"]["temperature"] == 0
    assert job["actor_rollout_ref"]["actor"]["clip_ratio_c"] == 1e9
    assert job["actor_rollout_ref"]["model"]["path"] == str(tiny_model_dir)
    assert job["reward"]["custom_reward_function"]["reward_kwargs"]["reward_type"] == "spk_h_aug"
    assert job["trainer"]["total_epochs"] == 7
    assert job["trainer"]["nnodes"] == 2
    assert job["data"]["train_files"] == str(tmp_path / "data" / "sparkle_hardmath_aug_all_train.parquet")
    assert job["trainer"]["default_local_dir"] == str(
        tmp_path / "checkpoints" / "sparkle" / "sparkle_stage_two_aug"
    )


def test_verl_folder_is_the_engine_boundary(repo_root: Path) -> None:
    folder = repo_root / "verl"
    assert not [p for p in folder.rglob("*.py")]
    # The GPU requirements file installs the `gpu` extra; every pin lives in pyproject.toml.
    requirements = (folder / "requirements-gpu.txt").read_text()
    assert [ln for ln in requirements.splitlines() if ln and not ln.startswith("#")] == ["-e .[gpu]"]
    pyproject = (repo_root / "pyproject.toml").read_text()
    pinned = re.search(r'^  "verl\[vllm\]==([\d.]+)",$', pyproject, re.M)
    assert pinned and f'"verl=={pinned.group(1)}"' in pyproject
    for pin in ("torch==2.11.0", "vllm==0.24.0", "transformers==5.9.0"):
        assert f'"{pin}"' in pyproject
    # flash-attn has only a source release, whose build needs torch inside pip's isolated build: it is a
    # separate, documented step, never part of the extra
    gpu_extra = re.search(r"^gpu = \[(.*?)^\]", pyproject, re.M | re.S).group(1)
    assert not re.search(r'^\s*"flash', gpu_extra, re.M)
    import verl

    assert verl.__version__ == pinned.group(1)
    assert "site-packages" in verl.__file__
