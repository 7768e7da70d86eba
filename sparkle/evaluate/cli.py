"""`sparkle eval run|tasks`, `sparkle report` and `sparkle rescore`."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from sparkle.prompts import FAMILIES

STAGE_MODEL_ENVS = ("PATH_TO_STAGE_ONE_MODEL", "PATH_TO_STAGE_TWO_MODEL")


def _models(args: argparse.Namespace) -> list[str]:
    """--models, else the original scripts' PATH_TO_STAGE_ONE_MODEL / PATH_TO_STAGE_TWO_MODEL."""
    if args.models:
        return [m for spec in args.models for m in spec.split(",") if m]
    return [os.environ[name] for name in STAGE_MODEL_ENVS if os.environ.get(name)]


def _run(args: argparse.Namespace) -> int:
    from sparkle.evaluate.run import execute, plan_runs

    runs = plan_runs(
        _models(args),
        args.tasks,
        args.out,
        samples=args.samples,
        max_model_len=args.max_model_len,
        max_gen_toks=args.max_gen_toks,
        force=args.force,
        backend=args.backend,
        tensor_parallel_size=args.tensor_parallel_size,
        data_parallel_size=args.data_parallel_size,
        gpu_memory_utilization=args.gpu_memory_utilization,
        batch_size=args.batch_size,
        data_dir=args.data_dir,
        family=args.family,
        limit=args.limit,
        extra_model_args=args.model_args,
    )
    return execute(runs, dry_run=args.dry_run)


def _tasks(args: argparse.Namespace) -> int:
    from sparkle.evaluate.tasks import write_task_folder

    write_task_folder(args.out, samples=args.samples, max_gen_toks=args.max_gen_toks)
    print(args.out)
    return 0


def _report(args: argparse.Namespace) -> int:
    from sparkle.evaluate.report import build_report

    for path in build_report(args.paths, args.out):
        print(path)
    return 0


def _rescore(args: argparse.Namespace) -> int:
    from sparkle.evaluate.rescore import rescore, summary_markdown, write_rescored

    tasks = rescore(args.paths, policy=args.policy, timeout=args.timeout, out=args.out)
    print(summary_markdown(tasks), end="")
    if args.out:
        write_rescored(tasks, args.out)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    from sparkle.evaluate.tasks import DEFAULT_MAX_GEN_TOKS, DEFAULT_SAMPLES

    parser = subparsers.add_parser(
        "eval", help="benchmark evaluation with lm-eval (Avg@8 on the five benchmarks)"
    )
    sub = parser.add_subparsers(dest="eval_command", metavar="SUBCOMMAND", required=True)

    run = sub.add_parser(
        "run",
        help="models × benchmark tasks through lm-eval (vLLM by default); tasks with results are skipped",
        description="Run the sparkle_bench tasks for each model. Models come from --models or from "
        "PATH_TO_STAGE_ONE_MODEL / PATH_TO_STAGE_TWO_MODEL; local paths are checked before anything runs.",
    )
    run.add_argument("--models", nargs="+", default=None, help="model folders or Hub ids (or a comma list)")
    run.add_argument(
        "--tasks", nargs="+", default=None, help="task names or sparkle_bench (default: all five)"
    )
    run.add_argument("--out", type=Path, required=True, help="lm-eval --output_path (results and samples)")
    run.add_argument(
        "--backend", choices=("vllm", "hf"), default="vllm", help="lm-eval backend (hf for CPU checks)"
    )
    run.add_argument(
        "--samples", type=int, default=DEFAULT_SAMPLES, help="samples per problem (default 8: Avg@8)"
    )
    run.add_argument("--max-model-len", type=int, default=32768, help="capped to the model's context")
    run.add_argument("--max-gen-toks", type=int, default=None, help="default: max-model-len − 1000")
    run.add_argument("--tensor-parallel-size", "--tp", type=int, default=1)
    run.add_argument(
        "--data-parallel-size", "--dp", type=int, default=1, help="vLLM data parallel (needs Ray)"
    )
    run.add_argument("--gpu-memory-utilization", type=float, default=0.8)
    run.add_argument("--batch-size", default="auto")
    run.add_argument(
        "--data-dir", default=None, help="local benchmarks (`sparkle data benchmarks --out DIR`)"
    )
    run.add_argument("--family", choices=FAMILIES, default=None, help="prompt family (default sparkle)")
    run.add_argument(
        "--limit", type=int, default=None, help="only the first N problems per task (smoke runs)"
    )
    run.add_argument("--model-args", default=None, help="extra lm-eval model_args, appended (k=v,k=v)")
    run.add_argument("--force", action="store_true", help="rerun tasks that already have results")
    run.add_argument("--dry-run", action="store_true", help="print the lm-eval commands without running them")
    run.set_defaults(func=_run)

    tasks = sub.add_parser("tasks", help="write the benchmark task folder for another number of samples")
    tasks.add_argument(
        "--out", type=Path, required=True, help="folder to write (pass its parent to --include_path)"
    )
    tasks.add_argument(
        "--samples", type=int, default=DEFAULT_SAMPLES, help="samples per problem (k of avg@k)"
    )
    tasks.add_argument("--max-gen-toks", type=int, default=DEFAULT_MAX_GEN_TOKS)
    tasks.set_defaults(func=_tasks)

    report = subparsers.add_parser(
        "report",
        help="main table (Avg@8 per benchmark vs the paper) as Markdown, CSV and PNG, plus pass@k curves",
    )
    report.add_argument("paths", nargs="+", help="lm-eval output folders or results_*.json files")
    report.add_argument("--out", type=Path, default=Path("report"), help="output folder (default ./report)")
    report.set_defaults(func=_report)

    rescore = subparsers.add_parser(
        "rescore", help="re-grade saved lm-eval samples with another grading policy"
    )
    rescore.add_argument("paths", nargs="+", help="samples_*.jsonl files or folders holding them")
    rescore.add_argument(
        "--policy",
        choices=("eval", "train", "math_verify"),
        default="math_verify",
        help="grading policy to re-grade with (default math_verify)",
    )
    rescore.add_argument(
        "--timeout", type=float, default=None, help="seconds per symbolic comparison (default: the grader's)"
    )
    rescore.add_argument(
        "--out",
        type=Path,
        default=None,
        help="write re-graded samples + results here, outside the inputs (default: print the summary only)",
    )
    rescore.set_defaults(func=_rescore)
