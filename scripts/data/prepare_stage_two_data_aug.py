"""Stage-2 PSS data, the original command line:
`python scripts/data/prepare_stage_two_data_aug.py --local_dir data --aug_version all`.

Writes sparkle_hardmath_aug_{all|first_half}_train.parquet (+ .jsonl); same as
`sparkle data stage-two --variant aug`.
"""

from __future__ import annotations

import argparse
import sys

from sparkle.cli import main


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Stage-2 PSS (aug) data from hardmath")
    parser.add_argument("--local_dir", default="data", help="output folder (default: data)")
    parser.add_argument(
        "--hdfs_dir",
        default=None,
        help="also copy the files to this HDFS folder (needs the `hdfs` CLI on PATH)",
    )
    parser.add_argument("--aug_version", choices=("all", "first_half"), default="all")
    parser.add_argument("--source", default="hardmath", help="hardmath Hub id or local file/folder")
    parser.add_argument("--seed", type=int, default=10000, help="shuffle seed (default 10000)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    args = parse()
    sys.exit(
        main(
            [
                "data",
                "stage-two",
                "--variant",
                "aug",
                "--aug-version",
                args.aug_version,
                "--source",
                args.source,
                "--seed",
                str(args.seed),
                "--out",
                args.local_dir,
                *(["--hdfs-dir", args.hdfs_dir] if args.hdfs_dir is not None else []),
            ]
        )
    )
