"""Build and run the verl launch command of a SPARKLE stage (what ``scripts/train/*.sh`` call).

The shell scripts name no hyperparameter (those live in the stage YAMLs): they pass the config, the model
and the cluster size, followed by the user's arguments. This module picks the model (``--model``, an environment variable such as
``PATH_TO_STAGE_ONE_MODEL``, or the config's own), makes data and checkpoint paths absolute (Ray workers do
not share the driver's working directory), turns on wandb when it is configured, composes and validates the
config with verl before anything starts, and then either prints the composed config and the exact command
(``--dry-run``) or runs ``python -m verl.trainer.main_ppo`` with its output tee'd to
``logs/<experiment>_<time>.log``. Before anything starts it refuses a config whose attention kernel does
not import here (flash-attn; ``--attn sdpa`` is the fallback), and it hands the environment variables the
run relies on (wandb, Hugging Face, ``SPARKLE_*``) to verl's Ray actors through Ray's job runtime
environment, so they reach workers on every node without appearing on the command line or in the logged
config. verl resumes from the latest checkpoint in
``trainer.default_local_dir`` by itself (``trainer.resume_mode=auto``); the directory is stable per
experiment, so re-running the same command continues the run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from sparkle.errors import SparkleError
from sparkle.log import get_logger
from sparkle.paths import is_hub_id
from sparkle.train.budget import SDPA_OVERRIDES, attention_problem
from sparkle.train.compose import (
    compose_config,
    merge_overrides,
    model_path,
    override_key,
    resolve_config_path,
    to_yaml,
    validate,
)
from sparkle.train.tracker import latest_step

log = get_logger(__name__)

PLAIN_VALUE = re.compile(r"^[\w/.:+-]+$")
RAY_CLUSTER_FILE = Path("/tmp/ray/ray_current_cluster")
# Ray applies the runtime environment in this variable to the job the driver's ray.init() starts (the
# mechanism of `ray job submit`); verl merges its own runtime_env on top of it.
RAY_JOB_CONFIG = "RAY_JOB_CONFIG_JSON_ENV_VAR"
# variables verl's Ray actors need on every node: logging, model downloads, the reward's settings
FORWARDED_ENV = (
    "WANDB_API_KEY",
    "WANDB_MODE",
    "WANDB_ENTITY",
    "WANDB_PROJECT",
    "WANDB_BASE_URL",
    "WANDB_DIR",
    "HF_TOKEN",
    "HF_HOME",
    "HF_ENDPOINT",
    "HF_HUB_OFFLINE",
    "HF_DATASETS_OFFLINE",
    "HF_HUB_CACHE",
    "TRANSFORMERS_CACHE",
)
FORWARDED_PREFIXES = ("SPARKLE_",)
ATTN_CHOICES = ("flash_attention_2", "sdpa")


@dataclass
class LaunchPlan:
    """Everything a launch needs: the command, the composed config, where logs and checkpoints go."""

    command: list[str]
    config: object
    experiment: str
    log_path: Path
    checkpoint_dir: Path
    resume_step: int | None
    missing_files: tuple[str, ...] = ()


def resolve_model(model: str | None, env_var: str | None, local_only: bool) -> str | None:
    """The model to train: ``--model``, else ``$env_var``, else None (the config's own value).

    ``local_only`` (Stage 2) requires an existing local folder: Stage 2 continues from a Stage-1 model.
    """
    source = "--model"
    if not model and env_var:
        model, source = os.environ.get(env_var) or None, f"${env_var}"
    if not model:
        if local_only:
            raise SparkleError(
                f"no model: Stage 2 starts from the merged Stage-1 model; pass --model DIR or set {env_var} "
                "(merge a verl checkpoint with `sparkle convert`)"
            )
        return None
    path = Path(model).expanduser()
    if path.exists():
        if not path.is_dir() or not (path / "config.json").is_file():
            raise SparkleError(
                f"{source}={model}: not a Hugging Face model folder (no config.json); merge a verl checkpoint "
                "with `sparkle convert` first"
            )
        return str(path.resolve())
    if local_only or not is_hub_id(model):
        raise SparkleError(f"{source}={model}: the path does not exist")
    return model


def wandb_configured() -> bool:
    """True when wandb can log without asking: the package is installed and there is an API key in the
    environment, a `wandb login` (~/.netrc), or ``WANDB_MODE=offline``; ``WANDB_MODE=disabled`` turns it off."""
    import importlib.util

    mode = os.environ.get("WANDB_MODE")
    if mode == "disabled" or importlib.util.find_spec("wandb") is None:
        return False
    if mode == "offline" or os.environ.get("WANDB_API_KEY"):
        return True
    netrc = Path(os.environ.get("NETRC", Path.home() / ".netrc"))
    try:
        return "api.wandb.ai" in netrc.read_text()
    except OSError:
        return False


def hydra_value(text: str) -> str:
    """A string as a Hydra override value: quoted when it holds characters Hydra's grammar would parse."""
    if PLAIN_VALUE.match(text):
        return text
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _absolute_files(value, base: Path) -> str:
    from omegaconf import ListConfig

    items = list(value) if isinstance(value, ListConfig | list | tuple) else [value]
    paths = [hydra_value(str(base / Path(str(item)).expanduser())) for item in items]
    return paths[0] if len(paths) == 1 else "[" + ",".join(paths) + "]"


def plan_launch(
    config: str | os.PathLike[str],
    overrides: list[str] | None = None,
    *,
    model: str | None = None,
    model_env: str | None = None,
    local_model: bool = False,
    nnodes: int | None = None,
    gpus_per_node: int | None = None,
    log_dir: str | os.PathLike[str] = "logs",
    python: str | None = None,
    now: float | None = None,
    attn: str | None = None,
) -> LaunchPlan:
    """Compose and validate the run's config and build the exact ``main_ppo`` command (starts nothing).

    ``attn="sdpa"`` adds the overrides that train without flash-attn (sdpa attention, remove-padding off).
    """
    config_path = resolve_config_path(config)
    user = list(overrides or [])
    chosen = resolve_model(model, model_env, local_model)
    extra: list[str] = []
    if attn not in (None, *ATTN_CHOICES):
        raise SparkleError(f"--attn {attn}: choose one of {', '.join(ATTN_CHOICES)}")
    if attn == "sdpa":
        extra.extend(SDPA_OVERRIDES)
    if chosen:
        extra.append(f"actor_rollout_ref.model.path={hydra_value(chosen)}")
    if nnodes is not None:
        extra.append(f"trainer.nnodes={nnodes}")
    if gpus_per_node is not None:
        extra.append(f"trainer.n_gpus_per_node={gpus_per_node}")
    cfg = compose_config(config_path, merge_overrides(user, extra))

    keys = {override_key(o) for o in user}
    base = Path.cwd()
    derived: list[str] = []
    for key in ("train_files", "val_files"):
        derived.append(f"data.{key}={_absolute_files(cfg.data[key], base)}")
    checkpoint_dir = base / Path(str(cfg.trainer.default_local_dir)).expanduser()
    derived.append(f"trainer.default_local_dir={hydra_value(str(checkpoint_dir))}")
    if "trainer.logger" not in keys:
        derived.append("trainer.logger=[console,wandb]" if wandb_configured() else "trainer.logger=[console]")
    final = merge_overrides(user, extra, derived)
    cfg = compose_config(config_path, final)
    if model_path(cfg) is None:
        raise SparkleError("actor_rollout_ref.model.path is not set: pass --model")
    validate(cfg)

    experiment = str(cfg.trainer.experiment_name)
    stamp = time.strftime("%Y%m%d_%H%M%S", time.localtime(now))
    command = [
        python or sys.executable,
        "-m",
        "verl.trainer.main_ppo",
        f"--config-path={config_path.parent}",
        f"--config-name={config_path.stem}",
        *final,
    ]
    return LaunchPlan(
        command=command,
        config=cfg,
        experiment=experiment,
        log_path=Path(log_dir).resolve() / f"{experiment}_{stamp}.log",
        checkpoint_dir=checkpoint_dir,
        resume_step=latest_step(checkpoint_dir),
        missing_files=tuple(missing_data_files(cfg)),
    )


def missing_data_files(cfg) -> list[str]:
    """The run's train/val files that do not exist (checked before Ray and the GPUs are started)."""
    from omegaconf import ListConfig

    missing = []
    for key in ("train_files", "val_files"):
        value = cfg.data[key]
        for item in list(value) if isinstance(value, ListConfig | list | tuple) else [value]:
            if not Path(str(item)).expanduser().is_file():
                missing.append(str(item))
    return missing


def ray_cluster_hint(nnodes: int) -> str | None:
    """For a multi-node run: a message when no Ray cluster is reachable from this node, else None."""
    if nnodes <= 1 or os.environ.get("RAY_ADDRESS") or RAY_CLUSTER_FILE.is_file():
        return None
    return (
        f"trainer.nnodes={nnodes} needs a Ray cluster: on every node export the same RAY_AUTH_MODE (token, "
        "with the head's `ray get-auth-token` as RAY_AUTH_TOKEN on the others, or disabled on a private "
        "network), run `ray start --head --port=6379` on this node and `ray start --address=<head-ip>:6379` "
        "on the others, then launch from this node (scripts/train/README.md, 'Several nodes')"
    )


def forwarded_env(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The variables of ``environ`` that verl's Ray actors need (names in FORWARDED_ENV or SPARKLE_*)."""
    environ = dict(os.environ if environ is None else environ)
    return {
        k: v
        for k, v in sorted(environ.items())
        if v != "" and (k in FORWARDED_ENV or k.startswith(FORWARDED_PREFIXES))
    }


def child_environment(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of ``main_ppo``: ours, plus Ray's job runtime environment carrying the forwarded
    variables to every actor (merged into one a `ray job submit` already set; its values win)."""
    env = dict(os.environ if environ is None else environ)
    forwarded = forwarded_env(env)
    if not forwarded:
        return env
    try:
        job = json.loads(env.get(RAY_JOB_CONFIG) or "{}")
    except json.JSONDecodeError:
        raise SparkleError(f"{RAY_JOB_CONFIG} is not JSON: unset it or fix it") from None
    runtime_env = job.setdefault("runtime_env", {}) or {}
    job["runtime_env"] = runtime_env
    env_vars = runtime_env.setdefault("env_vars", {}) or {}
    runtime_env["env_vars"] = {**forwarded, **env_vars}
    env[RAY_JOB_CONFIG] = json.dumps(job)
    return env


def run_plan(plan: LaunchPlan) -> int:
    """Run the command, copying its output to the terminal and to the log file; returns its exit status."""
    plan.log_path.parent.mkdir(parents=True, exist_ok=True)
    if plan.resume_step is not None:
        log.info(
            "resuming %s from global_step_%d in %s", plan.experiment, plan.resume_step, plan.checkpoint_dir
        )
    log.info("logging to %s", plan.log_path)
    with open(plan.log_path, "w", encoding="utf-8") as out:
        out.write("$ " + shlex.join(plan.command) + "\n")
        env = child_environment()
        names = sorted(json.loads(env.get(RAY_JOB_CONFIG, "{}")).get("runtime_env", {}).get("env_vars", {}))
        if names:
            log.info("passing %s to verl's Ray actors (Ray job runtime environment)", ", ".join(names))
        process = subprocess.Popen(
            plan.command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
        )
        assert process.stdout is not None
        try:
            for line in process.stdout:
                sys.stdout.write(line)
                out.write(line)
                out.flush()
        except KeyboardInterrupt:
            process.terminate()
            raise
        return process.wait()


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    """Arguments of a launch (shared by ``sparkle train launch`` and ``python -m sparkle.train.launch``)."""
    parser = parser or argparse.ArgumentParser(
        prog="python -m sparkle.train.launch", description="launch a SPARKLE GRPO stage on verl"
    )
    parser.add_argument("config", help="stage name (stage_one, stage_two_aug, ...) or a YAML file")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides (KEY=VALUE; later ones win)")
    parser.add_argument("--model", default=None, help="model to train: Hub id or local HF folder")
    parser.add_argument("--model-env", default=None, help="environment variable holding the default model")
    parser.add_argument(
        "--local-model", action="store_true", help="the model must be an existing local folder (Stage 2)"
    )
    parser.add_argument("--nnodes", type=int, default=None, help="nodes of the Ray cluster (trainer.nnodes)")
    parser.add_argument(
        "--gpus-per-node", type=int, default=None, help="GPUs per node (trainer.n_gpus_per_node)"
    )
    parser.add_argument("--log-dir", default=os.environ.get("LOG_DIR", "logs"), help="where the run log goes")
    parser.add_argument("--python", default=None, help="Python that runs verl (default: this one)")
    parser.add_argument(
        "--attn",
        choices=ATTN_CHOICES,
        default=None,
        help="attention of verl's actor: flash_attention_2 (verl's default; needs flash-attn) or sdpa "
        "(no flash-attn; remove-padding off, slower)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="print the composed config and command; run nothing"
    )
    return parser


def launch(args: argparse.Namespace) -> int:
    """Plan the launch from parsed arguments, then print it (dry run) or run it."""
    plan = plan_launch(
        args.config,
        args.overrides,
        model=args.model,
        model_env=args.model_env,
        local_model=args.local_model,
        nnodes=args.nnodes,
        gpus_per_node=args.gpus_per_node,
        log_dir=args.log_dir,
        python=args.python,
        attn=getattr(args, "attn", None),
    )
    hint = ray_cluster_hint(int(plan.config.trainer.nnodes))
    kernel = attention_problem(plan.config)
    if args.dry_run:
        print("# composed config")
        print(to_yaml(plan.config).rstrip())
        print("# launch command")
        print(shlex.join(plan.command))
        print(f"# log: {plan.log_path}")
        resume = f"global_step_{plan.resume_step}" if plan.resume_step is not None else "none yet"
        print(f"# checkpoints: {plan.checkpoint_dir} (resume: {resume})")
        if hint:
            print(f"# note: {hint}")
        for path in plan.missing_files:
            print(f"# note: data file {path} does not exist yet")
        if kernel:
            print(f"# note: {kernel}")
        names = forwarded_env()
        if names:
            print(f"# passed to verl's Ray actors: {', '.join(names)}")
        return 0
    if plan.missing_files:
        raise SparkleError(
            f"data file(s) {', '.join(plan.missing_files)} do not exist; build them with `sparkle data "
            "stage-one` / `sparkle data stage-two` (or pass data.train_files=... data.val_files=...)"
        )
    if hint:
        raise SparkleError(hint)
    if kernel:
        raise SparkleError(kernel)
    return run_plan(plan)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m sparkle.train.launch`` (the shell scripts)."""
    from sparkle.log import setup_logging

    setup_logging(None)
    parser = build_parser()
    args = parser.parse_intermixed_args(argv)
    from sparkle.errors import run_command

    return run_command(parser.prog, lambda: launch(args))


if __name__ == "__main__":
    sys.exit(main())
