"""`sparkle probe run`: lm-eval (vLLM by default) over the probe tasks for one or more models, one lm-eval
process per model, skipping the (model, task) pairs that already have results and samples in the output
folder (like the original `eval_all_vllm.sh`)."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from sparkle.errors import SparkleError
from sparkle.log import get_logger
from sparkle.probes.taskgen import DEFAULT_REPEATS, write_task_folder
from sparkle.probes.tasks import task_name
from sparkle.prompts import CONDITIONS
from sparkle.registry import BENCHMARKS

log = get_logger(__name__)

# SPEC §7: 32768-token context for long-context models, generation up to the context minus 1000 tokens.
MAX_MODEL_LEN = 32768
PROMPT_RESERVE = 1000


@dataclass
class RunConfig:
    """Everything one `sparkle probe run` needs; the defaults are the paper's protocol."""

    models: list[str]
    out: Path
    family: str = "sparkle"
    conditions: list[str] = field(default_factory=lambda: list(CONDITIONS))
    benchmarks: list[str] = field(default_factory=lambda: list(BENCHMARKS))
    backend: str = "vllm"
    repeats: int = DEFAULT_REPEATS
    max_model_len: int | None = None
    max_gen_toks: int | None = None
    tensor_parallel_size: int = 1
    data_parallel_size: int = 1
    gpu_memory_utilization: float = 0.9
    batch_size: str = "auto"
    limit: int | None = None
    preview: str | None = None
    model_args: str | None = None
    apply_chat_template: bool = True


def _looks_like_path(model: str) -> bool:
    return model.startswith(("/", ".", "~")) or Path(model).exists()


def model_context(model: str) -> int | None:
    """The model's context length from its ``config.json`` (local folder, else the Hub); None if unknown."""
    config = Path(model).expanduser() / "config.json"
    if not config.is_file():
        if _looks_like_path(model):
            return None
        try:
            from huggingface_hub import hf_hub_download

            config = Path(hf_hub_download(repo_id=model, filename="config.json"))
        except Exception as e:  # noqa: BLE001 - offline, unknown repo, gated: fall back to the default length
            log.warning(
                "%s: cannot read its config.json (%s); pass --max-model-len if %d is too long",
                model,
                type(e).__name__,
                MAX_MODEL_LEN,
            )
            return None
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise SparkleError(f"{config}: unreadable model config ({e}); fix the checkpoint") from e
    value = data.get("max_position_embeddings") or (data.get("text_config") or {}).get(
        "max_position_embeddings"
    )
    return int(value) if value else None


def lengths(model: str, max_model_len: int | None, max_gen_toks: int | None) -> tuple[int, int]:
    """(max_model_len, max_gen_toks): 32768 capped to the model's context, generation = length - 1000."""
    context = model_context(model)
    length = max_model_len or min(MAX_MODEL_LEN, context or MAX_MODEL_LEN)
    if context and length > context:
        log.warning(
            "%s: max_model_len %d exceeds the model's context %d; using %d", model, length, context, context
        )
        length = context
    gen = max_gen_toks or max(256, length - PROMPT_RESERVE)
    return length, min(gen, length)


def output_dir(out: Path, model: str) -> Path:
    """Where lm-eval writes a model's results: ``<out>/<model with / : etc. replaced by __>``."""
    return out / re.sub(r"[\"<>:/|\\?*\[\]]+", "__", model)


def finished_tasks(model_dir: Path) -> set[str]:
    """Tasks with a results file listing them and that run's samples file beside it."""
    done: set[str] = set()
    for results_path in model_dir.glob("results_*.json"):
        timestamp = results_path.stem[len("results_") :]
        try:
            results = json.loads(results_path.read_text(encoding="utf-8")).get("results", {})
        except (OSError, json.JSONDecodeError):
            log.warning("%s: unreadable, ignored", results_path)
            continue
        for task in results:
            if (model_dir / f"samples_{task}_{timestamp}.jsonl").is_file():
                done.add(task)
    return done


def model_args(cfg: RunConfig, model: str) -> str:
    """lm-eval ``--model_args`` for one model."""
    length, gen = lengths(model, cfg.max_model_len, cfg.max_gen_toks)
    if cfg.backend == "vllm":
        args = [
            f"pretrained={model}",
            f"tensor_parallel_size={cfg.tensor_parallel_size}",
            f"data_parallel_size={cfg.data_parallel_size}",
            f"gpu_memory_utilization={cfg.gpu_memory_utilization}",
            f"max_model_len={length}",
            f"max_gen_toks={gen}",
            "dtype=auto",
        ]
    else:
        args = [f"pretrained={model}", f"max_length={length}"]
    if cfg.model_args:
        args.append(cfg.model_args)
    return ",".join(args)


def command(cfg: RunConfig, model: str, tasks: list[str], include_path: Path) -> list[str]:
    """The lm-eval command line that runs ``tasks`` for ``model``."""
    _, gen = lengths(model, cfg.max_model_len, cfg.max_gen_toks)
    cmd = [
        sys.executable, "-m", "lm_eval", "run",
        "--model", cfg.backend,
        "--model_args", model_args(cfg, model),
        "--tasks", ",".join(tasks),
        "--include_path", str(include_path),
        "--gen_kwargs", f"max_gen_toks={gen}",
        "--batch_size", cfg.batch_size,
        "--output_path", str(cfg.out),
        "--log_samples",
    ]  # fmt: skip
    if cfg.apply_chat_template:
        cmd.append("--apply_chat_template")
    if cfg.limit is not None:
        cmd += ["--limit", str(cfg.limit)]
    if cfg.preview:
        cmd += ["--metadata", json.dumps({"preview": str(Path(cfg.preview).resolve())})]
    return cmd


def plan(cfg: RunConfig) -> list[tuple[str, list[str]]]:
    """(model, pending tasks) per model, after checking the local model paths up front."""
    for condition in cfg.conditions:
        if condition not in CONDITIONS:
            raise SparkleError(f"unknown condition {condition!r}; use some of {', '.join(CONDITIONS)}")
    for benchmark in cfg.benchmarks:
        if benchmark not in BENCHMARKS:
            raise SparkleError(f"unknown benchmark {benchmark!r}; use some of {', '.join(BENCHMARKS)}")
    for model in cfg.models:
        if _looks_like_path(model) and not (Path(model).expanduser() / "config.json").is_file():
            raise SparkleError(f"{model}: no model there (config.json missing); convert the checkpoint first")
    if cfg.preview and not Path(cfg.preview).exists():
        raise SparkleError(f"{cfg.preview}: no such preview file or folder")
    tasks = [task_name(c, b, cfg.family) for c in cfg.conditions for b in cfg.benchmarks]
    todo = []
    for model in cfg.models:
        done = finished_tasks(output_dir(cfg.out, model))
        pending = [t for t in tasks if t not in done]
        if len(pending) < len(tasks):
            log.info(
                "%s: %d of %d probe tasks already have results; skipping them",
                model,
                len(tasks) - len(pending),
                len(tasks),
            )
        todo.append((model, pending))
    return todo


def run(cfg: RunConfig, dry_run: bool = False) -> int:
    """Run every pending (model, task) pair; returns 0 when all lm-eval processes succeed."""
    include = cfg.out / ".probe_tasks"
    todo = plan(cfg)
    if not dry_run:
        write_task_folder(include / "sparkle_probes", repeats=cfg.repeats)
    failures = 0
    for model, pending in todo:
        if not pending:
            log.info("%s: every probe task is finished", model)
            continue
        cmd = command(cfg, model, pending, include)
        log.info("%s: running %d probe tasks", model, len(pending))
        if dry_run:
            print(shlex.join(cmd))
            continue
        status = subprocess.run(cmd, env=os.environ.copy(), check=False).returncode
        if status != 0:
            log.error("%s: lm-eval exited with status %d", model, status)
            failures += 1
    return 1 if failures else 0
