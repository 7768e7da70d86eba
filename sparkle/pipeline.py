"""`sparkle pipeline`: the paper-scale SparkleRL pipeline on a GPU cluster, step by step, with resume.

data → stage one (GRPO) → convert → stage two (aug by default) → convert → evaluation → probes → reports.
Every step is the documented command a user could type (printed before it runs); a step that succeeds is
recorded in ``OUT/pipeline_state.json`` and skipped on the next run, and the steps themselves resume:
verl continues from its latest checkpoint, the evaluations skip finished (model, task) pairs. ``--dry-run``
prints the whole plan without running anything.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sparkle.data.names import TRAIN_STEM, VAL_STEM, stage_two_parquet
from sparkle.data.names import VARIANTS as STAGE_TWO_VARIANTS
from sparkle.errors import SparkleError
from sparkle.io import write_json_atomic
from sparkle.log import get_logger
from sparkle.paths import repo_root
from sparkle.registry import BASE_MODEL, BENCHMARKS
from sparkle.steps import data_commands, report_commands, runner_command
from sparkle.train.launch import ATTN_CHOICES
from sparkle.train.tracker import latest_step, step_folder, tracker_path

log = get_logger(__name__)

# File names inside a local --data-dir (the same layout `sparkle demo --data-dir` reads).
LOCAL_SOURCES = {
    "train": "train.jsonl",
    "hardmath": "hardmath.jsonl",
    "preview": "sparkle_preview.jsonl",
    **{b: f"{b}.jsonl" for b in BENCHMARKS},
}


def local_sources(data_dir: Path) -> dict[str, Path]:
    """The input files of a local data folder; a missing one is an error naming it and the layout."""
    paths = {key: data_dir / name for key, name in LOCAL_SOURCES.items()}
    missing = [str(p) for p in paths.values() if not p.exists()]
    if missing:
        raise SparkleError(
            f"data dir {data_dir}: missing {', '.join(missing)}; the folder needs train.jsonl (problem, "
            "solution, answer), hardmath.jsonl (problem, solution, CoT, answer), one JSONL per benchmark "
            f"({', '.join(BENCHMARKS)}) and sparkle_preview.jsonl"
        )
    return paths


@dataclass
class Step:
    """A named step: its commands are built when it runs (a conversion needs the step verl reached)."""

    name: str
    what: str
    commands: Callable[[bool], list[list[str]]]


def latest_global_step(checkpoint_dir: Path, dry_run: bool) -> Path:
    """The newest ``global_step_N`` folder verl wrote (from its checkpoint tracker)."""
    step = latest_step(checkpoint_dir)
    if step is None:
        if dry_run and not tracker_path(checkpoint_dir).exists():
            return checkpoint_dir / "global_step_<latest>"
        raise SparkleError(
            f"{tracker_path(checkpoint_dir)}: no checkpoint to convert; the training step did not save one "
            "(check its log, or trainer.save_freq)"
        )
    return step_folder(checkpoint_dir, step)


def build_steps(args: argparse.Namespace) -> list[Step]:
    out: Path = args.out.resolve()
    data, models, results = out / "data", out / "models", out / "results"
    sparkle = [sys.executable, "-m", "sparkle"]
    src = local_sources(args.data_dir.resolve()) if args.data_dir else None
    variant = args.variant
    stage1_ckpt, stage2_ckpt = out / "checkpoints" / "stage_one", out / "checkpoints" / f"stage_two_{variant}"
    stage1_model, stage2_model = models / "stage1", models / f"stage2-{variant}"
    cluster = ["--nnodes", str(args.nnodes), "--gpus-per-node", str(args.gpus_per_node)]
    if args.attn:
        cluster += ["--attn", args.attn]
    val_file = f"data.val_files={data / f'{VAL_STEM}.parquet'}"

    def data_steps(_: bool) -> list[list[str]]:
        return [[*sparkle, *argv] for argv in data_commands(data, src, variant).values()]

    def train(stage: str, model: str | Path, train_file: str, ckpt: Path) -> list[str]:
        return [
            "bash", str(repo_root() / "scripts" / "train" / f"{stage}.sh"), "--model", str(model), *cluster,
            f"data.train_files={data / train_file}", val_file, f"trainer.default_local_dir={ckpt}", *args.override,
        ]  # fmt: skip

    def convert(ckpt: Path, target: Path, dry_run: bool) -> list[list[str]]:
        fsdp = latest_global_step(ckpt, dry_run)
        return [[*sparkle, "convert", "--fsdp_path", str(fsdp), "--output_path", str(target), "--overwrite"]]

    dp = ["--dp", str(args.dp)] if args.dp else []  # default: the runner uses every visible GPU
    eval_args = ["--backend", args.backend, "--tp", str(args.tp), *dp]

    def runner(group: str, results_dir: Path) -> list[str]:
        """`sparkle eval run` / `sparkle probe run` on both trained models."""
        return [*sparkle, *runner_command(group, [stage1_model, stage2_model], data, results_dir, eval_args)]

    reports = report_commands(
        results / "bench", results / "probes", out / "report", out / "report" / "probes"
    )
    return [
        Step("data", "training, benchmark and probe files", data_steps),
        Step(
            "stage_one",
            "GRPO stage one",
            lambda _: [train("stage_one", args.base_model, f"{TRAIN_STEM}.parquet", stage1_ckpt)],
        ),
        Step(
            "convert_stage_one", "stage-one checkpoint → HF", lambda d: convert(stage1_ckpt, stage1_model, d)
        ),
        Step(
            "stage_two",
            f"GRPO stage two ({variant})",
            lambda _: [train(f"stage_two_{variant}", stage1_model, stage_two_parquet(variant), stage2_ckpt)],
        ),
        Step(
            "convert_stage_two", "stage-two checkpoint → HF", lambda d: convert(stage2_ckpt, stage2_model, d)
        ),
        Step("evaluate", "Avg@8 on the five benchmarks", lambda _: [runner("eval", results / "bench")]),
        Step(
            "probes", "plan / knowledge / subproblem probes", lambda _: [runner("probe", results / "probes")]
        ),
        Step(
            "report",
            "main table and probe report",
            lambda _: [[*sparkle, *reports["report"]], [*sparkle, *reports["probe_report"]]],
        ),
    ]


STEP_NAMES = (
    "data",
    "stage_one",
    "convert_stage_one",
    "stage_two",
    "convert_stage_two",
    "evaluate",
    "probes",
    "report",
)


def _load_state(path: Path) -> dict:
    if not path.exists():
        return {"done": {}}
    try:
        state = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise SparkleError(f"{path}: not valid JSON ({e.msg}); delete it to start the pipeline over") from e
    if not isinstance(state.get("done"), dict):
        raise SparkleError(f"{path}: no 'done' table; delete it to start the pipeline over")
    return state


def run_pipeline(args: argparse.Namespace) -> int:
    steps = build_steps(args)
    names = [s.name for s in steps]
    if args.only:
        selected = args.only
    elif args.from_step:
        selected = names[names.index(args.from_step) :]
    else:
        selected = names
    state_path = args.out.resolve() / "pipeline_state.json"
    state = _load_state(state_path)
    for step in steps:
        if step.name not in selected:
            continue
        if step.name in state["done"] and not args.force:
            log.info(
                "[pipeline] %s: done at %s, skipped (--force to rerun)", step.name, state["done"][step.name]
            )
            continue
        commands = step.commands(args.dry_run)
        log.info("[pipeline] %s: %s", step.name, step.what)
        for command in commands:
            print(shlex.join(command), flush=True)
            if args.dry_run:
                continue
            # The stage scripts run verl with $PYTHON: the interpreter (and environment) of this command.
            result = subprocess.run(command, cwd=repo_root(), env={**os.environ, "PYTHON": sys.executable})
            if result.returncode != 0:
                raise SparkleError(
                    f"step {step.name} failed (exit {result.returncode}): {shlex.join(command)}; fix it and rerun "
                    f"the same command: finished steps are skipped and training resumes from its checkpoint"
                )
        if not args.dry_run:
            state["done"][step.name] = time.strftime("%Y-%m-%dT%H:%M:%S")
            write_json_atomic(state_path, state)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    from sparkle.evaluate.run import add_engine_arguments

    p = subparsers.add_parser(
        "pipeline",
        help="the paper-scale pipeline on GPUs (data, two GRPO stages, conversion, evaluation, probes, report), resumable",
    )
    p.add_argument("--out", type=Path, default=Path("outputs/pipeline"), help="everything goes here")
    p.add_argument(
        "--base-model", default=BASE_MODEL, help=f"model stage one starts from (default {BASE_MODEL})"
    )
    p.add_argument(
        "--variant", choices=STAGE_TWO_VARIANTS, default="aug", help="stage-two variant (default aug, PSS)"
    )
    p.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="local inputs instead of the Hub (layout as `sparkle demo`)",
    )
    p.add_argument("--nnodes", type=int, default=1, help="nodes of the Ray cluster for training (default 1)")
    p.add_argument("--gpus-per-node", type=int, default=8, help="GPUs per node for training (default 8)")
    p.add_argument(
        "--attn",
        choices=ATTN_CHOICES,
        default=None,
        help="attention of verl's actor in both stages: flash_attention_2 (verl's default; needs flash-attn) "
        "or sdpa (no flash-attn; slower). Default: verl's, and training stops early when flash-attn is missing",
    )
    add_engine_arguments(p, " for evaluation and probes")
    p.add_argument(
        "--override", action="append", default=[], help="extra Hydra override for both stages (repeatable)"
    )
    p.add_argument("--only", nargs="+", choices=STEP_NAMES, help="run only these steps")
    p.add_argument("--from", dest="from_step", choices=STEP_NAMES, help="start at this step")
    p.add_argument("--force", action="store_true", help="rerun steps already recorded as done")
    p.add_argument("--dry-run", action="store_true", help="print every command; run nothing")
    p.set_defaults(func=run_pipeline)
