"""`sparkle train local`: GRPO on one machine (CPU or one GPU) with Hugging Face TRL's ``GRPOTrainer``.

The same stage configs (composed with :func:`sparkle.train.compose.compose_config`), data files and reward
as the verl path; every hyperparameter with a TRL equivalent is mapped by :func:`trl_settings`, and a
stage that needs something TRL does not have is refused before anything loads. docs/train-local.md lists
the mapping and the differences. This engine is for smoke runs and small models; the paper's runs use verl.

Outputs in ``--out``: ``final/`` (a Hugging Face model folder), ``checkpoints/checkpoint-N/`` (TRL
checkpoints a later run resumes from), ``metrics.jsonl`` (one line per step), ``samples.jsonl`` (every
scored completion with its ground truth and thinking level), ``reward_curve.png`` and ``mapping.json``.
"""

from __future__ import annotations

import math
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sparkle.errors import SparkleError
from sparkle.io import read_jsonl, write_json_atomic, write_jsonl_atomic
from sparkle.log import get_logger

log = get_logger(__name__)

# KL estimators: verl's name -> the estimator TRL computes (TRL has only k3, which is verl's low_var_kl).
KL_ESTIMATORS = {"low_var_kl": "k3", "k3": "k3"}
# verl loss aggregation -> TRL loss_type with the same normalisation (see docs/train-local.md).
LOSS_AGG = {"token-mean": "dapo", "seq-mean-token-mean": "grpo", "seq-mean-token-sum-norm": "dr_grpo"}
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")
METRIC_KEYS = (
    "step",
    "reward",
    "reward_std",
    "acc",
    "format_ok",
    "kl",
    "entropy",
    "completion_length",
    "seconds",
)


@dataclass
class LocalPlan:
    """Everything a local run needs, resolved and checked without loading torch, TRL or the model."""

    stage: str
    config_path: Path
    model: str
    out: Path
    train_files: list[Path]
    reward_kwargs: dict[str, Any]
    reward_fn_path: str
    reward_fn_name: str
    trl: dict[str, Any]
    mapping: list[dict[str, Any]]
    max_prompt_length: int
    filter_overlong_prompts: bool
    resume: bool
    threads: int | None = None
    notes: list[str] = field(default_factory=list)


def _sel(cfg, key: str, default: Any = None) -> Any:
    from omegaconf import OmegaConf

    try:
        value = OmegaConf.select(cfg, key, default=default, throw_on_missing=True)
    except Exception as e:
        raise SparkleError(f"{key}: {e} (set it with an override {key}=...)") from None
    if hasattr(value, "items") or (hasattr(value, "__iter__") and not isinstance(value, str)):
        value = OmegaConf.to_container(value, resolve=True) if not isinstance(value, list | dict) else value
    return value


def _positive_int(cfg, key: str) -> int:
    value = _sel(cfg, key)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise SparkleError(f"{key}={value!r}: must be a positive integer")
    return value


def _number(cfg, key: str, low: float = -math.inf, high: float = math.inf) -> float:
    value = _sel(cfg, key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not (low <= float(value) <= high):
        raise SparkleError(f"{key}={value!r}: must be a number in [{low}, {high}]")
    return float(value)


def check_model_dir(model: str) -> None:
    """A local model folder must hold a config.json and weights; anything else that looks like a path fails."""
    path = Path(model).expanduser()
    if not path.exists():
        if model.startswith((".", "/", "~")) or model.count("/") != 1:
            raise SparkleError(f"--model {model}: no such folder (give a Hugging Face model folder)")
        # a Hub id such as Qwen/Qwen2.5-0.5B-Instruct: transformers resolves it (cache or download)
        from huggingface_hub import try_to_load_from_cache

        from sparkle.checkpoints.hub import hub_offline

        if hub_offline() and not isinstance(try_to_load_from_cache(model, "config.json"), str):
            raise SparkleError(
                f"--model {model}: not in the local Hugging Face cache and HF_HUB_OFFLINE is set: download it "
                "where the Hub is reachable (`sparkle download`), or give a local model folder"
            )
        return
    if not path.is_dir():
        raise SparkleError(f"--model {model}: not a folder (give a Hugging Face model folder)")
    if not (path / "config.json").is_file():
        raise SparkleError(f"--model {model}: no config.json in the folder (not a Hugging Face model folder)")
    if not any(p.name.endswith(WEIGHT_SUFFIXES) for p in path.iterdir()):
        raise SparkleError(
            f"--model {model}: the folder has a config.json but no weights (*.safetensors or *.bin); "
            "copy the weights in, or merge a verl checkpoint with `sparkle convert`"
        )


def _train_files(cfg) -> list[Path]:
    files = _sel(cfg, "data.train_files")
    files = [files] if isinstance(files, str) else list(files or [])
    if not files:
        raise SparkleError("data.train_files is empty: set data.train_files=PATH.parquet")
    paths = []
    for f in files:
        path = Path(str(f)).expanduser()
        if not path.is_file():
            raise SparkleError(
                f"data.train_files: {path} not found (write it with `sparkle data stage-one|stage-two`, or set "
                "data.train_files=PATH)"
            )
        if path.suffix != ".parquet":
            raise SparkleError(f"data.train_files: {path} is not a .parquet file (verl's RL format)")
        paths.append(path.resolve())
    return paths


def trl_settings(cfg, max_steps: int | None = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Map a composed stage config onto ``GRPOConfig`` keyword arguments.

    Returns the keyword arguments and one row per mapped setting (verl key, its value, TRL key, TRL value).
    A setting TRL cannot honour raises SparkleError naming the key.
    """
    rows: list[dict[str, Any]] = []
    kw: dict[str, Any] = {}

    def put(verl_key: str, verl_value: Any, trl_key: str, trl_value: Any) -> None:
        kw[trl_key] = trl_value
        rows.append({"verl": verl_key, "value": verl_value, "trl": trl_key, "trl_value": trl_value})

    adv = _sel(cfg, "algorithm.adv_estimator")
    if adv != "grpo":
        raise SparkleError(f"algorithm.adv_estimator={adv!r}: the local TRL engine runs GRPO only (use verl)")
    if _sel(cfg, "algorithm.use_kl_in_reward", False):
        raise SparkleError(
            "algorithm.use_kl_in_reward=true: TRL has no KL-in-reward penalty (use the KL loss)"
        )
    loss_mode = _sel(cfg, "actor_rollout_ref.actor.policy_loss.loss_mode", "vanilla")
    if loss_mode != "vanilla":
        raise SparkleError(
            f"actor_rollout_ref.actor.policy_loss.loss_mode={loss_mode!r}: only verl's vanilla PPO-clip loss "
            "has a TRL equivalent"
        )
    if _sel(cfg, "algorithm.filter_groups.enable", False):
        raise SparkleError("algorithm.filter_groups.enable=true (DAPO dynamic sampling): no TRL equivalent")

    a = "actor_rollout_ref.actor"
    r = "actor_rollout_ref.rollout"
    n = _positive_int(cfg, f"{r}.n")
    if n < 2:
        raise SparkleError(f"{r}.n={n}: GRPO needs at least 2 rollouts per prompt")
    put(f"{r}.n", n, "num_generations", n)
    put(
        f"{r}.temperature",
        _number(cfg, f"{r}.temperature", 0.0),
        "temperature",
        _number(cfg, f"{r}.temperature"),
    )
    top_p = _number(cfg, f"{r}.top_p", 0.0, 1.0)
    put(f"{r}.top_p", top_p, "top_p", top_p)
    top_k = int(_number(cfg, f"{r}.top_k", -1))
    put(f"{r}.top_k", top_k, "top_k", max(top_k, 0))  # verl -1 = off, TRL 0 = off

    lr = _number(cfg, f"{a}.optim.lr", 0.0)
    if lr <= 0:
        raise SparkleError(f"{a}.optim.lr={lr}: must be positive")
    put(f"{a}.optim.lr", lr, "learning_rate", lr)
    wd = _number(cfg, f"{a}.optim.weight_decay", 0.0)
    put(f"{a}.optim.weight_decay", wd, "weight_decay", wd)
    betas = list(_sel(cfg, f"{a}.optim.betas", [0.9, 0.999]))
    put(f"{a}.optim.betas", betas, "adam_beta1/adam_beta2", betas)
    kw.pop("adam_beta1/adam_beta2")
    kw["adam_beta1"], kw["adam_beta2"] = float(betas[0]), float(betas[1])
    optimizer = _sel(cfg, f"{a}.optim.optimizer", "AdamW")
    if optimizer != "AdamW":
        raise SparkleError(f"{a}.optim.optimizer={optimizer!r}: the local engine uses AdamW only")
    scheduler = _sel(cfg, f"{a}.optim.lr_scheduler_type", None) or _sel(
        cfg, f"{a}.optim.warmup_style", "constant"
    )
    if scheduler not in ("constant", "cosine"):
        raise SparkleError(f"{a}.optim.lr_scheduler_type={scheduler!r}: use constant or cosine")
    put(f"{a}.optim.lr_scheduler_type", scheduler, "lr_scheduler_type", "constant_with_warmup" if scheduler ==
        "constant" else "cosine")  # fmt: skip
    warmup_steps = int(_number(cfg, f"{a}.optim.lr_warmup_steps", -1))
    if warmup_steps >= 0:
        put(f"{a}.optim.lr_warmup_steps", warmup_steps, "warmup_steps", warmup_steps)
    else:
        ratio = _number(cfg, f"{a}.optim.lr_warmup_steps_ratio", 0.0, 1.0)
        # transformers 5 reads a warmup_steps below 1 as a fraction of the run
        put(f"{a}.optim.lr_warmup_steps_ratio", ratio, "warmup_steps", ratio if ratio < 1 else 1.0)
    clip = _number(cfg, f"{a}.optim.clip_grad", 0.0)
    put(f"{a}.optim.clip_grad", clip, "max_grad_norm", clip)

    use_kl = bool(_sel(cfg, f"{a}.use_kl_loss", False))
    if use_kl:
        est = _sel(cfg, f"{a}.kl_loss_type")
        if est not in KL_ESTIMATORS:
            raise SparkleError(
                f"{a}.kl_loss_type={est!r}: TRL computes only the k3 estimator (verl's low_var_kl); set "
                f"{a}.kl_loss_type=low_var_kl or use verl"
            )
        coef = _number(cfg, f"{a}.kl_loss_coef", 0.0)
        put(f"{a}.kl_loss_coef", coef, "beta", coef)
        rows.append({"verl": f"{a}.kl_loss_type", "value": est, "trl": "(fixed)", "trl_value": "k3"})
    else:
        put(f"{a}.use_kl_loss", False, "beta", 0.0)
    entropy = _number(cfg, f"{a}.entropy_coeff", 0.0)
    put(f"{a}.entropy_coeff", entropy, "entropy_coef", entropy)
    low = _number(cfg, f"{a}.clip_ratio_low", 0.0) if _sel(cfg, f"{a}.clip_ratio_low") is not None else None
    high = (
        _number(cfg, f"{a}.clip_ratio_high", 0.0) if _sel(cfg, f"{a}.clip_ratio_high") is not None else None
    )
    base = _number(cfg, f"{a}.clip_ratio", 0.0)
    put(f"{a}.clip_ratio_low", low if low is not None else base, "epsilon", low if low is not None else base)
    put(
        f"{a}.clip_ratio_high",
        high if high is not None else base,
        "epsilon_high",
        high if high is not None else base,
    )
    agg = _sel(cfg, f"{a}.loss_agg_mode", "token-mean")
    if agg not in LOSS_AGG:
        raise SparkleError(f"{a}.loss_agg_mode={agg!r}: no TRL equivalent (use one of {', '.join(LOSS_AGG)})")
    put(f"{a}.loss_agg_mode", agg, "loss_type", LOSS_AGG[agg])
    norm = bool(_sel(cfg, "algorithm.norm_adv_by_std_in_grpo", True))
    put("algorithm.norm_adv_by_std_in_grpo", norm, "scale_rewards", "group" if norm else "none")
    epochs = _positive_int(cfg, f"{a}.ppo_epochs")
    put(f"{a}.ppo_epochs", epochs, "num_iterations", epochs)

    # Batches: verl counts prompts, TRL counts completions. One verl step (train_batch_size prompts, n
    # rollouts each) = one TRL generation; each verl mini-batch = one TRL optimizer step.
    batch = _positive_int(cfg, "data.train_batch_size")
    mini = _positive_int(cfg, f"{a}.ppo_mini_batch_size")
    if batch % mini:
        raise SparkleError(
            f"data.train_batch_size={batch} is not a multiple of {a}.ppo_mini_batch_size={mini}"
        )
    micro = _sel(cfg, f"{a}.ppo_micro_batch_size_per_gpu")
    micro = int(micro) if micro else 1
    if (mini * n) % micro:
        raise SparkleError(
            f"{a}.ppo_micro_batch_size_per_gpu={micro} does not divide mini-batch × n = {mini * n}"
        )
    put(f"{a}.ppo_micro_batch_size_per_gpu", micro, "per_device_train_batch_size", micro)
    put(f"{a}.ppo_mini_batch_size", mini, "gradient_accumulation_steps", mini * n // micro)
    put("data.train_batch_size", batch, "steps_per_generation", batch * n // micro)
    updates_per_batch = batch // mini

    put(
        "data.shuffle",
        bool(_sel(cfg, "data.shuffle", True)),
        "shuffle_dataset",
        bool(_sel(cfg, "data.shuffle", True)),
    )
    seed = _sel(cfg, "data.seed")
    seed = int(seed) if seed is not None else 42
    put("data.seed", _sel(cfg, "data.seed"), "seed", seed)
    max_resp = _positive_int(cfg, "data.max_response_length")
    put("data.max_response_length", max_resp, "max_completion_length", max_resp)
    gc = bool(_sel(cfg, "actor_rollout_ref.model.enable_gradient_checkpointing", False))
    put("actor_rollout_ref.model.enable_gradient_checkpointing", gc, "gradient_checkpointing", gc)

    total_epochs = _positive_int(cfg, "trainer.total_epochs")
    put("trainer.total_epochs", total_epochs, "num_train_epochs", total_epochs)
    total_steps = _sel(cfg, "trainer.total_training_steps")
    if max_steps is not None:
        if max_steps <= 0:
            raise SparkleError(f"--max-steps {max_steps}: must be a positive integer")
        put("--max-steps", max_steps, "max_steps", max_steps)
    elif total_steps:
        put("trainer.total_training_steps", total_steps, "max_steps", int(total_steps) * updates_per_batch)
    save = _sel(cfg, "trainer.save_freq", -1)
    save = int(save) if save is not None else -1
    if save > 0:
        put("trainer.save_freq", save, "save_steps", save * updates_per_batch)
    return kw, rows


def plan_local(
    config: str | os.PathLike[str],
    overrides: list[str] | None,
    model: str | None,
    out: str | os.PathLike[str],
    max_steps: int | None = None,
    save_steps: int | None = None,
) -> LocalPlan:
    """Compose the stage, map it onto TRL and check every input (no torch, TRL or model loaded)."""
    from sparkle.train.compose import compose_config, model_path, resolve_config_path

    config_path = resolve_config_path(config)
    cfg = compose_config(config_path, overrides)
    model = model or model_path(cfg)
    if not model:
        raise SparkleError(
            "no model: give --model PATH (a Hugging Face folder) or set actor_rollout_ref.model.path"
        )
    check_model_dir(model)
    train_files = _train_files(cfg)
    trl, mapping = trl_settings(cfg, max_steps)
    if save_steps is not None:
        if save_steps <= 0:
            raise SparkleError(f"--save-steps {save_steps}: must be a positive integer")
        trl["save_steps"] = save_steps
    reward_fn_path = str(_sel(cfg, "reward.custom_reward_function.path", "") or "")
    reward_fn_name = str(_sel(cfg, "reward.custom_reward_function.name", "compute_score") or "compute_score")
    if not reward_fn_path:
        raise SparkleError("reward.custom_reward_function.path is unset: the stage needs a rule-based reward")
    reward_kwargs = dict(_sel(cfg, "reward.custom_reward_function.reward_kwargs", {}) or {})
    timeout = reward_kwargs.get("timeout")
    if timeout is not None and (
        not isinstance(timeout, int | float) or isinstance(timeout, bool) or timeout <= 0
    ):
        raise SparkleError(f"reward_kwargs.timeout={timeout!r}: must be a positive number of seconds")
    out = Path(out).expanduser().resolve()
    if out.exists() and not out.is_dir():
        raise SparkleError(f"--out {out}: exists and is not a folder")
    resume_mode = _sel(cfg, "trainer.resume_mode", "auto")
    return LocalPlan(
        stage=config_path.stem,
        config_path=config_path,
        model=str(Path(model).expanduser().resolve()) if Path(model).expanduser().exists() else model,
        out=out,
        train_files=train_files,
        reward_kwargs=reward_kwargs,
        reward_fn_path=reward_fn_path,
        reward_fn_name=reward_fn_name,
        trl=trl,
        mapping=mapping,
        max_prompt_length=_positive_int(cfg, "data.max_prompt_length"),
        filter_overlong_prompts=bool(_sel(cfg, "data.filter_overlong_prompts", False)),
        resume=resume_mode != "disable",
    )


def load_reward_function(path: str, name: str):
    """The reward function a stage names: ``pkg://module`` or a Python file, as verl loads it."""
    import importlib
    import importlib.util

    if path.startswith("pkg://"):
        try:
            module = importlib.import_module(path[len("pkg://") :])
        except ImportError as e:
            raise SparkleError(f"reward.custom_reward_function.path={path}: {e}") from None
    else:
        file = Path(path)
        if not file.is_file():
            raise SparkleError(f"reward.custom_reward_function.path={path}: file not found")
        spec = importlib.util.spec_from_file_location("custom_reward_module", file)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    fn = getattr(module, name, None)
    if not callable(fn):
        raise SparkleError(f"reward.custom_reward_function.name={name}: not a function in {path}")
    return fn


class StageReward:
    """TRL reward function that scores completions exactly as verl's naive reward manager does.

    verl decodes the response alone (special tokens skipped) and calls ``compute_score(data_source=,
    solution_str=, ground_truth=reward_model["ground_truth"], extra_info=row["extra_info"],
    **reward_kwargs)``; so does this. ``acc`` and ``format_ok`` go to TRL's metrics, and every scored
    completion is kept for ``samples.jsonl``.
    """

    __name__ = "sparkle"

    def __init__(self, fn, reward_kwargs: dict[str, Any], tokenizer) -> None:
        self.fn = fn
        self.reward_kwargs = dict(reward_kwargs)
        self.tokenizer = tokenizer
        self.samples: list[dict[str, Any]] = []
        self.step = 0

    def __call__(self, prompts, completions, completion_ids, data_source, reward_model, extra_info, **kwargs):
        texts = self.tokenizer.batch_decode(completion_ids, skip_special_tokens=True)
        state = kwargs.get("trainer_state")
        step = (state.global_step + 1) if state is not None else self.step
        scores, accs, fmts, granular = [], [], [], []
        for text, source, rm, info in zip(texts, data_source, reward_model, extra_info, strict=True):
            info = dict(info) if isinstance(info, dict) else {}
            result = self.fn(
                data_source=source,
                solution_str=text,
                ground_truth=rm["ground_truth"],
                extra_info=info,
                **self.reward_kwargs,
            )
            score = float(result["score"] if isinstance(result, dict) else result)
            acc = float(result.get("acc", score > 0)) if isinstance(result, dict) else float(score > 0)
            fmt = float(result.get("format_ok", 0.0)) if isinstance(result, dict) else 0.0
            tags = float(result.get("granular_format", 0.0)) if isinstance(result, dict) else 0.0
            granular.append(tags)
            scores.append(score)
            accs.append(acc)
            fmts.append(fmt)
            self.samples.append(
                {
                    "step": step,
                    "index": info.get("index"),
                    "data_source": source,
                    "ground_truth": rm["ground_truth"],
                    "thinking_level": info.get("thinking_level"),
                    "response": text,
                    "score": score,
                    "acc": acc,
                    "format_ok": fmt,
                }
            )
        log_metric = kwargs.get("log_metric")
        if log_metric is not None:
            log_metric("acc", sum(accs) / len(accs))
            log_metric("format_ok", sum(fmts) / len(fmts))
            log_metric("granular_format", sum(granular) / len(granular))
        return scores


def _load_dataset(plan: LocalPlan, tokenizer):
    """The stage parquet as a ``datasets.Dataset`` with verl's columns, over-long prompts filtered as verl does."""
    from datasets import load_dataset

    ds = load_dataset("parquet", data_files=[str(p) for p in plan.train_files], split="train")
    missing = {"prompt", "reward_model", "data_source"} - set(ds.column_names)
    if missing:
        raise SparkleError(
            f"{plan.train_files[0]}: missing column(s) {sorted(missing)} (not a verl RL parquet: write it with "
            "`sparkle data stage-one|stage-two`)"
        )
    if "extra_info" not in ds.column_names:
        ds = ds.add_column("extra_info", [{}] * len(ds))
    for i, row in enumerate(ds.select(range(min(len(ds), 1)))):
        if not isinstance(row["reward_model"], dict) or "ground_truth" not in row["reward_model"]:
            raise SparkleError(f"{plan.train_files[0]}: row {i} has no reward_model.ground_truth")

    def length(row):
        ids = tokenizer.apply_chat_template(row["prompt"], add_generation_prompt=True, tokenize=True)
        if hasattr(ids, "keys"):
            ids = ids["input_ids"]
        return {"_prompt_tokens": len(ids)}

    ds = ds.map(length)
    too_long = sum(1 for x in ds["_prompt_tokens"] if x > plan.max_prompt_length)
    if too_long:
        if not plan.filter_overlong_prompts:
            raise SparkleError(
                f"{too_long} prompt(s) are longer than data.max_prompt_length={plan.max_prompt_length} tokens: "
                "raise it or set data.filter_overlong_prompts=true"
            )
        ds = ds.filter(lambda row: row["_prompt_tokens"] <= plan.max_prompt_length)
        log.warning(
            "dropped %d prompt(s) longer than %d tokens (as verl does)", too_long, plan.max_prompt_length
        )
    ds = ds.remove_columns(["_prompt_tokens"])
    if len(ds) == 0:
        raise SparkleError(f"{plan.train_files[0]}: no rows left to train on")
    return ds


def _last_checkpoint(folder: Path) -> Path | None:
    if not folder.is_dir():
        return None
    steps = []
    for p in folder.glob("checkpoint-*"):
        tail = p.name.split("-", 1)[1]
        if tail.isdigit() and (p / "trainer_state.json").is_file():
            steps.append((int(tail), p))
    return max(steps)[1] if steps else None


def plot_reward_curve(metrics: list[dict[str, Any]], path: Path, title: str) -> None:
    """Mean reward (and accuracy, format) per step as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sparkle.io import atomic_path

    steps = [m["step"] for m in metrics]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(steps, [m["reward"] for m in metrics], label="mean reward", color="tab:blue")
    ax.set_xlabel("step")
    ax.set_ylabel("reward")
    ax2 = ax.twinx()
    ax2.plot(
        steps, [m.get("granular_format") for m in metrics], label="tag score", color="tab:olive", alpha=0.6
    )
    ax2.plot(steps, [m.get("format_ok") for m in metrics], label="format ok", color="tab:green", alpha=0.6)
    ax2.plot(steps, [m.get("acc") for m in metrics], label="accuracy", color="tab:red", alpha=0.6)
    ax2.set_ylabel("fraction")
    ax2.set_ylim(-0.05, 1.05)
    lines = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
    labels = ax.get_legend_handles_labels()[1] + ax2.get_legend_handles_labels()[1]
    ax.legend(lines, labels, loc="lower right", fontsize=8)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


def quarter_means(metrics: list[dict[str, Any]]) -> tuple[float, float]:
    """Mean reward over the first and the last quarter of the steps."""
    rewards = [m["reward"] for m in metrics if m.get("reward") is not None]
    if not rewards:
        return math.nan, math.nan
    q = max(1, len(rewards) // 4)
    return sum(rewards[:q]) / q, sum(rewards[-q:]) / q


def _device_settings() -> tuple[dict[str, Any], str]:
    import importlib.util

    import torch

    if torch.cuda.is_available():
        kw: dict[str, Any] = {"bf16": True}
        name = torch.cuda.get_device_name(0)
        if importlib.util.find_spec("vllm") is not None:
            kw.update(use_vllm=True, vllm_mode="colocate")
            return kw, f"GPU {name}: bf16, generation with TRL's vLLM (colocate)"
        return kw, f"GPU {name}: bf16, generation with transformers (vLLM is not installed)"
    return {"use_cpu": True, "bf16": False}, "CPU: float32, generation with transformers"


def run_local(plan: LocalPlan) -> dict[str, Any]:
    """Train; returns a summary dict (steps, first/last-quarter reward, paths, seconds)."""
    import torch
    from transformers import AutoTokenizer, TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    started = time.perf_counter()
    if plan.threads and not torch.cuda.is_available():
        torch.set_num_threads(plan.threads)
    out = plan.out
    out.mkdir(parents=True, exist_ok=True)
    ckpt_dir = out / "checkpoints"
    fn = load_reward_function(plan.reward_fn_path, plan.reward_fn_name)
    tokenizer = AutoTokenizer.from_pretrained(plan.model)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    dataset = _load_dataset(plan, tokenizer)
    device_kw, device_text = _device_settings()
    log.info("local GRPO (TRL) on %s", device_text)

    resume = _last_checkpoint(ckpt_dir) if plan.resume else None
    metrics_path = out / "metrics.jsonl"
    samples_path = out / "samples.jsonl"
    metrics: list[dict[str, Any]] = []
    samples: list[dict[str, Any]] = []
    if resume is not None:
        done = int(resume.name.split("-", 1)[1])
        if metrics_path.is_file():
            metrics = [m for m in read_jsonl(metrics_path) if m.get("step", 0) <= done]
        if samples_path.is_file():
            samples = [s for s in read_jsonl(samples_path) if s.get("step", 0) <= done]
        log.info("resuming from %s (step %d)", resume, done)
    elif ckpt_dir.exists() and not plan.resume:
        shutil.rmtree(ckpt_dir)

    trl_kw = dict(plan.trl)
    args = GRPOConfig(
        output_dir=str(ckpt_dir),
        logging_steps=1,
        save_strategy="steps" if "save_steps" in trl_kw else "no",
        report_to=[],
        disable_tqdm=False,
        log_completions=False,
        save_only_model=False,
        **device_kw,
        **trl_kw,
    )
    reward = StageReward(fn, plan.reward_kwargs, tokenizer)
    model_kwargs = {"dtype": torch.bfloat16} if device_kw.get("bf16") else {"dtype": torch.float32}
    args.model_init_kwargs = model_kwargs

    class _Recorder(TrainerCallback):
        last = time.perf_counter()

        rollout: dict[str, Any] = {}

        def on_log(self, _args, state, control, logs=None, **kw):
            if not logs or "loss" not in logs:
                return
            now = time.perf_counter()
            if "reward" in logs:  # this step generated a new batch; later updates on it carry its figures
                self.rollout = {
                    "reward": logs.get("reward"),
                    "reward_std": logs.get("reward_std"),
                    "acc": logs.get("acc"),
                    "format_ok": logs.get("format_ok"),
                    "granular_format": logs.get("granular_format"),
                    "completion_length": logs.get("completions/mean_length"),
                }
            row = {
                "step": state.global_step,
                **self.rollout,
                "new_rollouts": "reward" in logs,
                "kl": logs.get("kl", 0.0),
                "entropy": logs.get("entropy"),
                "seconds": round(now - self.last, 3),
            }
            self.last = now
            metrics.append(row)
            samples.extend(reward.samples)
            reward.samples.clear()
            write_jsonl_atomic(metrics_path, metrics)
            write_jsonl_atomic(samples_path, samples)
            log.info(
                "step %d  reward %.3f  acc %.2f  format %.2f  tags %.2f  kl %.4f  len %.1f  %.2fs",
                row["step"], row["reward"], row["acc"] or 0.0, row["format_ok"] or 0.0,
                row["granular_format"] or 0.0, row["kl"] or 0.0,
                row["completion_length"] or 0.0, row["seconds"],
            )  # fmt: skip

    write_json_atomic(
        out / "mapping.json",
        {"stage": plan.stage, "config": str(plan.config_path), "model": plan.model, "device": device_text,
         "reward_kwargs": plan.reward_kwargs, "mapping": plan.mapping},
    )  # fmt: skip
    trainer = GRPOTrainer(
        model=plan.model,
        reward_funcs=[reward],
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        callbacks=[_Recorder()],
    )
    trainer.train(resume_from_checkpoint=str(resume) if resume else None)

    final = out / "final"
    tmp = out / ".final.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    # TRL switches the KV cache off for training; the saved model is for generation (eval, probes)
    unwrapped = trainer.accelerator.unwrap_model(trainer.model)
    unwrapped.config.use_cache = True
    trainer.save_model(str(tmp))
    tokenizer.save_pretrained(str(tmp))
    (tmp / "training_args.bin").unlink(missing_ok=True)
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)

    first, last = quarter_means(metrics)
    if metrics:
        plot_reward_curve(
            metrics, out / "reward_curve.png", f"{plan.stage} (TRL, local): mean reward per step"
        )
    summary = {
        "stage": plan.stage,
        "steps": metrics[-1]["step"] if metrics else 0,
        "resumed_from": str(resume) if resume else None,
        "first_quarter_reward": first,
        "last_quarter_reward": last,
        "device": device_text,
        "final": str(final),
        "metrics": str(metrics_path),
        "curve": str(out / "reward_curve.png"),
        "seconds": round(time.perf_counter() - started, 1),
    }
    write_json_atomic(out / "summary.json", summary)
    return summary


def add_local_arguments(p) -> None:
    """Arguments of `sparkle train local` (kept here so the parser stays light)."""
    from pathlib import Path as _Path

    p.add_argument(
        "config",
        metavar="STAGE",
        help="stage name (stage_one, stage_two_aug, stage_two_hard, stage_two_mix, smoke) or YAML",
    )
    p.add_argument("overrides", nargs="*", help="Hydra overrides KEY=VALUE (as for verl)")
    p.add_argument(
        "--model", default=None, help="Hugging Face model folder (default: actor_rollout_ref.model.path)"
    )
    p.add_argument(
        "--out", type=_Path, required=True, help="output folder (final/, checkpoints/, metrics.jsonl)"
    )
    for flag, help_text in (
        ("--max-steps", "stop after N optimizer steps (default: the stage's epochs)"),
        ("--save-steps", "checkpoint every N steps (default: trainer.save_freq)"),
        (
            "--threads",
            "CPU threads for torch (default: torch's choice; 1 is fastest for tiny models on a busy machine)",
        ),
    ):
        p.add_argument(flag, type=int, default=None, help=help_text)


def run_command(args) -> int:
    """The `sparkle train local` handler: plan (all checks), then train and print the summary."""
    plan = plan_local(args.config, args.overrides, args.model, args.out, args.max_steps, args.save_steps)
    if args.threads is not None:
        if args.threads <= 0:
            raise SparkleError(f"--threads {args.threads}: must be a positive integer")
        plan.threads = args.threads
    summary = run_local(plan)
    print(
        f"trained {summary['steps']} steps in {summary['seconds']:.0f} s; mean reward first quarter "
        f"{summary['first_quarter_reward']:.3f}, last quarter {summary['last_quarter_reward']:.3f}; "
        f"model: {summary['final']}"
    )
    return 0
