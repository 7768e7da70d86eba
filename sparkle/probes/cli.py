"""`sparkle probe run|report|tasks`."""

from __future__ import annotations

import argparse
from pathlib import Path

from sparkle.prompts import CONDITIONS, FAMILIES
from sparkle.registry import BENCHMARKS


def _run(args: argparse.Namespace) -> int:
    from sparkle.probes.run import RunConfig, run

    cfg = RunConfig(
        models=args.model,
        out=args.out,
        family=args.family,
        conditions=args.conditions,
        benchmarks=args.benchmarks,
        backend=args.backend,
        repeats=args.repeats,
        max_model_len=args.max_model_len,
        max_gen_toks=args.max_gen_toks,
        tensor_parallel_size=args.tensor_parallel_size,
        data_parallel_size=args.data_parallel_size,
        gpu_memory_utilization=args.gpu_memory_utilization,
        batch_size=args.batch_size,
        limit=args.limit,
        data_dir=args.data_dir,
        model_args=args.model_args,
        force=args.force,
    )
    return run(cfg, dry_run=args.dry_run)


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

    print(write_task_folder(args.out, repeats=args.repeats, max_gen_toks=args.max_gen_toks))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    from sparkle.io import output_dir_arg
    from sparkle.probes.analysis import bootstrap_arg, confidence_arg

    parser = subparsers.add_parser("probe", help="the SPARKLE probes: plan, knowledge and subproblem chains")
    sub = parser.add_subparsers(dest="probe_command", metavar="SUBCOMMAND", required=True)

    run = sub.add_parser("run", help="run lm-eval (vLLM) over the probe tasks for one or more models")
    run.add_argument("--model", action="append", required=True, help="model path or Hub id (repeatable)")
    run.add_argument(
        "--out", type=Path, required=True, help="lm-eval output folder (finished tasks are skipped)"
    )
    run.add_argument(
        "--family",
        choices=FAMILIES,
        default="sparkle",
        help="prompt family: sparkle (<think>/<answer>) or srl (boxed instruction, task suffix _srl)",
    )
    run.add_argument("--conditions", nargs="+", default=list(CONDITIONS), choices=CONDITIONS)
    run.add_argument("--benchmarks", nargs="+", default=list(BENCHMARKS), choices=BENCHMARKS)
    run.add_argument(
        "--backend", choices=("vllm", "hf"), default="vllm", help="lm-eval backend (hf: CPU checks)"
    )
    run.add_argument("--repeats", type=int, default=8, help="samples per problem (default 8: Avg@8)")
    run.add_argument("--max-model-len", type=int, default=32768, help="capped to the model's context")
    run.add_argument("--max-gen-toks", type=int, default=None, help="default max-model-len - 1000")
    run.add_argument("--tensor-parallel-size", type=int, default=1)
    run.add_argument("--data-parallel-size", type=int, default=1)
    run.add_argument("--gpu-memory-utilization", type=float, default=0.8)
    run.add_argument("--batch-size", default="auto")
    run.add_argument(
        "--limit",
        type=int,
        default=None,
        help="documents per task, for quick checks (a limited run counts as finished: use --force later)",
    )
    run.add_argument(
        "--data-dir",
        default=None,
        help="folder with sparkle_preview.jsonl (default: $SPARKLE_DATA_DIR, else the Hub)",
    )
    run.add_argument("--model-args", default=None, help="extra lm-eval model args, key=value,key=value")
    run.add_argument("--force", action="store_true", help="rerun tasks that already have results")
    run.add_argument("--dry-run", action="store_true", help="print the lm-eval commands only")
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
    report.add_argument("--seed", type=int, default=0)
    report.add_argument("--model-name", default=None, help="override the model name read from the outputs")
    report.add_argument("--no-figures", action="store_true")
    report.set_defaults(func=_report)

    tasks = sub.add_parser("tasks", help="write the probe lm-eval task folder (e.g. with other repeats)")
    tasks.add_argument("--out", type=Path, required=True)
    tasks.add_argument("--repeats", type=int, default=8)
    tasks.add_argument("--max-gen-toks", type=int, default=31768)
    tasks.set_defaults(func=_tasks)
