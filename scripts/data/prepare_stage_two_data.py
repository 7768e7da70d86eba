"""Stage-2 hard / mix data: `python scripts/data/prepare_stage_two_data.py --local_dir data --variant hard`.

Same as `sparkle data stage-two --variant {hard,mix}` (see `sparkle data stage-two --help`).
"""

from __future__ import annotations

import argparse
import sys

from sparkle.cli import main


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Stage-2 hard / mix data from hardmath (and dsr40k)")
    parser.add_argument("--local_dir", default="data", help="output folder (default: data)")
    parser.add_argument(
        "--hdfs_dir",
        default=None,
        help="also copy the files to this HDFS folder (needs the `hdfs` CLI on PATH)",
    )
    parser.add_argument("--variant", choices=("hard", "mix"), default="hard")
    parser.add_argument("--source", default="hardmath", help="hardmath Hub id or local file/folder")
    parser.add_argument("--easy_source", default="dsr40k", help="mix: dsr40k Hub id or local file/folder")
    parser.add_argument("--mix_ratio", type=float, default=1.0, help="mix: easy problems per hard problem")
    parser.add_argument("--seed", type=int, default=10000, help="sampling / shuffle seed (default 10000)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    args = parse()
    sys.exit(
        main(
            [
                "data",
                "stage-two",
                "--variant",
                args.variant,
                "--source",
                args.source,
                "--easy-source",
                args.easy_source,
                "--mix-ratio",
                str(args.mix_ratio),
                "--seed",
                str(args.seed),
                "--out",
                args.local_dir,
                *(["--hdfs-dir", args.hdfs_dir] if args.hdfs_dir is not None else []),
            ]
        )
    )
