"""Compose a SPARKLE stage config on top of the installed verl's ``ppo_trainer`` and validate it with verl.

The stage YAMLs in ``configs/`` extend verl's own trainer config (``defaults: [ppo_trainer, sparkle_grpo,
_self_]`` with ``hydra.searchpath`` on ``pkg://verl.trainer.config``), so composing them here gives exactly
the config ``python -m verl.trainer.main_ppo --config-path=configs --config-name=<stage>`` would run with.
Errors a user can cause (unknown config, misspelled or malformed override, a mandatory value left unset,
a config verl rejects) become :class:`~sparkle.errors.SparkleError` naming the key and what to do.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import sys
import warnings
from pathlib import Path
from typing import Any

from sparkle.errors import SparkleError, bad_input

# Stage configs shipped in configs/ (name -> what it trains).
STAGES: dict[str, str] = {
    "stage_one": "Stage 1: GRPO on dsr40k from Qwen2.5-Math-7B",
    "stage_two_aug": "Stage 2 aug (PSS, recommended): hard problems with partial-solution scaffolds",
    "stage_two_hard": "Stage 2 hard: the hard problems only",
    "stage_two_mix": "Stage 2 mix: hard problems mixed with easier ones",
    "smoke": "single-GPU smoke run (small model, n=4, a few steps) for checking a cluster",
}


def configs_dir() -> Path:
    """The repository's ``configs/`` folder (the package is installed editable from the checkout)."""
    from sparkle.paths import repo_root

    return repo_root() / "configs"


def resolve_config_path(config: str | os.PathLike[str]) -> Path:
    """A stage name (``stage_one``) or a path to a YAML file → the YAML file's absolute path."""
    text = str(config)
    path = Path(text).expanduser()
    candidates = [path] if path.suffix in (".yaml", ".yml") else [path, path.with_suffix(".yaml")]
    if path.parent == Path("."):
        candidates.append(configs_dir() / (text if path.suffix else f"{text}.yaml"))
    for candidate in candidates:
        if candidate.is_file():
            return candidate.resolve()
    raise SparkleError(
        f"config {text!r} not found: give a YAML file or one of {', '.join(STAGES)} (in {configs_dir()})"
    )


def override_key(override: str) -> str:
    """The dotted key an override sets (``+a.b=1`` → ``a.b``; ``~a.b`` → ``a.b``)."""
    key = override.split("=", 1)[0].strip()
    return key.lstrip("+~")


def merge_overrides(*groups: list[str]) -> list[str]:
    """Concatenate override lists, keeping only the last value given for each key (later groups win)."""
    merged: dict[str, str] = {}
    for group in groups:
        for override in group:
            key = override_key(override)
            merged.pop(key, None)
            merged[key] = override
    return list(merged.values())


def _flat_keys(node: Any, prefix: str = "") -> list[str]:
    from omegaconf import DictConfig

    keys = []
    if isinstance(node, DictConfig):
        for key in node.keys():
            full = f"{prefix}.{key}" if prefix else str(key)
            keys.append(full)
            with contextlib.suppress(Exception):
                keys.extend(_flat_keys(node._get_node(key), full))
    return keys


def _compose_raw(config_path: Path, overrides: list[str]):
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(config_path.parent), version_base=None):
            return compose(config_name=config_path.stem, overrides=list(overrides))
    finally:
        GlobalHydra.instance().clear()


def compose_config(config: str | os.PathLike[str], overrides: list[str] | None = None):
    """Compose a stage config (name or YAML path) with Hydra overrides; returns an OmegaConf DictConfig."""
    from hydra.errors import HydraException

    config_path = resolve_config_path(config)
    overrides = list(overrides or [])
    for override in overrides:  # checked first: Hydra's own error would be matched to another override
        if "=" not in override and not override.startswith("~"):
            raise bad_input(
                f"override {override!r}", "has no '='", "write KEY=VALUE, e.g. trainer.total_epochs=3"
            )
    try:
        return _compose_raw(config_path, overrides)
    except HydraException as e:
        message = str(e).strip().replace("\n", " ")
        bad = [o for o in overrides if o.split("=", 1)[0].lstrip("+~") in message]
        hint = ""
        if bad and not bad[0].startswith("+"):
            with contextlib.suppress(Exception):
                known = _flat_keys(_compose_raw(config_path, []))
                close = difflib.get_close_matches(override_key(bad[0]), known, n=1, cutoff=0.8)
                if close:
                    hint = f" Did you mean {close[0]}?"
        what = f"override {bad[0]!r}" if bad else f"config {config_path}"
        raise SparkleError(
            f"{what}: {message}{hint} (check the key against `sparkle train check {config_path.stem} "
            "--print-config`)"
        ) from None


def model_path(cfg) -> str | None:
    """``actor_rollout_ref.model.path`` resolved (Stage 2 reads ``$PATH_TO_STAGE_ONE_MODEL``); None when unset."""
    from omegaconf import OmegaConf

    try:
        value = OmegaConf.select(cfg, "actor_rollout_ref.model.path")
    except Exception as e:
        raise SparkleError(f"actor_rollout_ref.model.path: {e}") from None
    return str(value) if value not in (None, "") else None


# Every value a run depends on: (key, kind, lower bound, upper bound, what it must be). Kinds: "int" (not a
# bool), "float" (any real number, ints included), "freq" (-1 = never, else an int >= 1), "int?" (null or
# an int >= lower). Bounds are inclusive unless the description says "> x".
VALUE_RULES: tuple[tuple[str, str, float | None, float | None, str], ...] = (
    ("actor_rollout_ref.actor.optim.lr", "float", 0.0, 1.0, "a learning rate > 0 (the paper: 1e-6)"),
    (
        "actor_rollout_ref.actor.kl_loss_coef",
        "float",
        0.0,
        None,
        "a coefficient >= 0 (the paper: 0.001 / 0.01)",
    ),
    ("actor_rollout_ref.actor.entropy_coeff", "float", 0.0, None, "a coefficient >= 0 (the paper: 0.001)"),
    (
        "actor_rollout_ref.actor.clip_ratio_c",
        "float",
        1.0,
        None,
        "a dual-clip bound > 1 (1e9 switches it off)",
    ),
    ("trainer.total_epochs", "int", 1, None, "a whole number of epochs >= 1"),
    ("trainer.total_training_steps", "int?", 1, None, "null or a whole number of steps >= 1"),
    ("data.train_batch_size", "int", 1, None, "a whole number of prompts >= 1 (the paper: 128)"),
    ("data.max_prompt_length", "int", 1, None, "a token count >= 1 (the paper: 1024)"),
    ("data.max_response_length", "int", 1, None, "a token count >= 1 (the paper: 3000)"),
    ("actor_rollout_ref.actor.ppo_mini_batch_size", "int", 1, None, "a whole number of prompts >= 1"),
    ("actor_rollout_ref.actor.ppo_max_token_len_per_gpu", "int", 1, None, "a token count >= 1"),
    ("actor_rollout_ref.rollout.n", "int", 1, None, "a number of rollouts per prompt >= 1 (the paper: 32)"),
    ("actor_rollout_ref.rollout.temperature", "float", 0.0, None, "a temperature >= 0 (the paper: 0.6)"),
    ("actor_rollout_ref.rollout.val_kwargs.n", "int", 1, None, "a number of validation samples >= 1"),
    (
        "actor_rollout_ref.rollout.val_kwargs.temperature",
        "float",
        0.0,
        None,
        "a temperature >= 0 (0 = greedy)",
    ),
    ("actor_rollout_ref.rollout.val_kwargs.top_p", "float", 0.0, 1.0, "a probability in (0, 1]"),
    (
        "actor_rollout_ref.rollout.gpu_memory_utilization",
        "float",
        0.0,
        1.0,
        "a fraction of the GPU in (0, 1]",
    ),
    ("actor_rollout_ref.rollout.tensor_model_parallel_size", "int", 1, None, "a whole number of GPUs >= 1"),
    ("trainer.save_freq", "freq", None, None, "-1 (never) or a whole number of steps >= 1"),
    ("trainer.test_freq", "freq", None, None, "-1 (never) or a whole number of steps >= 1"),
    ("trainer.nnodes", "int", 1, None, "a whole number of nodes >= 1"),
    ("trainer.n_gpus_per_node", "int", 1, None, "a whole number of GPUs >= 1"),
    ("trainer.max_actor_ckpt_to_keep", "int?", 1, None, "null (keep all) or a number of checkpoints >= 1"),
)
# bounds that exclude the bound itself
_EXCLUSIVE_LOW = {
    "actor_rollout_ref.actor.optim.lr",
    "actor_rollout_ref.actor.clip_ratio_c",
    "actor_rollout_ref.rollout.val_kwargs.top_p",
    "actor_rollout_ref.rollout.gpu_memory_utilization",
}


def _value_problem(value: Any, kind: str, low: float | None, high: float | None, exclusive: bool) -> bool:
    import math

    if kind == "int?" and value is None:
        return False
    if kind == "freq":
        return isinstance(value, bool) or not isinstance(value, int) or not (value == -1 or value >= 1)
    if kind in ("int", "int?"):
        if isinstance(value, bool) or not isinstance(value, int):
            return True
    elif isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return True
    if low is not None and (value <= low if exclusive else value < low):
        return True
    return high is not None and value > high


def check_values(cfg) -> None:
    """Refuse a wrong type or range of any value the run depends on, in one line naming key, value and
    what it must be (before verl, Ray or a GPU is touched)."""
    from omegaconf import OmegaConf

    for key, kind, low, high, what in VALUE_RULES:
        try:
            value = OmegaConf.select(cfg, key, throw_on_missing=True)
        except Exception as e:
            raise SparkleError(f"{key}: {e}; it must be {what}") from None
        if _value_problem(value, kind, low, high, key in _EXCLUSIVE_LOW):
            raise SparkleError(f"{key}={value!r} ({type(value).__name__}): it must be {what}")
    model = cfg.actor_rollout_ref.model
    impl = (model.get("override_config") or {}).get("attn_implementation", "flash_attention_2")
    if model.get("use_remove_padding") and impl != "flash_attention_2":
        raise SparkleError(
            f"actor_rollout_ref.model.use_remove_padding=true with attn_implementation={impl}: verl packs the "
            "sequences of a micro-batch without an attention mask, which only flash_attention_2 separates; "
            "set actor_rollout_ref.model.use_remove_padding=false"
        )


def validate(cfg) -> None:
    """Check every value's type and range (:func:`check_values`), then run verl's own ``validate_config``
    (the check ``main_ppo`` runs first) on a composed config.

    verl reports problems with ``assert``/``ValueError`` and prints progress to stdout; both are turned
    into a SparkleError / sent to stderr so a command's stdout stays its own output.
    """
    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.utils.config import validate_config

    check_values(cfg)
    try:
        with contextlib.redirect_stdout(sys.stderr), warnings.catch_warnings():
            # need_critic warns that GRPO has no critic: expected here
            warnings.simplefilter("ignore", UserWarning)
            validate_config(cfg, use_reference_policy=need_reference_policy(cfg), use_critic=need_critic(cfg))
    except (AssertionError, ValueError, TypeError, KeyError) as e:
        raise SparkleError(f"verl's validate_config rejects the config: {e}") from None


def to_yaml(cfg, resolve: bool = True) -> str:
    """The config as YAML, interpolations resolved where they can be (a missing value stays ``???``)."""
    from omegaconf import OmegaConf

    if resolve:
        with contextlib.suppress(Exception):
            return OmegaConf.to_yaml(cfg, resolve=True)
    return OmegaConf.to_yaml(cfg)
