"""The stage configs against verl 0.9.1's own code: validation is greedy where verl reads it, dual-clip PPO
never binds in verl's policy loss, the sdpa fallback composes and loads the model without flash-attn,
wrong values are refused in one line, and the launch hands its environment to Ray actors."""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from sparkle.errors import SparkleError

pytestmark = pytest.mark.slow

VERL_ROOT = Path(importlib.util.find_spec("verl").origin).parent


def _compose(stage: str, tiny_model_dir: Path, *overrides: str):
    from sparkle.train.compose import compose_config

    return compose_config(stage, [f"actor_rollout_ref.model.path={tiny_model_dir}", *overrides])


# ---------------------------------------------------------------- validation decoding


def _validate_branch_assignments() -> dict[str, str]:
    """In verl's agent loop: what each sampling parameter is set from inside ``if validate:``."""
    tree = ast.parse((VERL_ROOT / "experimental" / "agent_loop" / "agent_loop.py").read_text())
    found: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "validate":
            for statement in node.body:
                if isinstance(statement, ast.Assign) and isinstance(statement.targets[0], ast.Subscript):
                    key = ast.literal_eval(statement.targets[0].slice)
                    found[key] = ast.unparse(statement.value)
    return found


def test_verls_agent_loop_validates_with_the_val_temperature_not_do_sample() -> None:
    """verl 0.9.1 takes validation sampling from val_kwargs.temperature/top_p/top_k and never reads
    val_kwargs.do_sample: greedy validation therefore needs temperature 0, not do_sample=False."""
    assert _validate_branch_assignments() == {
        "top_p": "config.val_kwargs.top_p",
        "top_k": "config.val_kwargs.top_k",
        "temperature": "config.val_kwargs.temperature",
    }
    source = (VERL_ROOT / "experimental" / "agent_loop" / "agent_loop.py").read_text()
    assert "val_kwargs.do_sample" not in source
    assert 'meta_info.get("do_sample"' not in source and "meta_info['do_sample']" not in source


@pytest.mark.parametrize("stage", ["stage_one", "stage_two_aug", "smoke"])
def test_stage_validation_is_greedy(stage: str, tiny_model_dir: Path) -> None:
    """What the agent loop will read for validation: temperature 0 with top_p 1 / top_k -1, one sample."""
    from verl.utils.config import omega_conf_to_dataclass

    cfg = _compose(stage, tiny_model_dir)
    rollout = omega_conf_to_dataclass(cfg.actor_rollout_ref.rollout)
    val = rollout.val_kwargs
    assert (val.temperature, val.top_p, val.top_k, val.do_sample, val.n) == (0, 1.0, -1, False, 1)


def test_sampled_validation_is_an_override_away(tiny_model_dir: Path) -> None:
    from sparkle.train.compose import validate

    cfg = _compose(
        "stage_one",
        tiny_model_dir,
        "actor_rollout_ref.rollout.val_kwargs.n=16",
        "actor_rollout_ref.rollout.val_kwargs.do_sample=true",
        "actor_rollout_ref.rollout.val_kwargs.temperature=0.6",
    )
    validate(cfg)
    assert cfg.actor_rollout_ref.rollout.val_kwargs.temperature == 0.6


# ---------------------------------------------------------------- dual clip


def _policy_loss(clip_ratio_c: float, tiny_model_dir: Path):
    import torch
    from verl.trainer.ppo.core_algos import compute_policy_loss_vanilla
    from verl.utils.config import omega_conf_to_dataclass

    cfg = _compose("stage_one", tiny_model_dir, f"actor_rollout_ref.actor.clip_ratio_c={clip_ratio_c}")
    actor = omega_conf_to_dataclass(cfg.actor_rollout_ref.actor)
    # negative advantages with the new policy far more likely than the old one (ratio up to e^20)
    old = torch.zeros(1, 4)
    new = torch.tensor([[0.5, 2.0, 8.0, 25.0]])
    advantages = torch.full((1, 4), -1.0)
    mask = torch.ones(1, 4)
    loss, _ = compute_policy_loss_vanilla(old, new, advantages, mask, "token-mean", actor)
    ratio = torch.exp(torch.clamp(new - old, -20, 20))
    plain_ppo = torch.maximum(-advantages * ratio, -advantages * torch.clamp(ratio, 0.8, 1.2)).mean()
    return float(loss), float(plain_ppo)


def test_dual_clip_never_binds_with_the_stage_config(tiny_model_dir: Path) -> None:
    loss, plain = _policy_loss(1e9, tiny_model_dir)
    assert loss == pytest.approx(plain, rel=1e-6)
    # verl 0.9's default (3.0) does bind on the same batch: the setting matters
    loss_default, _ = _policy_loss(3.0, tiny_model_dir)
    assert loss_default < plain / 100


# ---------------------------------------------------------------- attention fallback


def test_sdpa_fallback_composes_and_loads_the_model_without_flash_attn(tiny_model_dir: Path) -> None:
    """verl builds the actor's HF config with the override's attn_implementation; the model then runs."""
    import torch
    from transformers import AutoModelForCausalLM
    from verl.utils.config import omega_conf_to_dataclass

    from sparkle.train.budget import SDPA_OVERRIDES, attention_problem, attn_implementation
    from sparkle.train.compose import validate

    default = _compose("stage_one", tiny_model_dir)
    assert attn_implementation(default) == "flash_attention_2"
    assert omega_conf_to_dataclass(default.actor_rollout_ref.model).hf_config._attn_implementation == (
        "flash_attention_2"
    )
    assert "sdpa" in attention_problem(default, (None, "flash-attn is not installed"))
    assert attention_problem(default, ("2.8.3", None)) is None

    cfg = _compose("stage_one", tiny_model_dir, *SDPA_OVERRIDES)
    validate(cfg)
    assert attention_problem(cfg, (None, "flash-attn is not installed")) is None
    model_config = omega_conf_to_dataclass(cfg.actor_rollout_ref.model)
    assert model_config.use_remove_padding is False
    assert model_config.hf_config._attn_implementation == "sdpa"
    model = AutoModelForCausalLM.from_config(model_config.hf_config)
    out = model(input_ids=torch.tensor([[1, 2, 3, 4]]), attention_mask=torch.tensor([[0, 1, 1, 1]]))
    assert out.logits.shape[:2] == (1, 4)


def test_sdpa_with_remove_padding_is_refused(tiny_model_dir: Path) -> None:
    from sparkle.train.compose import validate

    cfg = _compose(
        "stage_one", tiny_model_dir, "+actor_rollout_ref.model.override_config.attn_implementation=sdpa"
    )
    with pytest.raises(SparkleError, match="use_remove_padding=false"):
        validate(cfg)


# ---------------------------------------------------------------- wrong values


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("actor_rollout_ref.actor.optim.lr=0", "optim.lr=0 .*learning rate > 0"),
        ("actor_rollout_ref.actor.optim.lr=abc", "optim.lr='abc' \\(str\\)"),
        ("actor_rollout_ref.actor.optim.lr=-1e-6", "optim.lr=-1e-06"),
        ("actor_rollout_ref.actor.kl_loss_coef=-0.1", "kl_loss_coef=-0.1"),
        ("actor_rollout_ref.actor.kl_loss_coef=nan", "kl_loss_coef=nan"),
        ("trainer.total_epochs=0", "total_epochs=0 "),
        ("trainer.total_epochs=2.5", "total_epochs=2.5 \\(float\\)"),
        ("trainer.total_epochs=true", "total_epochs=True \\(bool\\)"),
        ("trainer.total_training_steps=0", "total_training_steps=0"),
        ("data.train_batch_size=0", "train_batch_size=0"),
        ("data.train_batch_size='128'", "train_batch_size='128' \\(str\\)"),
        ("data.max_prompt_length=-1", "max_prompt_length=-1"),
        ("data.max_response_length=3000.0", "max_response_length=3000.0"),
        ("actor_rollout_ref.actor.ppo_mini_batch_size=0", "ppo_mini_batch_size=0"),
        ("actor_rollout_ref.actor.ppo_max_token_len_per_gpu=0", "ppo_max_token_len_per_gpu=0"),
        ("actor_rollout_ref.rollout.n=0", "rollout.n=0"),
        ("actor_rollout_ref.rollout.val_kwargs.top_p=0", "top_p=0"),
        ("actor_rollout_ref.rollout.gpu_memory_utilization=1.5", "gpu_memory_utilization=1.5"),
        ("actor_rollout_ref.actor.clip_ratio_c=1.0", "clip_ratio_c=1.0"),
        ("trainer.save_freq=0", "save_freq=0 .*-1 \\(never\\)"),
        ("trainer.test_freq=-2", "test_freq=-2"),
        ("trainer.max_actor_ckpt_to_keep=0", "max_actor_ckpt_to_keep=0"),
    ],
)
def test_wrong_values_are_refused_in_one_line(override: str, message: str, tiny_model_dir: Path) -> None:
    from sparkle.train.compose import validate

    with pytest.raises(SparkleError, match=message) as error:
        validate(_compose("stage_one", tiny_model_dir, override))
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    "override",
    [
        "trainer.save_freq=-1",
        "trainer.test_freq=-1",
        "trainer.max_actor_ckpt_to_keep=null",
        "trainer.total_training_steps=10",
        "actor_rollout_ref.actor.kl_loss_coef=0",
        "actor_rollout_ref.actor.optim.lr=3e-7",
    ],
)
def test_edge_values_that_are_right_pass(override: str, tiny_model_dir: Path) -> None:
    from sparkle.train.compose import validate

    validate(_compose("stage_one", tiny_model_dir, override))


# ---------------------------------------------------------------- environment to Ray actors

RAY_PROBE = r"""
import json, os, sys
from omegaconf import OmegaConf
import ray
from verl.trainer.constants_ppo import get_ppo_ray_runtime_env
from sparkle.train.compose import compose_config

cfg = compose_config("stage_one", sys.argv[1:])
# exactly what verl's main_ppo.run_ppo passes to ray.init
default_runtime_env = get_ppo_ray_runtime_env(cfg)
ray_init_kwargs = cfg.ray_kwargs.get("ray_init", {})
runtime_env = OmegaConf.merge(default_runtime_env, ray_init_kwargs.get("runtime_env", {}))
ray_init_kwargs = OmegaConf.create({**ray_init_kwargs, "runtime_env": runtime_env})
kwargs = OmegaConf.to_container(ray_init_kwargs)
kwargs["num_cpus"] = 1
ray.init(include_dashboard=False, **kwargs)

@ray.remote(num_cpus=0)
def probe():
    return {k: os.environ.get(k) for k in ("SPARKLE_PROBE_VALUE", "WANDB_API_KEY", "TOKENIZERS_PARALLELISM")}

print("RESULT", json.dumps(ray.get(probe.remote())))
ray.shutdown()
"""


def test_launch_environment_reaches_verls_ray_actors(tiny_model_dir: Path, tmp_path: Path) -> None:
    """The variables reach an actor through Ray's job runtime environment even though the driver process
    itself does not have them (as on a worker node of a `ray start` cluster), merged with verl's own."""
    from sparkle.train.launch import RAY_JOB_CONFIG, child_environment, forwarded_env

    user_env = {"SPARKLE_PROBE_VALUE": "42", "WANDB_API_KEY": "secret-key", "UNRELATED": "x", "HF_HOME": ""}
    assert forwarded_env(user_env) == {"SPARKLE_PROBE_VALUE": "42", "WANDB_API_KEY": "secret-key"}
    job = json.loads(child_environment(user_env)[RAY_JOB_CONFIG])
    assert job == {"runtime_env": {"env_vars": {"SPARKLE_PROBE_VALUE": "42", "WANDB_API_KEY": "secret-key"}}}

    env = {
        k: v
        for k, v in os.environ.items()
        if k not in user_env and not k.startswith("RAY_") and k != "TOKENIZERS_PARALLELISM"
    }
    # Ray's socket paths must stay under 108 bytes: a short private folder, not pytest's tmp_path
    ray_tmp = tempfile.mkdtemp(prefix="rayenv", dir="/tmp")
    env.update(
        RAY_AUTH_MODE="disabled",
        RAY_JOB_CONFIG_JSON_ENV_VAR=json.dumps(job),
        HOME=str(tmp_path),
        RAY_TMPDIR=ray_tmp,
    )
    result = subprocess.run(
        [sys.executable, "-c", RAY_PROBE, f"actor_rollout_ref.model.path={tiny_model_dir}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,
    )
    shutil.rmtree(ray_tmp, ignore_errors=True)
    assert result.returncode == 0, result.stderr[-3000:]
    line = next(ln for ln in result.stdout.splitlines() if ln.startswith("RESULT "))
    seen = json.loads(line[len("RESULT ") :])
    assert seen == {
        "SPARKLE_PROBE_VALUE": "42",
        "WANDB_API_KEY": "secret-key",
        "TOKENIZERS_PARALLELISM": "true",
    }


def test_a_submitted_jobs_runtime_env_is_kept() -> None:
    from sparkle.train.launch import RAY_JOB_CONFIG, child_environment

    env = {
        "HF_TOKEN": "t",
        RAY_JOB_CONFIG: json.dumps({"runtime_env": {"working_dir": "/w", "env_vars": {"HF_TOKEN": "job"}}}),
    }
    job = json.loads(child_environment(env)[RAY_JOB_CONFIG])
    assert job == {"runtime_env": {"working_dir": "/w", "env_vars": {"HF_TOKEN": "job"}}}
    assert RAY_JOB_CONFIG not in child_environment({"PATH": "/bin"})
    with pytest.raises(SparkleError, match=RAY_JOB_CONFIG):
        child_environment({"HF_TOKEN": "t", RAY_JOB_CONFIG: "{"})
