"""The one lm-eval runner behind `sparkle eval run`, `sparkle probe run`, `scripts/eval/eval_all_vllm.sh`
and `sparkle pipeline`.

Both commands describe a run with the same :class:`Settings` and differ only in their :class:`Suite` (the
benchmark tasks or the probe tasks: task names, task folder, prompts). For each model :func:`plan`

1. checks it up front (a local path must be a model folder; anything else must look like a Hub id);
2. skips the tasks that are *done*: results for the same model, task, samples per problem and settings
   (family, limit, context and generation caps) under the output folder (:func:`done_tasks`);
3. caps the context to the model's and sizes the generation budget from the longest prompt of the run
   (the pending tasks' prompts through the model's tokenizer and chat template): budget = context −
   longest prompt, at most ``max_gen_toks`` (default 31,768, the paper's), never below half the context.
   Prompts that still do not fit (lm-eval would cut them from the left, chat header and instruction
   first) are counted per task, logged, and recorded in the results file, where the report reads them;
4. spreads the run over every visible GPU: ``dp`` = visible GPUs // ``tp`` unless given.

:func:`execute` writes the task folder for the run's samples per problem and then runs one lm-eval
process per model (vLLM by default, or hf), chat template applied and every sample logged. Sampling is
the paper's: T = 0.6, top_p = 1.0, EOS only.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shlex
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sparkle.errors import SparkleError
from sparkle.evaluate.results import RUN_METADATA_KEY, collect_results
from sparkle.evaluate.tasks import (
    DEFAULT_MAX_GEN_TOKS,
    DEFAULT_SAMPLES,
    GROUP,
    TASKS,
    task_prompts,
    write_task_folder,
)
from sparkle.log import get_logger
from sparkle.paths import is_hub_id
from sparkle.prompts import FAMILIES

log = get_logger(__name__)

DEFAULT_MAX_MODEL_LEN = 32768
PROMPT_RESERVE = 1000  # prompt room when the prompts cannot be measured: 32,768 − 31,768, the paper's split
BACKENDS = ("vllm", "hf")
# Config keys that give a model's context length, most specific first.
_CONTEXT_KEYS = ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length")


@dataclass(frozen=True)
class Settings:
    """Everything one run needs besides its tasks; the defaults are the paper's protocol."""

    models: tuple[str, ...]
    out: Path
    samples: int = DEFAULT_SAMPLES
    backend: str = "vllm"
    tp: int = 1
    dp: int | None = None  # None: every visible GPU (visible GPUs // tp)
    max_model_len: int = DEFAULT_MAX_MODEL_LEN
    max_gen_toks: int | None = None  # cap of the generation budget; None: DEFAULT_MAX_GEN_TOKS
    gpu_memory_utilization: float = 0.8
    batch_size: str = "auto"
    data_dir: str | None = None
    family: str = "sparkle"
    limit: int | None = None
    model_args: str | None = None
    force: bool = False

    def key(self) -> dict[str, Any]:
        """The settings a result depends on: a task is done only when its results recorded these."""
        return {
            "samples": self.samples,
            "family": self.family,
            "limit": self.limit,
            "max_model_len": self.max_model_len,
            "max_gen_toks": self.max_gen_toks,
        }


@dataclass(frozen=True)
class Suite:
    """A family of lm-eval tasks the runner can plan: the benchmarks or the probes."""

    name: str  # the task folder's name (and group): sparkle_bench, sparkle_probes
    write_folder: Callable[..., Any]  # (folder, samples, max_gen_toks) -> written files
    prompts: Callable[[str, str | None, str], list[str]]  # (task, data_dir, family) -> user messages
    check_data_dir: Callable[[str], None]


@dataclass
class ModelRun:
    """One lm-eval invocation: a model and the tasks it still lacks."""

    model: str
    tasks: list[str]
    skipped: list[str]
    max_model_len: int
    max_gen_toks: int
    command: list[str]
    prompts: dict[str, dict[str, int]] = field(default_factory=dict)  # task -> count, longest, too_long

    @property
    def too_long(self) -> int | None:
        """Prompts of this run that do not fit beside the generation budget (None: not measured)."""
        return sum(p["too_long"] for p in self.prompts.values()) if self.prompts else None


# ---------------------------------------------------------------------------------------------------------
# Models, contexts and GPUs


def is_local_model(model: str) -> bool:
    """Whether ``model`` names a local path (absolute, ./ ~ prefixed, or existing) rather than a Hub id."""
    return not is_hub_id(model, bare_names=True)


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
        from sparkle.hub import hub_reachable, in_local_cache

        if not (hub_reachable() or in_local_cache(model, "model")):
            log.warning(
                "%s: the Hub cannot be reached and the model is not cached; not capping max_model_len", model
            )
            return None
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


def visible_gpus() -> int:
    """GPUs this process may use: the entries of ``CUDA_VISIBLE_DEVICES`` when it is set, else what torch
    counts (0 without CUDA)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        entries = [e.strip() for e in visible.split(",") if e.strip()]
        # CUDA stops at the first invalid entry (e.g. -1): the devices before it are the visible ones.
        count = next((i for i, e in enumerate(entries) if e.startswith("-")), len(entries))
        return count
    try:
        import torch

        return int(torch.cuda.device_count())
    except Exception:  # noqa: BLE001 — no torch / broken driver: no GPU to count
        return 0


def data_parallel(backend: str, tp: int, dp: int | None, gpus: int | None = None) -> int:
    """The vLLM replicas: ``dp`` when given, else every visible GPU (visible GPUs // tp, at least 1)."""
    if tp < 1 or (dp is not None and dp < 1):
        raise SparkleError(f"--tp and --dp must be at least 1, got --tp {tp} --dp {dp}")
    if backend != "vllm":
        return 1
    gpus = visible_gpus() if gpus is None else gpus
    if gpus and tp > gpus:
        raise SparkleError(f"--tp {tp} needs {tp} GPUs but {gpus} are visible; lower --tp")
    if dp is not None:
        if gpus and dp * tp > gpus:
            log.warning("--dp %d × --tp %d = %d GPUs, but %d are visible", dp, tp, dp * tp, gpus)
        return dp
    replicas = max(1, gpus // tp)
    log.info("%d GPU(s) visible: %d replica(s) × tp %d", gpus, replicas, tp)
    return replicas


# ---------------------------------------------------------------------------------------------------------
# The generation budget


@functools.lru_cache(maxsize=2)
def _tokenizer(model: str):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model)
    tokenizer.model_max_length = 1 << 30  # measuring, not running: no "longer than the maximum" warning
    return tokenizer


def prompt_lengths(model: str, prompts: list[str]) -> list[int]:
    """Token counts of ``prompts`` as lm-eval sends them: one user message through the model's chat
    template (generation prompt added), encoded without extra special tokens."""
    tokenizer = _tokenizer(model)
    if getattr(tokenizer, "chat_template", None):
        texts = [
            tokenizer.apply_chat_template(
                [{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True
            )
            for p in prompts
        ]
    else:
        texts = list(prompts)
    if not texts:
        return []
    return [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]


def generation_budget(context: int, cap: int, longest: int | None) -> int:
    """Tokens to generate: context − longest prompt, at most ``cap``, at least half the context (a longer
    prompt is counted as not fitting rather than starving every sample); without measured prompts,
    context − 1,000."""
    room = context - (PROMPT_RESERVE if longest is None else longest)
    return max(1, min(cap, max(room, context // 2)))


def _budget(
    model: str, settings: Settings, length: int, texts: dict[str, list[str]] | None
) -> tuple[int, dict[str, dict[str, int]]]:
    """(max_gen_toks, per-task prompt figures) for one model's pending tasks."""
    cap = settings.max_gen_toks or DEFAULT_MAX_GEN_TOKS
    if texts is None:
        return generation_budget(length, cap, None), {}
    try:
        counts = {task: prompt_lengths(model, prompts) for task, prompts in texts.items()}
    except (
        OSError,
        ValueError,
        ImportError,
    ) as e:  # no tokenizer here (offline, say): keep the default split
        log.warning(
            "%s: cannot load its tokenizer to measure the prompts (%s); keeping %d tokens for the prompt, "
            "longer prompts will be cut from the left by lm-eval",
            model,
            e,
            PROMPT_RESERVE,
        )
        return generation_budget(length, cap, None), {}
    longest = max((max(c) for c in counts.values() if c), default=0)
    gen = generation_budget(length, cap, longest)
    figures = {
        task: {
            "count": len(c),
            "longest": max(c, default=0),
            "too_long": sum(1 for n in c if n + gen > length),
        }
        for task, c in counts.items()
    }
    too_long = {t: f["too_long"] for t, f in figures.items() if f["too_long"]}
    if too_long:
        log.warning(
            "%s: %d prompt(s) longer than the %d tokens left beside %d generated ones; lm-eval cuts them "
            "from the left (%s)",
            model,
            sum(too_long.values()),
            length - gen,
            gen,
            ", ".join(f"{t}: {n}" for t, n in too_long.items()),
        )
    log.info("%s: longest prompt %d tokens, context %d, max_gen_toks %d", model, longest, length, gen)
    return gen, figures


def _task_texts(suite: Suite, tasks: list[str], settings: Settings) -> dict[str, list[str]] | None:
    """The pending tasks' user messages (the first ``limit`` documents), or None when the documents cannot
    be read here (the Hub offline, say): the budget then falls back to the default split."""
    try:
        texts = {task: suite.prompts(task, settings.data_dir, settings.family) for task in tasks}
    except (SparkleError, OSError, ValueError) as e:  # lm-eval reports the same problem when it reads them
        log.warning("cannot read the documents to measure the prompts (%s); using the default split", e)
        return None
    if settings.limit is not None:
        texts = {task: prompts[: settings.limit] for task, prompts in texts.items()}
    return texts


# ---------------------------------------------------------------------------------------------------------
# Planning


def _same_model(recorded: str, model: str) -> bool:
    """Whether a results file's model is ``model`` (local paths compared after resolving them)."""
    if recorded == model:
        return True
    path = Path(recorded).expanduser()
    return path.is_dir() and str(path.resolve()) == model


def done_tasks(settings: Settings, model: str, tasks: list[str]) -> set[str]:
    """Which of ``tasks`` are done for ``model``: results under ``settings.out`` with the same samples per
    problem and, when the run recorded them, the same settings (results without a record, e.g. from lm-eval
    run by hand, are matched on model, task and samples)."""
    if not Path(settings.out).is_dir():
        return set()
    key = settings.key()
    return {
        r.task
        for r in collect_results([settings.out], tasks=tasks)
        if _same_model(r.model, model)
        and r.samples == settings.samples
        and (r.settings is None or r.settings == key)
    }


def lm_eval_command(
    model: str, tasks: list[str], include_path: Path, settings: Settings, *, max_model_len: int,
    max_gen_toks: int, dp: int, metadata: dict[str, Any],
) -> list[str]:  # fmt: skip
    """The lm-eval command line for one model and its tasks."""
    if settings.backend == "vllm":
        args = [
            f"pretrained={model}",
            f"tensor_parallel_size={settings.tp}",
            f"data_parallel_size={dp}",
            f"max_model_len={max_model_len}",
            f"gpu_memory_utilization={settings.gpu_memory_utilization}",
            f"max_gen_toks={max_gen_toks}",
            "dtype=auto",
        ]
    elif settings.backend == "hf":
        args = [f"pretrained={model}", f"max_length={max_model_len}", "dtype=auto"]
    else:
        raise SparkleError(f"unknown backend {settings.backend!r}; use one of {', '.join(BACKENDS)}")
    if settings.model_args:
        args.append(settings.model_args)
    command = [
        sys.executable, "-m", "lm_eval",
        "--model", settings.backend,
        "--model_args", ",".join(args),
        "--tasks", ",".join(tasks),
        "--include_path", str(include_path),
        "--apply_chat_template",
        "--log_samples",
        "--output_path", str(settings.out),
        "--gen_kwargs", f"max_gen_toks={max_gen_toks}",
        "--batch_size", str(settings.batch_size),
        "--metadata", json.dumps(metadata, sort_keys=True),
    ]  # fmt: skip
    if settings.limit is not None:
        command += ["--limit", str(settings.limit)]
    return command


def task_folder(settings: Settings) -> Path:
    """The ``--include_path`` of a run: the task folders for its samples per problem, under ``out``."""
    return Path(settings.out) / f"_tasks_k{settings.samples}"


def plan(settings: Settings, suite: Suite, tasks: list[str]) -> list[ModelRun]:
    """Check every model and setting first, then one run per model with the tasks that are not done."""
    if not settings.models:
        raise SparkleError(
            "no models: give --model (repeatable; `sparkle eval run` also reads PATH_TO_STAGE_ONE_MODEL / "
            "PATH_TO_STAGE_TWO_MODEL)"
        )
    if settings.samples < 1:
        raise SparkleError(f"--samples must be at least 1, got {settings.samples}")
    if settings.family not in FAMILIES:
        raise SparkleError(f"unknown prompt family {settings.family!r}; use one of {', '.join(FAMILIES)}")
    if settings.backend not in BACKENDS:
        raise SparkleError(f"unknown backend {settings.backend!r}; use one of {', '.join(BACKENDS)}")
    if settings.limit is not None and settings.limit < 1:
        raise SparkleError(f"--limit must be at least 1, got {settings.limit}")
    for name, value in (
        ("--max-model-len", settings.max_model_len),
        ("--max-gen-toks", settings.max_gen_toks),
    ):
        if value is not None and value < 1:
            raise SparkleError(f"{name} must be at least 1, got {value}")
    dp = data_parallel(settings.backend, settings.tp, settings.dp)
    models = [check_model(m) for m in settings.models]  # all of them before any run starts
    if settings.data_dir:
        suite.check_data_dir(settings.data_dir)
        settings = replace(settings, data_dir=str(Path(settings.data_dir).expanduser().resolve()))
    pending = {}
    for model in models:
        done = set() if settings.force else done_tasks(settings, model, tasks)
        pending[model] = [t for t in tasks if t not in done]
    union = [t for t in tasks if any(t in todo for todo in pending.values())]
    texts = _task_texts(suite, union, settings) if union else {}
    runs = []
    for model, todo in pending.items():
        context = model_context(model)
        length = min(settings.max_model_len, context) if context else settings.max_model_len
        if context and context < settings.max_model_len:
            log.info(
                "%s: context %d < %d, max_model_len capped to %d",
                model,
                context,
                settings.max_model_len,
                length,
            )
        gen, figures = settings.max_gen_toks or DEFAULT_MAX_GEN_TOKS, {}
        if todo:
            gen, figures = _budget(
                model, settings, length, None if texts is None else {t: texts[t] for t in todo}
            )
        metadata = {
            "family": settings.family,
            RUN_METADATA_KEY: {"settings": settings.key(), "prompts": figures, "max_gen_toks": gen},
        }
        if settings.data_dir:
            metadata["data_dir"] = settings.data_dir
        command = lm_eval_command(
            model, todo, task_folder(settings), settings, max_model_len=length, max_gen_toks=gen, dp=dp,
            metadata=metadata,
        )  # fmt: skip
        skipped = [t for t in tasks if t not in todo]
        runs.append(ModelRun(model, todo, skipped, length, gen, command, figures))
    return runs


def expand_tasks(tasks: list[str] | None) -> list[str]:
    """Benchmark task names (``sparkle_bench`` = all five, comma lists allowed); unknown names are an error."""
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


def _check_bench_data_dir(data_dir: str) -> None:
    if not Path(data_dir).expanduser().is_dir():
        raise SparkleError(
            f"--data-dir {data_dir}: no such folder; write it with `sparkle data benchmarks --out DIR`"
        )


BENCH = Suite(GROUP, write_task_folder, task_prompts, _check_bench_data_dir)


def _results_files(out: Path) -> set[Path]:
    return set(out.rglob("results_*.json")) if out.is_dir() else set()


def execute(runs: list[ModelRun], settings: Settings, suite: Suite, dry_run: bool = False) -> int:
    """Write the run's task folder, then run the planned lm-eval commands in order; the first failure
    stops (its exit status is returned). Prints every results file it wrote."""
    out = Path(settings.out)
    before = _results_files(out)
    if not dry_run:
        from sparkle.hub import require_hub

        for run in runs:  # offline and not cached: one line now, not lm-eval's retries and traceback later
            if run.tasks and not is_local_model(run.model):
                require_hub(run.model, "model")
    if not dry_run and any(r.tasks for r in runs):
        suite.write_folder(
            task_folder(settings) / suite.name,
            settings.samples,
            settings.max_gen_toks or DEFAULT_MAX_GEN_TOKS,
        )
    for run in runs:
        if run.skipped:
            log.info("%s: results exist for %s; skipping them", run.model, ", ".join(run.skipped))
        if not run.tasks:
            log.info("%s: every requested task is done (--force reruns them)", run.model)
            continue
        log.info("%s: %s", run.model, shlex.join(run.command))
        if dry_run:
            print(shlex.join(run.command))
            continue
        status = subprocess.call(run.command)
        if status != 0:
            log.error("lm-eval failed for %s (exit status %d)", run.model, status)
            return status
    for path in sorted(_results_files(out) - before):
        print(path)
    return 0


# ---------------------------------------------------------------------------------------------------------
# The flags both runners share


# Old spellings scripts may still use: accepted, not shown in --help.
HIDDEN_ALIASES = (
    ("--output", "out", Path),
    ("--repeats", "samples", int),
    ("--tensor-parallel-size", "tp", int),
    ("--data-parallel-size", "dp", int),
)


def add_engine_arguments(parser: argparse.ArgumentParser, purpose: str = "") -> None:
    """``--backend``, ``--tp`` and ``--dp``: how lm-eval runs a model, the same flags wherever a command
    launches lm-eval (``purpose`` names what for in the help, e.g. " for evaluation and probes")."""
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default="vllm",
        help=f"lm-eval backend{purpose} (default vllm; hf: CPU checks)",
    )
    parser.add_argument("--tp", type=int, default=1, help=f"vLLM tensor parallel size{purpose} (default 1)")
    parser.add_argument(
        "--dp",
        type=int,
        default=None,
        help=f"vLLM data parallel replicas{purpose} (default: every visible GPU, i.e. visible GPUs // tp)",
    )


def add_run_command(
    subparsers: argparse._SubParsersAction, what: str, data_dir_help: str, models_note: str = ""
) -> argparse.ArgumentParser:
    """The ``run`` subcommand of `sparkle eval` and `sparkle probe` (``what`` it runs), with the flags both
    share."""
    parser = subparsers.add_parser(
        "run",
        help=f"{what} through lm-eval for each model (vLLM by default); done tasks are skipped",
        description=f"Run {what} for each model. {models_note}Local model paths are checked before "
        "anything runs; vLLM runs on every visible GPU (replicas × --tp) unless --dp is given; the generation "
        "budget is the context minus the run's longest prompt, and prompts that still do not fit are counted "
        "and reported.",
    )
    parser.add_argument(
        "--model",
        dest="models",
        action="append",
        default=None,
        metavar="MODEL",
        help="model folder or Hub id (repeatable; a comma list also works)",
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="lm-eval output folder, required (done tasks are skipped)"
    )
    parser.add_argument(
        "--samples",
        type=int,
        default=DEFAULT_SAMPLES,
        help=f"samples per problem (default {DEFAULT_SAMPLES}: Avg@{DEFAULT_SAMPLES})",
    )
    parser.add_argument(
        "--family",
        choices=FAMILIES,
        default="sparkle",
        help="prompt family: sparkle (<think>/<answer>, default) or srl (boxed instruction)",
    )
    add_engine_arguments(parser)
    parser.add_argument(
        "--max-model-len",
        type=int,
        default=DEFAULT_MAX_MODEL_LEN,
        help=f"context (default {DEFAULT_MAX_MODEL_LEN}), capped to the model's",
    )
    parser.add_argument(
        "--max-gen-toks",
        type=int,
        default=None,
        help=f"cap of the generation budget (default {DEFAULT_MAX_GEN_TOKS}); the budget is the context "
        "minus the run's longest prompt, up to this cap",
    )
    parser.add_argument("--gpu-memory-utilization", type=float, default=0.8, help="vLLM (default 0.8)")
    parser.add_argument("--batch-size", default="auto", help="lm-eval batch size (default auto)")
    parser.add_argument(
        "--limit",
        type=int,
        default=None,
        help="only the first N documents per task (smoke runs; a limited run is not a full one)",
    )
    parser.add_argument("--data-dir", default=None, help=data_dir_help)
    parser.add_argument("--model-args", default=None, help="extra lm-eval model_args, appended (k=v,k=v)")
    parser.add_argument("--force", action="store_true", help="rerun tasks that already have results")
    parser.add_argument(
        "--dry-run", action="store_true", help="print the lm-eval commands; run and write nothing"
    )
    hidden = argparse.SUPPRESS
    parser.add_argument("--models", dest="models", nargs="+", action="extend", default=hidden, help=hidden)
    for alias, dest, kind in HIDDEN_ALIASES:
        parser.add_argument(alias, dest=dest, type=kind, default=hidden, help=hidden)
    return parser


def settings_from_args(args: argparse.Namespace, models: list[str]) -> Settings:
    """The run settings of parsed `add_run_arguments` flags (``models`` already resolved by the caller)."""
    if args.out is None:
        raise SparkleError("--out is required: the folder lm-eval writes results and samples to")
    return Settings(
        models=tuple(m for spec in models for m in spec.split(",") if m),
        out=args.out,
        samples=args.samples,
        backend=args.backend,
        tp=args.tp,
        dp=args.dp,
        max_model_len=args.max_model_len,
        max_gen_toks=args.max_gen_toks,
        gpu_memory_utilization=args.gpu_memory_utilization,
        batch_size=args.batch_size,
        data_dir=args.data_dir,
        family=args.family,
        limit=args.limit,
        model_args=args.model_args,
        force=args.force,
    )
