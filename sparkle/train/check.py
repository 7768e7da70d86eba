"""`sparkle train check`: find a GRPO run's configuration mistakes on a laptop, before they cost a GPU hour.

Composes the stage config, runs verl's own ``validate_config``, checks that the train/val files exist and
have verl's RL schema, builds verl's dataset from them (``create_rl_dataset``, tokenizer from
``actor_rollout_ref.model.path``, overlong prompts filtered as the trainer would), loads the reward through
verl's loader (``get_custom_reward_fn``) and scores a reference answer against a wrong one, and checks the
batch arithmetic, then estimates what the run needs: steps, checkpoints and their disk next to the free
space of the checkpoint folder, GPU memory of the rollout phase against the GPU found here (or the one
named), and whether the attention kernel the actor loads is importable. Nothing here needs a GPU or starts
Ray.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sparkle.errors import SparkleError
from sparkle.log import get_logger
from sparkle.train.budget import (
    DiskPlan,
    MemoryPlan,
    attention_problem,
    attn_implementation,
    count_parameters,
    disk_plan,
    memory_plan,
)
from sparkle.train.compose import compose_config, model_path, validate

log = get_logger(__name__)

RL_COLUMNS = ("data_source", "ability", "reward_model", "extra_info")
DATA_HINT = "build it with `sparkle data stage-one` / `sparkle data stage-two` or point data.*_files at it"


@dataclass
class CheckReport:
    """What `sparkle train check` found (also the numbers of its summary)."""

    config: Any
    gpus: int
    rollouts_per_step: int
    max_tokens_per_step: int
    updates_per_step: int
    train_rows: int
    train_rows_kept: int
    val_rows: int
    val_rows_kept: int
    steps_per_epoch: int
    total_steps: int
    fixed_steps: bool = False
    reward_scores: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    parameters: int | None = None
    disk: DiskPlan | None = None
    memory: MemoryPlan | None = None
    attention: str = "flash_attention_2"

    def summary(self) -> str:
        """A short human-readable summary (one fact a line)."""
        c = self.config
        lines = [
            f"experiment        {c.trainer.project_name}/{c.trainer.experiment_name}",
            f"model             {c.actor_rollout_ref.model.path}",
            f"GPUs              {self.gpus} ({c.trainer.nnodes} node(s) x {c.trainer.n_gpus_per_node})",
            f"rollouts / step   {self.rollouts_per_step} ({c.data.train_batch_size} prompts x n="
            f"{c.actor_rollout_ref.rollout.n})",
            f"tokens / step     <= {self.max_tokens_per_step:,} (prompt {c.data.max_prompt_length} + "
            f"response {c.data.max_response_length} per rollout)",
            f"updates / step    {self.updates_per_step} (mini-batch {c.actor_rollout_ref.actor.ppo_mini_batch_size}"
            " prompts)",
            f"train rows        {self.train_rows_kept} of {self.train_rows} kept after overlong filtering",
            f"val rows          {self.val_rows_kept} of {self.val_rows} x {c.actor_rollout_ref.rollout.val_kwargs.n}"
            " samples",
            f"steps             {self.total_steps} (trainer.total_training_steps; {self.steps_per_epoch} / epoch)"
            if self.fixed_steps
            else f"steps             {self.steps_per_epoch} / epoch x {c.trainer.total_epochs} epochs = "
            f"{self.total_steps}",
            "reward            "
            + ", ".join(f"{k} {v:g}" for k, v in self.reward_scores.items())
            + f" ({c.reward.custom_reward_function.path}:{c.reward.custom_reward_function.name})",
            f"model size        {self.parameters / 1e9:.2f}e9 parameters"
            if self.parameters
            else "model size        unknown (its config.json is not on this machine)",
            f"checkpoints       {self.disk.line()}" if self.disk else "checkpoints       -",
            f"GPU memory        {self.memory.line()}"
            if self.memory
            else "GPU memory        - (model size unknown)",
            f"attention         {self.attention}",
        ]
        lines += [f"warning           {w}" for w in self.warnings]
        return "\n".join(lines)


def data_files(value: Any, key: str) -> list[str]:
    """``data.train_files`` / ``val_files`` as a list of strings (verl accepts one path or a list)."""
    from omegaconf import ListConfig

    if value is None or value == "":
        raise SparkleError(f"{key} is not set; {DATA_HINT}")
    items = list(value) if isinstance(value, ListConfig | list | tuple) else [value]
    return [os.path.expanduser(str(item)) for item in items]


def _rows(path: Path, columns: list[str]) -> list[dict[str, Any]]:
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            schema = pq.read_schema(path)
        except Exception as e:
            raise SparkleError(f"{path}: not a readable parquet file ({e}); {DATA_HINT}") from None
        absent = [c for c in columns if c not in schema.names]
        if absent:
            raise SparkleError(
                f"{path}: missing column(s) {', '.join(absent)} of verl's RL schema (has {', '.join(schema.names)});"
                f" {DATA_HINT}"
            )
        return pq.read_table(path, columns=columns).to_pylist()
    if path.suffix in (".json", ".jsonl"):
        from sparkle.io import read_jsonl

        rows = read_jsonl(path)
        for index, row in enumerate(rows):
            absent = [c for c in columns if c not in row]
            if absent:
                raise SparkleError(
                    f"{path}, row {index}: missing key(s) {', '.join(absent)} of verl's RL schema"
                )
        return rows
    raise SparkleError(f"{path}: verl reads .parquet, .json or .jsonl files; {DATA_HINT}")


def check_rl_file(path: str | os.PathLike[str], prompt_key: str = "prompt") -> list[dict[str, Any]]:
    """Check one train/val file against verl's RL schema; returns its rows. Errors name file, row and key."""
    path = Path(path)
    if not path.is_file():
        raise SparkleError(f"data file {path} does not exist; {DATA_HINT}")
    rows = _rows(path, [prompt_key, *RL_COLUMNS])
    if not rows:
        raise SparkleError(f"{path}: no rows; {DATA_HINT}")
    for index, row in enumerate(rows):
        _check_rl_row(row, f"{path}, row {index}", prompt_key)
    return rows


def _check_rl_row(row: dict[str, Any], place: str, prompt_key: str) -> None:
    """One row of verl's RL schema: chat prompt, ground truth, data source, extra info."""
    messages = row[prompt_key]
    if (
        not isinstance(messages, list)
        or not messages
        or not all(
            isinstance(m, dict) and m.get("role") and isinstance(m.get("content"), str) for m in messages
        )
    ):
        raise SparkleError(
            f"{place}: {prompt_key!r} must be a non-empty list of {{role, content}} chat messages"
        )
    reward_model = row["reward_model"]
    if not isinstance(reward_model, dict) or reward_model.get("ground_truth") in (None, "", []):
        raise SparkleError(f"{place}: reward_model.ground_truth is missing or empty")
    if not isinstance(row["data_source"], str) or not row["data_source"]:
        raise SparkleError(f"{place}: data_source must be a non-empty string")
    if row["extra_info"] is not None and not isinstance(row["extra_info"], dict):
        raise SparkleError(f"{place}: extra_info must be a mapping")


def load_tokenizer(model_path: str):
    """The tokenizer verl would build from ``actor_rollout_ref.model.path``."""
    from verl.utils import hf_tokenizer

    from sparkle.hub import require_hub_or_local

    require_hub_or_local(model_path, "model")  # a folder without config.json, or no Hub: one clear line
    try:
        return hf_tokenizer(model_path)
    except Exception as e:
        raise SparkleError(
            f"actor_rollout_ref.model.path={model_path}: cannot load its tokenizer ({type(e).__name__}: "
            f"{str(e).splitlines()[0] if str(e) else ''}); on a machine without the Hub, pass "
            "actor_rollout_ref.model.path=LOCAL_MODEL_DIR"
        ) from None


def build_dataset(files: list[str], cfg, tokenizer, is_train: bool, max_rows: int = -1):
    """verl's own RL dataset (``create_rl_dataset``) over the files, through the composed data config."""
    from verl.trainer.ppo.utils import create_rl_dataset

    try:
        with contextlib.redirect_stdout(sys.stderr):
            return create_rl_dataset(
                files, cfg.data, tokenizer, None, is_train=is_train, max_samples=max_rows
            )
    except SparkleError:
        raise
    except Exception as e:
        raise SparkleError(
            f"verl cannot build its dataset from {', '.join(files)}: {type(e).__name__}: {e}"
        ) from None


def reference_response(row: dict[str, Any]) -> tuple[str, str]:
    """A well-formed response with the row's own answer, and the same response with a wrong answer."""
    truth = row["reward_model"]["ground_truth"]
    answer = str(truth[0] if isinstance(truth, list | tuple) else truth)
    info = row.get("extra_info") or {}
    opened = int(info.get("thinking_level") or 0) >= 1  # PSS rows: the prompt already opened <think>
    head = "" if opened else "<think>\n"
    template = head + "Reasoning.\n</think>\n<answer>\nThe answer is \\boxed{%s}.\n</answer>"
    return template % answer, template % f"{answer}1729"


def load_reward(cfg):
    """The reward function, loaded by verl's own loader from ``reward.custom_reward_function``."""
    from verl.trainer.ppo.reward import get_custom_reward_fn

    rcfg = cfg.reward.get("custom_reward_function") or {}
    if not rcfg.get("path"):
        legacy = (cfg.get("custom_reward_function") or {}).get("path")
        extra = (
            f" (the top-level custom_reward_function.path={legacy} is ignored by verl 0.9's main_ppo)"
            if legacy
            else ""
        )
        raise SparkleError(
            "reward.custom_reward_function.path is not set" + extra + "; set "
            "reward.custom_reward_function.path=pkg://sparkle.reward and .name=compute_score"
        )
    try:
        return get_custom_reward_fn(cfg)
    except Exception as e:
        raise SparkleError(
            f"reward.custom_reward_function ({rcfg.get('path')}:{rcfg.get('name')}): verl cannot load it: "
            f"{type(e).__name__}: {e}"
        ) from None


def _score(fn, row: dict[str, Any], response: str) -> float:
    """The reward of one response to the row, as verl's reward manager calls it; a number or an error."""
    try:
        result = fn(
            data_source=row["data_source"],
            solution_str=response,
            ground_truth=row["reward_model"]["ground_truth"],
            extra_info=row.get("extra_info"),
        )
    except Exception as e:
        raise SparkleError(
            f"reward function failed on the first train row: {type(e).__name__}: {e}"
        ) from None
    score = result.get("score") if isinstance(result, dict) else result
    if not isinstance(score, int | float) or not math.isfinite(score):
        raise SparkleError(f"reward function returned {result!r}: expected a number or a dict with 'score'")
    return float(score)


def check_reward(cfg, row: dict[str, Any]) -> dict[str, float]:
    """Load the reward with verl's loader and score the row's reference answer and a wrong one."""
    fn = load_reward(cfg)
    right, wrong = reference_response(row)
    scores = {"reference": _score(fn, row, right), "wrong": _score(fn, row, wrong)}
    if scores["reference"] <= scores["wrong"]:
        raise SparkleError(
            f"reward function gives the reference answer {scores['reference']} and a wrong one {scores['wrong']}:"
            " check reward.custom_reward_function and its reward_kwargs"
        )
    return scores


def batch_arithmetic(cfg) -> tuple[int, int, list[str]]:
    """(GPUs, updates per step, warnings); raises when the batch sizes do not divide."""
    gpus = _check_divisibility(cfg)
    actor = cfg.actor_rollout_ref.actor
    longest = int(cfg.data.max_prompt_length) + int(cfg.data.max_response_length)
    if actor.use_dynamic_bsz and int(actor.ppo_max_token_len_per_gpu) < longest:
        raise SparkleError(
            f"actor_rollout_ref.actor.ppo_max_token_len_per_gpu={actor.ppo_max_token_len_per_gpu} is below one "
            f"full sequence (max_prompt_length + max_response_length = {longest})"
        )
    warnings = []
    if actor.entropy_coeff == 0:
        warnings.append("actor.entropy_coeff is 0 (verl 0.9's default); the paper ran with 0.001")
    if cfg.data.get("seed") is None:
        warnings.append("data.seed is null: the data order is not reproducible (the paper's verl used 1)")
    return gpus, int(cfg.data.train_batch_size) // int(actor.ppo_mini_batch_size), warnings


def _check_divisibility(cfg) -> int:
    """The number of GPUs, once batch, mini-batch, rollouts and tensor parallelism divide as verl needs."""
    trainer, actor, rollout = cfg.trainer, cfg.actor_rollout_ref.actor, cfg.actor_rollout_ref.rollout
    gpus = int(trainer.nnodes) * int(trainer.n_gpus_per_node)
    batch, mini, n = int(cfg.data.train_batch_size), int(actor.ppo_mini_batch_size), int(rollout.n)
    if gpus < 1:
        raise SparkleError(f"trainer.nnodes x trainer.n_gpus_per_node = {gpus}: need at least one GPU")
    if batch % mini:
        raise SparkleError(
            f"data.train_batch_size={batch} is not a multiple of actor_rollout_ref.actor.ppo_mini_batch_size={mini}"
        )
    for what, value in (
        ("data.train_batch_size x rollout.n", batch * n),
        ("ppo_mini_batch_size x rollout.n", mini * n),
    ):
        if value % gpus:
            raise SparkleError(
                f"{what} = {value} is not divisible by the {gpus} GPUs; change the batch or GPUs"
            )
    tp = int(rollout.tensor_model_parallel_size)
    if tp < 1 or int(trainer.n_gpus_per_node) % tp:
        raise SparkleError(
            f"actor_rollout_ref.rollout.tensor_model_parallel_size={tp} must divide trainer.n_gpus_per_node="
            f"{trainer.n_gpus_per_node}"
        )
    return gpus


def resource_warnings(
    report: CheckReport, gpu_memory_gib: float | None = None, flash_status: tuple | None = None
) -> None:
    """Fill in the report's disk, memory and attention estimates and warn where they do not fit."""
    cfg = report.config
    report.parameters = count_parameters(model_path(cfg))
    report.disk = disk_plan(cfg, report.total_steps, report.parameters)
    if report.disk.fits() is False:
        report.warnings.append(
            f"the checkpoints need ~{report.disk.needed_bytes / 1e9:,.0f} GB but {report.disk.target} has "
            f"{report.disk.free_bytes / 1e9:,.0f} GB free: point trainer.default_local_dir at a larger disk or "
            "lower trainer.max_actor_ckpt_to_keep"
        )
    if report.parameters:
        source = "given with --gpu-memory-gib" if gpu_memory_gib else ""
        report.memory = memory_plan(cfg, report.parameters, gpu_memory_gib, source)
        report.warnings.extend(report.memory.problems())
    report.attention = attn_implementation(cfg)
    problem = attention_problem(cfg, flash_status)
    if problem:
        report.warnings.append(problem)


def run_check(
    config: str | os.PathLike[str],
    overrides: list[str] | None = None,
    max_rows: int = -1,
    gpu_memory_gib: float | None = None,
) -> CheckReport:
    """Every check of `sparkle train check`; raises SparkleError on the first problem, else a report."""
    cfg = _composed(config, overrides)
    gpus, updates, warnings = batch_arithmetic(cfg)
    data = _check_data(cfg)
    scores = check_reward(cfg, data.train_rows[0])
    scores.update({f"val {k}": v for k, v in check_reward(cfg, data.val_rows[0]).items()})
    train_set, val_set = _build_datasets(cfg, data, max_rows)
    considered = _capped(len(data.train_rows), data.train_cap)
    if len(train_set) < considered:
        warnings.append(
            f"{considered - len(train_set)} train prompts exceed {cfg.data.max_prompt_length} tokens"
        )
    steps_per_epoch, total_steps, fixed_steps = _steps(cfg, len(train_set))
    batch, n = int(cfg.data.train_batch_size), int(cfg.actor_rollout_ref.rollout.n)
    report = CheckReport(
        config=cfg,
        gpus=gpus,
        rollouts_per_step=batch * n,
        max_tokens_per_step=batch * n * (int(cfg.data.max_prompt_length) + int(cfg.data.max_response_length)),
        updates_per_step=updates,
        train_rows=considered,
        train_rows_kept=len(train_set),
        val_rows=_capped(len(data.val_rows), data.val_cap),
        val_rows_kept=len(val_set),
        steps_per_epoch=steps_per_epoch,
        total_steps=total_steps,
        fixed_steps=fixed_steps,
        reward_scores=scores,
        warnings=warnings,
    )
    resource_warnings(report, gpu_memory_gib)
    return report


def _composed(config: str | os.PathLike[str], overrides: list[str] | None):
    """The composed config, with a model and accepted by verl's ``validate_config``."""
    cfg = compose_config(config, overrides)
    if model_path(cfg) is None:
        raise SparkleError(
            "actor_rollout_ref.model.path is not set (Stage 2 starts from the Stage-1 model): pass "
            "actor_rollout_ref.model.path=STAGE_ONE_HF_DIR or set PATH_TO_STAGE_ONE_MODEL"
        )
    validate(cfg)
    return cfg


@dataclass
class _Data:
    """The run's train/val files and their rows (checked against verl's RL schema), with the row caps."""

    train_files: list[str]
    val_files: list[str]
    train_rows: list[dict[str, Any]]
    val_rows: list[dict[str, Any]]
    train_cap: int = -1
    val_cap: int = -1


def _check_data(cfg) -> _Data:
    prompt_key = cfg.data.get("prompt_key", "prompt")
    train_files = data_files(cfg.data.train_files, "data.train_files")
    val_files = data_files(cfg.data.val_files, "data.val_files")
    train_rows = [row for f in train_files for row in check_rl_file(f, prompt_key)]
    val_rows = [row for f in val_files for row in check_rl_file(f, prompt_key)]
    log.info("data files have verl's RL schema: %d train rows, %d val rows", len(train_rows), len(val_rows))
    return _Data(train_files, val_files, train_rows, val_rows)


def _row_cap(configured: int, max_rows: int) -> int:
    """The trainer's own row cap (``data.*_max_samples``, -1 for none) unless --max-rows asks for fewer."""
    return max_rows if max_rows > 0 and (configured <= 0 or max_rows < configured) else configured


def _capped(rows: int, cap: int) -> int:
    return rows if cap <= 0 else min(cap, rows)


def _build_datasets(cfg, data: _Data, max_rows: int):
    """verl's train and val datasets (overlong prompts filtered); sets the row caps on ``data``."""
    tokenizer = load_tokenizer(model_path(cfg))
    data.train_cap = _row_cap(int(cfg.data.get("train_max_samples", -1) or -1), max_rows)
    data.val_cap = _row_cap(int(cfg.data.get("val_max_samples", -1) or -1), max_rows)
    train_set = build_dataset(data.train_files, cfg, tokenizer, is_train=True, max_rows=data.train_cap)
    val_set = build_dataset(data.val_files, cfg, tokenizer, is_train=False, max_rows=data.val_cap)
    if len(train_set) == 0 or len(val_set) == 0:
        raise SparkleError(
            f"no {'train' if len(train_set) == 0 else 'val'} prompt fits data.max_prompt_length="
            f"{cfg.data.max_prompt_length} tokens after overlong filtering"
        )
    if not train_set[0].get("raw_prompt"):
        raise SparkleError(f"verl's dataset gives no raw_prompt for {data.train_files[0]}, row 0")
    return train_set, val_set


def _steps(cfg, train_rows_kept: int) -> tuple[int, int, bool]:
    """(steps per epoch, total steps, whether trainer.total_training_steps fixes the total)."""
    batch = int(cfg.data.train_batch_size)
    steps_per_epoch = train_rows_kept // batch
    if steps_per_epoch == 0:
        raise SparkleError(
            f"{train_rows_kept} train rows give no full batch of data.train_batch_size={batch}; "
            "add data or lower the batch size"
        )
    fixed_steps = cfg.trainer.get("total_training_steps")
    total_steps = fixed_steps or steps_per_epoch * int(cfg.trainer.total_epochs)
    return steps_per_epoch, int(total_steps), bool(fixed_steps)
