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
    return Path(__file__).resolve().parents[2] / "configs"


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


def validate(cfg) -> None:
    """Run verl's own ``validate_config`` (the check ``main_ppo`` runs first) on a composed config.

    verl reports problems with ``assert``/``ValueError`` and prints progress to stdout; both are turned
    into a SparkleError / sent to stderr so a command's stdout stays its own output.
    """
    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.utils.config import validate_config

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
