"""`sparkle eval run` (and `scripts/eval/eval_all_vllm.sh`): models × benchmark tasks through lm-eval.

For each model: check it up front (a local path must be a model folder; anything else must look like a
Hub id), cap ``max_model_len`` to the model's context, skip the tasks that already have results under the
output folder, and run the rest in one lm-eval invocation (vLLM by default, or hf) with the chat
template applied and every run's samples logged. Generation per SPEC §7: T = 0.6, top_p = 1.0, EOS only;
``max_gen_toks`` = ``max_model_len`` − 1000 (31,768 for a 32,768 context) unless given.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from sparkle.errors import SparkleError
from sparkle.evaluate.results import collect_results
from sparkle.evaluate.tasks import DEFAULT_SAMPLES, GROUP, TASKS, write_task_folder
from sparkle.log import get_logger

log = get_logger(__name__)

DEFAULT_MAX_MODEL_LEN = 32768
PROMPT_RESERVE = 1000  # tokens kept for the prompt: 32,768 − 31,768 (SPEC §7)
REPO_TASKS = Path(__file__).resolve().parents[2] / "eval" / "tasks"
BACKENDS = ("vllm", "hf")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
# Config keys that give a model's context length, most specific first.
_CONTEXT_KEYS = ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length")


@dataclass
class ModelRun:
    """One lm-eval invocation: a model and the tasks it still lacks."""

    model: str
    tasks: list[str]
    skipped: list[str]
    max_model_len: int
    max_gen_toks: int
    command: list[str]


def expand_tasks(tasks: list[str] | None) -> list[str]:
    """Task names (``sparkle_bench`` = all five); unknown names are an error."""
    out: list[str] = []
    for task in tasks or [GROUP]:
        for name in (t.strip() for t in task.split(",")):
            if not name:
                continue
            if name == GROUP:
                out += [t for t in TASKS if t not in out]
            elif name in TASKS:
                out += [name] if name not in out else []
            else:
                raise SparkleError(
                    f"unknown benchmark task {name!r}; use {GROUP} or any of {', '.join(TASKS)}"
                )
    return out


def is_local_model(model: str) -> bool:
    """Whether ``model`` names a local path (absolute, ./ ~ prefixed, or existing) rather than a Hub id."""
    return model.startswith(("/", ".", "~")) or Path(model).expanduser().exists() or not _HUB_ID.match(model)


def check_model(model: str) -> str:
    """The model as lm-eval should get it: a local folder (absolute, must hold config.json) or a Hub id."""
    if not is_local_model(model):
        return model
    path = Path(model).expanduser()
    if not path.is_dir():
        raise SparkleError(
            f"model {model}: no such folder; give a local HF model folder (config.json, weights, tokenizer) "
            "or a Hub id such as org/name"
        )
    if not (path / "config.json").is_file():
        hint = (
            " (a verl checkpoint? convert it first: python eval/fsdp2hf.py ...)"
            if any(path.glob("*.pt"))
            else ""
        )
        raise SparkleError(f"model {model}: {path / 'config.json'} is missing; not a HF model folder{hint}")
    return str(path.resolve())


def model_context(model: str) -> int | None:
    """The model's context length from its config (local config.json, else transformers' AutoConfig), or
    None when it cannot be read."""
    config: dict = {}
    local = Path(model) / "config.json"
    if local.is_file():
        config = json.loads(local.read_text(encoding="utf-8"))
    else:
        try:
            from transformers import AutoConfig

            config = AutoConfig.from_pretrained(model).to_dict()
        except Exception as e:  # noqa: BLE001 — no network / gated repo: fall back to the requested length
            log.warning("%s: cannot read its config (%s); not capping max_model_len", model, e)
            return None
    for source in (config, config.get("text_config") or {}):
        for key in _CONTEXT_KEYS:
            if isinstance(source.get(key), int) and source[key] > 0:
                return int(source[key])
    return None


def lengths(model: str, max_model_len: int, max_gen_toks: int | None) -> tuple[int, int]:
    """(max_model_len capped to the model's context, max_gen_toks capped to leave room for the prompt)."""
    context = model_context(model)
    length = min(max_model_len, context) if context else max_model_len
    if context and context < max_model_len:
        log.info("%s: context %d < %d, max_model_len capped to %d", model, context, max_model_len, length)
    cap = max(1, length - PROMPT_RESERVE)
    gen = cap if max_gen_toks is None else min(max_gen_toks, cap)
    if max_gen_toks is not None and gen < max_gen_toks:
        log.info("%s: max_gen_toks %d capped to %d (max_model_len %d)", model, max_gen_toks, gen, length)
    return length, gen


def _same_model(recorded: str, model: str) -> bool:
    """Whether a results file's model is ``model`` (local paths compared after resolving them)."""
    if recorded == model:
        return True
    path = Path(recorded).expanduser()
    return path.is_dir() and str(path.resolve()) == model


def done_tasks(out_dir: str | os.PathLike[str], model: str, samples: int = DEFAULT_SAMPLES) -> set[str]:
    """Tasks of ``model`` that already have results with ``samples`` samples per problem under ``out_dir``."""
    if not Path(out_dir).is_dir():
        return set()
    return {
        r.task
        for r in collect_results([out_dir], tasks=TASKS)
        if _same_model(r.model, model) and r.samples == samples
    }


def lm_eval_command(
    model: str,
    tasks: list[str],
    out_dir: str | os.PathLike[str],
    include_path: str | os.PathLike[str],
    *,
    backend: str = "vllm",
    max_model_len: int,
    max_gen_toks: int,
    tensor_parallel_size: int = 1,
    data_parallel_size: int = 1,
    gpu_memory_utilization: float = 0.8,
    batch_size: str = "auto",
    data_dir: str | None = None,
    family: str | None = None,
    limit: int | None = None,
    extra_model_args: str | None = None,
) -> list[str]:
    """The lm-eval command line for one model and its tasks."""
    if backend == "vllm":
        args = [
            f"pretrained={model}",
            f"tensor_parallel_size={tensor_parallel_size}",
            f"data_parallel_size={data_parallel_size}",
            f"max_model_len={max_model_len}",
            f"gpu_memory_utilization={gpu_memory_utilization}",
            f"max_gen_toks={max_gen_toks}",
            "dtype=auto",
        ]
    elif backend == "hf":
        args = [f"pretrained={model}", f"max_length={max_model_len}", "dtype=auto"]
    else:
        raise SparkleError(f"unknown backend {backend!r}; use one of {', '.join(BACKENDS)}")
    if extra_model_args:
        args.append(extra_model_args)
    command = [
        sys.executable, "-m", "lm_eval",
        "--model", backend,
        "--model_args", ",".join(args),
        "--tasks", ",".join(tasks),
        "--include_path", str(include_path),
        "--apply_chat_template",
        "--log_samples",
        "--output_path", str(out_dir),
        "--gen_kwargs", f"max_gen_toks={max_gen_toks}",
        "--batch_size", str(batch_size),
    ]  # fmt: skip
    metadata = {k: v for k, v in (("data_dir", data_dir), ("family", family)) if v}
    if metadata:
        command += ["--metadata", json.dumps(metadata)]
    if limit is not None:
        command += ["--limit", str(limit)]
    return command


def plan_runs(
    models: list[str],
    tasks: list[str] | None,
    out_dir: str | os.PathLike[str],
    *,
    samples: int = DEFAULT_SAMPLES,
    max_model_len: int = DEFAULT_MAX_MODEL_LEN,
    max_gen_toks: int | None = None,
    force: bool = False,
    **command_kwargs,
) -> list[ModelRun]:
    """Check every model first, then one run per model with the tasks that have no results yet."""
    if not models:
        raise SparkleError(
            "no models: give --models, or set PATH_TO_STAGE_ONE_MODEL / PATH_TO_STAGE_TWO_MODEL"
        )
    if samples < 1:
        raise SparkleError(f"--samples must be at least 1, got {samples}")
    names = expand_tasks(tasks)
    checked = [check_model(m) for m in models]  # all of them before any run starts
    data_dir = command_kwargs.get("data_dir")
    if data_dir and not Path(data_dir).is_dir():
        raise SparkleError(
            f"--data-dir {data_dir}: no such folder; write it with `sparkle data benchmarks --out DIR`"
        )
    include = REPO_TASKS
    if samples != DEFAULT_SAMPLES or not (REPO_TASKS / "sparkle_bench").is_dir():
        include = Path(out_dir) / f"_tasks_k{samples}"
        write_task_folder(include / "sparkle_bench", samples=samples)
    runs = []
    for model in checked:
        skipped = [] if force else sorted(done_tasks(out_dir, model, samples) & set(names), key=names.index)
        todo = [t for t in names if t not in skipped]
        length, gen = lengths(model, max_model_len, max_gen_toks)
        command = lm_eval_command(
            model, todo, out_dir, include, max_model_len=length, max_gen_toks=gen, **command_kwargs
        )
        runs.append(ModelRun(model, todo, skipped, length, gen, command))
    return runs


def execute(runs: list[ModelRun], dry_run: bool = False) -> int:
    """Run the planned lm-eval commands in order; the first failure stops (its exit status is returned)."""
    for run in runs:
        if run.skipped:
            log.info("%s: results exist for %s; skipping them", run.model, ", ".join(run.skipped))
        if not run.tasks:
            continue
        log.info("%s: %s", run.model, shlex.join(run.command))
        if dry_run:
            print(shlex.join(run.command))
            continue
        status = subprocess.call(run.command)
        if status != 0:
            log.error("lm-eval failed for %s (exit status %d)", run.model, status)
            return status
    return 0
