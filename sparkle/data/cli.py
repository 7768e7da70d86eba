"""`sparkle data ...`: build the training, validation, benchmark and probe files (docs/data.md).

Every subcommand takes ``--hdfs-dir`` (also spelled ``--hdfs_dir``, as in the original data scripts):
the written files are then copied there with the ``hdfs`` command line.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
from pathlib import Path

from sparkle.argtypes import nonnegative_float, nonnegative_int, positive_float, positive_int, spellings
from sparkle.data.names import VARIANTS
from sparkle.errors import SparkleError
from sparkle.log import get_logger
from sparkle.registry import BENCHMARKS

log = get_logger(__name__)


def _source_pairs(values: list[str] | None) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for value in values or []:
        name, sep, source = value.partition("=")
        if not sep or not source:
            raise SparkleError(
                f"--source {value!r}: expected NAME=PATH_OR_ID with NAME one of {', '.join(BENCHMARKS)}"
            )
        if name not in BENCHMARKS:
            raise SparkleError(
                f"--source {value!r}: unknown benchmark {name!r}; use one of {', '.join(BENCHMARKS)}"
            )
        pairs[name] = source
    return pairs


def _with_hdfs(build: Callable[[argparse.Namespace], Iterable[Path]]) -> Callable[[argparse.Namespace], int]:
    """Run ``build``, print the written paths, and copy them to ``--hdfs-dir`` when given.

    Without the ``hdfs`` CLI the command fails before building anything.
    """

    def run(args: argparse.Namespace) -> int:
        hdfs_dir = getattr(args, "hdfs_dir", None)
        if hdfs_dir is not None:
            from sparkle.data.hdfs import hdfs_executable

            hdfs_executable()
        paths = list(build(args))
        for path in paths:
            print(path)
        if hdfs_dir is not None:
            from sparkle.data.hdfs import copy_to_hdfs

            for copied in copy_to_hdfs(paths, hdfs_dir):
                print(copied)
        return 0

    return run


def _add_hdfs_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        *spellings("--hdfs-dir"),
        default=None,
        help="also copy the written files to this HDFS folder (needs the `hdfs` command line on PATH)",
    )


def _stage_one(args: argparse.Namespace) -> list[Path]:
    from sparkle.data.stage_one import build_stage_one

    return build_stage_one(args.out, args.source, args.val_source, split=args.split)


def _stage_two(args: argparse.Namespace) -> list[Path]:
    from sparkle.data.stage_two import build_stage_two

    return list(
        build_stage_two(
            args.out,
            variant=args.variant,
            source=args.source,
            aug_version=args.aug_version,
            easy_source=args.easy_source,
            mix_ratio=args.mix_ratio,
            seed=args.seed,
            split=args.split,
        )
    )


def _benchmarks(args: argparse.Namespace) -> list[Path]:
    from sparkle.data.benchmarks import write_benchmarks

    names = tuple(args.only) if args.only else BENCHMARKS
    return write_benchmarks(args.out, _source_pairs(args.source), names)


def _probes(args: argparse.Namespace) -> list[Path]:
    from sparkle.data.probes import write_preview

    return list(write_preview(args.out, args.source, args.config))


def _mine_hard(args: argparse.Namespace) -> list[Path]:
    from sparkle.data.mining import mine_hard

    return list(
        mine_hard(
            args.samples,
            args.out,
            max_correct=args.max_correct,
            min_samples=args.min_samples,
            timeout=args.timeout,
            solutions=args.solutions,
        )
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `sparkle data` and its subcommands."""
    data = subparsers.add_parser("data", help="build training / evaluation / probe data files")
    commands = data.add_subparsers(dest="data_command", metavar="SUBCOMMAND", required=True)

    p = commands.add_parser(
        "stage-one", help="sparkle_dsr40k.parquet and sparkle_aime2024.parquet (each + .jsonl)"
    )
    p.add_argument(
        "--source", default="dsr40k", help="dsr40k: Hub id or local file/folder (default: the Hub)"
    )
    p.add_argument("--val-source", default=None, help="AIME 2024: Hub id or local file (default: the Hub)")
    p.add_argument("--split", default=None, help="split of --source (default: the dataset's own)")
    p.add_argument("--out", default="data", help="output folder (default: data)")
    _add_hdfs_dir(p)
    p.set_defaults(func=_with_hdfs(_stage_one), output_kinds={"out": "dir"})

    p = commands.add_parser("stage-two", help="hardmath variants: aug (PSS), hard, mix")
    p.add_argument(
        "--variant",
        choices=VARIANTS,
        default="aug",
        help="aug: hard problems with partial solution steps (PSS) in the prompt; hard: hard problems with "
        "plain prompts; mix: hard problems plus easier ones (see --mix-ratio); default aug",
    )
    p.add_argument(
        "--aug-version",
        choices=("all", "first_half"),
        default="all",
        help="aug: which PSS levels to keep, all or first_half (default all)",
    )
    p.add_argument(
        "--source", default="hardmath", help="hardmath: Hub id or local file/folder (default: the Hub)"
    )
    p.add_argument(
        "--easy-source", default="dsr40k", help="mix: where the easier problems come from (default: dsr40k)"
    )
    p.add_argument(
        "--mix-ratio",
        type=nonnegative_float,
        default=1.0,
        help="mix: easy problems per hard problem (default 1)",
    )
    p.add_argument("--seed", type=int, default=10000, help="shuffle / sampling seed (default 10000)")
    p.add_argument("--split", default=None, help="split of --source (default: the dataset's own)")
    p.add_argument("--out", default="data", help="output folder (default: data)")
    _add_hdfs_dir(p)
    p.set_defaults(func=_with_hdfs(_stage_two), output_kinds={"out": "dir"})

    p = commands.add_parser(
        "benchmarks", help="{name}.jsonl and sparkle_{name}.parquet for the five benchmarks"
    )
    p.add_argument(
        "--source",
        action="append",
        metavar="NAME=PATH_OR_ID",
        help="where one benchmark comes from (repeatable; default: the Hub)",
    )
    p.add_argument(
        "--only",
        action="append",
        choices=BENCHMARKS,
        help="build only these benchmarks (repeatable; default: all five)",
    )
    p.add_argument("--out", default="data", help="output folder (default: data)")
    _add_hdfs_dir(p)
    p.set_defaults(func=_with_hdfs(_benchmarks), output_kinds={"out": "dir"})

    p = commands.add_parser(
        "probes", help="sparkle_preview.jsonl and the grouped sparkle_preview_problems.jsonl"
    )
    p.add_argument("--source", default=None, help="sparkle_preview: local file/folder (default: the Hub)")
    p.add_argument(
        "--config", default=None, help="Hub config (all, aime24, amc23, math500, gsm8k, olympiadbench)"
    )
    p.add_argument("--out", default="data", help="output folder (default: data)")
    _add_hdfs_dir(p)
    p.set_defaults(func=_with_hdfs(_probes), output_kinds={"out": "dir"})

    p = commands.add_parser("mine-hard", help="keep problems a model rarely solves (hardmath schema)")
    p.add_argument(
        "samples", nargs="+", help="lm-eval samples_*.jsonl or verl generation dumps (.parquet/.jsonl)"
    )
    p.add_argument(
        "--out",
        default="data/hardmath_mined.jsonl",
        help="output .jsonl or .parquet file (default: data/hardmath_mined.jsonl)",
    )
    p.add_argument(
        "--max-correct",
        type=nonnegative_int,
        default=0,
        help="keep problems with at most K correct (default 0)",
    )
    p.add_argument(
        "--min-samples", type=positive_int, default=20, help="... out of at least N samples (default 20)"
    )
    p.add_argument(
        "--timeout",
        type=positive_float,
        default=None,
        help="grading time limit per sample, seconds (default 5)",
    )
    p.add_argument("--solutions", default=None, help="fill `solution` from this training set (needed by aug)")
    _add_hdfs_dir(p)
    p.set_defaults(func=_with_hdfs(_mine_hard), output_kinds={"out": "file"})
