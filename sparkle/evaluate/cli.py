"""`sparkle eval run|tasks`, `sparkle report` and `sparkle rescore`."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

STAGE_MODEL_ENVS = ("PATH_TO_STAGE_ONE_MODEL", "PATH_TO_STAGE_TWO_MODEL")


def _models(args: argparse.Namespace) -> list[str]:
    """--model, else the original scripts' PATH_TO_STAGE_ONE_MODEL / PATH_TO_STAGE_TWO_MODEL."""
    if args.models:
        return list(args.models)
    return [os.environ[name] for name in STAGE_MODEL_ENVS if os.environ.get(name)]


def _run(args: argparse.Namespace) -> int:
    from sparkle.evaluate.run import BENCH, execute, expand_tasks, plan, settings_from_args

    settings = settings_from_args(args, _models(args))
    runs = plan(settings, BENCH, expand_tasks(args.tasks))
    return execute(runs, settings, BENCH, dry_run=args.dry_run)


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
    from sparkle.evaluate.run import add_run_command
    from sparkle.evaluate.tasks import DEFAULT_MAX_GEN_TOKS, DEFAULT_SAMPLES

    parser = subparsers.add_parser(
        "eval", help="benchmark evaluation with lm-eval (Avg@8 on the five benchmarks)"
    )
    sub = parser.add_subparsers(dest="eval_command", metavar="SUBCOMMAND", required=True)

    run = add_run_command(
        sub,
        "the five benchmark tasks (sparkle_bench)",
        "local benchmarks (`sparkle data benchmarks --out DIR`; default $SPARKLE_DATA_DIR, else the Hub)",
        "Models come from --model, else PATH_TO_STAGE_ONE_MODEL / PATH_TO_STAGE_TWO_MODEL. ",
    )
    run.add_argument(
        "--tasks", nargs="+", default=None, help="task names or sparkle_bench (default: all five)"
    )
    run.set_defaults(func=_run)

    tasks = sub.add_parser("tasks", help="write the benchmark task folder for another number of samples")
    tasks.add_argument(
        "--out", type=Path, required=True, help="folder to write (pass its parent to --include_path)"
    )
    tasks.add_argument(
        "--samples", type=int, default=DEFAULT_SAMPLES, help="samples per problem (k of avg@k)"
    )
    tasks.add_argument(
        "--repeats", dest="samples", type=int, default=argparse.SUPPRESS, help=argparse.SUPPRESS
    )
    tasks.add_argument(
        "--max-gen-toks", type=int, default=DEFAULT_MAX_GEN_TOKS, help=f"default {DEFAULT_MAX_GEN_TOKS}"
    )
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
