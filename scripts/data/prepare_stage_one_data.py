"""Stage-1 data, the original command line: `python scripts/data/prepare_stage_one_data.py --local_dir data`.

Writes sparkle_dsr40k.parquet and sparkle_aime2024.parquet (each + .jsonl); same as `sparkle data stage-one`.
`--hdfs_dir DIR` also copies them to HDFS with the `hdfs` command line.
"""

from __future__ import annotations

import argparse
import sys

from sparkle.cli import main


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--local_dir", default="data", help="output folder (default: data)")
    parser.add_argument(
        "--hdfs_dir",
        default=None,
        help="also copy the files to this HDFS folder (needs the `hdfs` CLI on PATH)",
    )
    parser.add_argument("--source", default="dsr40k", help="dsr40k Hub id or local file/folder")
    parser.add_argument(
        "--val_source", default=None, help="AIME 2024 Hub id or local file (default: the Hub)"
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    args = parse()
    argv = ["data", "stage-one", "--out", args.local_dir, "--source", args.source]
    if args.val_source:
        argv += ["--val-source", args.val_source]
    if args.hdfs_dir is not None:
        argv += ["--hdfs-dir", args.hdfs_dir]
    sys.exit(main(argv))
