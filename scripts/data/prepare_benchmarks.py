"""Benchmark files: `python scripts/data/prepare_benchmarks.py --local_dir data [--source NAME=PATH_OR_ID ...]`
[--hdfs_dir DIR].

Writes {name}.jsonl and sparkle_{name}.parquet for the five benchmarks; same as `sparkle data benchmarks`.
"""

from __future__ import annotations

import argparse
import sys

from sparkle.cli import main


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="The five evaluation benchmarks as JSONL and verl parquet")
    parser.add_argument("--local_dir", default="data", help="output folder (default: data)")
    parser.add_argument(
        "--hdfs_dir",
        default=None,
        help="also copy the files to this HDFS folder (needs the `hdfs` CLI on PATH)",
    )
    parser.add_argument("--source", action="append", default=[], metavar="NAME=PATH_OR_ID")
    return parser.parse_args(argv)


if __name__ == "__main__":
    args = parse()
    argv = ["data", "benchmarks", "--out", args.local_dir, *[f"--source={s}" for s in args.source]]
    if args.hdfs_dir is not None:
        argv += ["--hdfs-dir", args.hdfs_dir]
    sys.exit(main(argv))
