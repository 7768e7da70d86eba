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
    parser.add_argument("--repeats", type=int, default=DEFAULT_REPEATS)
    parser.add_argument("--max-gen-toks", type=int, default=DEFAULT_MAX_GEN_TOKS)
    args = parser.parse_args()
    write_task_folder(args.out, repeats=args.repeats, max_gen_toks=args.max_gen_toks)


if __name__ == "__main__":
    main()
