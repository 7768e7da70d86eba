#!/usr/bin/env python
"""Regenerate the probe task folder eval/tasks/sparkle_probes/ (thin wrapper over sparkle.probes.taskgen)."""

from __future__ import annotations

import argparse
from pathlib import Path

from sparkle.probes.taskgen import DEFAULT_MAX_GEN_TOKS, DEFAULT_REPEATS, write_task_folder

REPO_ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "eval" / "tasks" / "sparkle_probes")
    parser.add_argument(
        "--samples", type=int, default=DEFAULT_REPEATS, help="samples per problem (default 8)"
    )
    parser.add_argument(
        "--repeats", dest="samples", type=int, default=argparse.SUPPRESS, help=argparse.SUPPRESS
    )
    parser.add_argument("--max-gen-toks", type=int, default=DEFAULT_MAX_GEN_TOKS, help="default 31768")
    args = parser.parse_args()
    write_task_folder(args.out, repeats=args.samples, max_gen_toks=args.max_gen_toks)


if __name__ == "__main__":
    main()
