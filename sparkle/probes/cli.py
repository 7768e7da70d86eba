"""`sparkle probe run|report|tasks`."""

from __future__ import annotations

import argparse
from pathlib import Path

from sparkle.prompts import CONDITIONS
from sparkle.registry import BENCHMARKS


def _run(args: argparse.Namespace) -> int:
    from sparkle.evaluate.run import settings_from_args
    from sparkle.probes.run import run

    return run(settings_from_args(args, args.models or []), args.conditions, args.benchmarks, args.dry_run)


def _report(args: argparse.Namespace) -> int:
    from sparkle.probes.analysis import analyze
    from sparkle.probes.records import load_records
    from sparkle.probes.report import write_report

    records = load_records(args.paths, model=args.model_name)
    rows = analyze(records, iterations=args.bootstrap, confidence=args.confidence, seed=args.seed)
    paths = write_report(rows, args.out, args.bootstrap, args.confidence, figures=not args.no_figures)
    print(paths["markdown"])
    return 0


def _tasks(args: argparse.Namespace) -> int:
    from sparkle.probes.taskgen import write_task_folder

    print(write_task_folder(args.out, repeats=args.samples, max_gen_toks=args.max_gen_toks))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    from sparkle.evaluate.run import add_run_command
    from sparkle.io import output_dir_arg
    from sparkle.probes.analysis import bootstrap_arg, confidence_arg

    parser = subparsers.add_parser("probe", help="the SPARKLE probes: plan, knowledge and subproblem chains")
    sub = parser.add_subparsers(dest="probe_command", metavar="SUBCOMMAND", required=True)

    run = add_run_command(
        sub,
        "the probe tasks (conditions × benchmarks of the chosen family)",
        "folder with sparkle_preview.jsonl (`sparkle data probes --out DIR`; default $SPARKLE_DATA_DIR, "
        "else the Hub)",
    )
    run.add_argument(
        "--conditions", nargs="+", default=list(CONDITIONS), choices=CONDITIONS, help="default: all four"
    )
    run.add_argument(
        "--benchmarks", nargs="+", default=list(BENCHMARKS), choices=BENCHMARKS, help="default: all five"
    )
    run.set_defaults(func=_run)

    report = sub.add_parser("report", help="probes.csv, probes.md and figures from lm-eval probe outputs")
    report.add_argument(
        "paths", nargs="+", help="lm-eval output folders, results_*.json or samples_*.jsonl files"
    )
    report.add_argument(
        "--out",
        type=output_dir_arg,
        required=True,
        help="report folder (its report files are replaced together)",
    )
    report.add_argument(
        "--bootstrap",
        type=bootstrap_arg,
        default=2000,
        help="bootstrap resamples for the intervals, 0 for none (default 2000)",
    )
    report.add_argument(
        "--confidence",
        type=confidence_arg,
        default=0.95,
        help="confidence level of the intervals, strictly between 0 and 1 (default 0.95)",
    )
    report.add_argument("--seed", type=int, default=0, help="seed of the bootstrap resampling (default 0)")
    report.add_argument("--model-name", default=None, help="override the model name read from the outputs")
    report.add_argument("--no-figures", action="store_true", help="write the tables only, no PNG figures")
    report.set_defaults(func=_report)

    tasks = sub.add_parser("tasks", help="write the probe lm-eval task folder (e.g. with other repeats)")
    tasks.add_argument(
        "--out", type=Path, required=True, help="folder to write (pass its parent to --include_path)"
    )
    tasks.add_argument("--samples", type=int, default=8, help="samples per problem (default 8)")
    tasks.add_argument(
        "--repeats", dest="samples", type=int, default=argparse.SUPPRESS, help=argparse.SUPPRESS
    )
    tasks.add_argument("--max-gen-toks", type=int, default=31768, help="default 31768")
    tasks.set_defaults(func=_tasks)
