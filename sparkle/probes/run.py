"""`sparkle probe run`: lm-eval (vLLM by default) over the probe tasks for one or more models, one lm-eval
process per model, skipping the (model, task) pairs that already have results and samples in the output
folder (like the original `eval_all_vllm.sh`). Model checks, context capping, the lm-eval command line and
its execution are the main evaluation's (`sparkle.evaluate.run`), so both runs sample alike."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sparkle.errors import SparkleError
from sparkle.evaluate.results import collect_results
from sparkle.evaluate.run import (
    DEFAULT_MAX_MODEL_LEN,
    ModelRun,
    check_model,
    execute,
    lengths,
    lm_eval_command,
)
from sparkle.log import get_logger
from sparkle.probes.taskgen import DEFAULT_REPEATS, write_task_folder
from sparkle.probes.tasks import PREVIEW_FILE, task_name
from sparkle.prompts import CONDITIONS, FAMILIES
from sparkle.registry import BENCHMARKS

log = get_logger(__name__)


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
    max_model_len: int = DEFAULT_MAX_MODEL_LEN
    max_gen_toks: int | None = None
    tensor_parallel_size: int = 1
    data_parallel_size: int = 1
    gpu_memory_utilization: float = 0.8
    batch_size: str = "auto"
    limit: int | None = None
    data_dir: str | None = None
    model_args: str | None = None
    force: bool = False


def finished_tasks(out: Path, model: str, tasks: list[str]) -> set[str]:
    """Which of ``tasks`` already have results and samples for ``model`` under ``out``."""
    if not out.is_dir():
        return set()
    return {
        r.task for r in collect_results([out], tasks=tasks) if r.model == model and r.samples_file is not None
    }


def plan(cfg: RunConfig) -> list[ModelRun]:
    """One lm-eval run per model with its pending probe tasks, after checking every model up front."""
    for condition in cfg.conditions:
        if condition not in CONDITIONS:
            raise SparkleError(f"unknown condition {condition!r}; use some of {', '.join(CONDITIONS)}")
    for benchmark in cfg.benchmarks:
        if benchmark not in BENCHMARKS:
            raise SparkleError(f"unknown benchmark {benchmark!r}; use some of {', '.join(BENCHMARKS)}")
    if cfg.family not in FAMILIES:
        raise SparkleError(f"unknown prompt family {cfg.family!r}; use one of {', '.join(FAMILIES)}")
    if cfg.repeats < 1:
        raise SparkleError(f"--repeats must be at least 1, got {cfg.repeats}")
    if cfg.data_dir and not (Path(cfg.data_dir) / PREVIEW_FILE).is_file():
        raise SparkleError(
            f"--data-dir {cfg.data_dir}: no {PREVIEW_FILE} there; write it with `sparkle data probes --out DIR`"
        )
    if not cfg.models:
        raise SparkleError("no models: give --model at least once")
    models = [check_model(m) for m in cfg.models]  # all of them before any run starts
    tasks = [task_name(c, b, cfg.family) for c in cfg.conditions for b in cfg.benchmarks]
    include = cfg.out / f"_probe_tasks_k{cfg.repeats}"
    runs = []
    for model in models:
        skipped = [] if cfg.force else [t for t in tasks if t in finished_tasks(cfg.out, model, tasks)]
        todo = [t for t in tasks if t not in skipped]
        length, gen = lengths(model, cfg.max_model_len, cfg.max_gen_toks)
        command = lm_eval_command(
            model,
            todo,
            cfg.out,
            include,
            backend=cfg.backend,
            max_model_len=length,
            max_gen_toks=gen,
            tensor_parallel_size=cfg.tensor_parallel_size,
            data_parallel_size=cfg.data_parallel_size,
            gpu_memory_utilization=cfg.gpu_memory_utilization,
            batch_size=cfg.batch_size,
            data_dir=str(Path(cfg.data_dir).resolve()) if cfg.data_dir else None,
            limit=cfg.limit,
            extra_model_args=cfg.model_args,
        )
        runs.append(ModelRun(model, todo, skipped, length, gen, command))
    return runs


def run(cfg: RunConfig, dry_run: bool = False) -> int:
    """Run every pending (model, task) pair; returns lm-eval's exit status (0 when all succeed)."""
    runs = plan(cfg)
    if not dry_run and any(r.tasks for r in runs):
        # The task folder with this run's repeats (the committed eval/tasks/sparkle_probes has 8).
        write_task_folder(cfg.out / f"_probe_tasks_k{cfg.repeats}" / "sparkle_probes", repeats=cfg.repeats)
    for r in runs:
        if not r.tasks:
            log.info("%s: every requested probe task is finished", r.model)
    return execute(runs, dry_run=dry_run)
