"""Speed of the data builders (targets): stage one on 40,000 rows <= 20 s and stage-two aug on
6,500 rows <= 10 s, end to end (read the input file, validate, build, write parquet + jsonl).

Inputs are built by repeating real rows from ../shared/data. Each measurement is printed with its ratio
to the target and to a reference measured in the same process: reading the same input and writing its
raw rows to parquet with no processing (the floor any builder pays).

    .venv/bin/python benchmarks/bench_data.py [--shared ../shared] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Callable
from itertools import cycle, islice
from pathlib import Path

from sparkle.data import build_stage_one, build_stage_two, load_records
from sparkle.data.rl import write_parquet

STAGE_ONE_ROWS, STAGE_ONE_TARGET_S = 40_000, 20.0
AUG_ROWS, AUG_TARGET_S = 6_500, 10.0


def _rows(path: Path, problem: str, answer: str, solution: str | None = None) -> list[dict]:
    out = []
    for record in load_records(path):
        if record.get(answer) in (None, ""):  # the MATH component has null and empty answers
            continue
        row = {"problem": record[problem], "answer": record[answer]}
        if solution:
            row["solution"] = record[solution] if isinstance(record[solution], str) else record[solution][0]
        out.append(row)
    return out


def build_inputs(shared: Path, work: Path) -> tuple[Path, Path, Path]:
    data = shared / "data"
    train = _rows(data / "deepscaler_train_components/deepscaler_train_math.json", "problem", "answer")
    train += _rows(data / "deepscaler_train_components/deepscaler_train_aime.json", "problem", "answer")
    hard = _rows(
        data / "deepscaler_train_components/deepscaler_train_aime.json", "problem", "answer", "solution"
    )
    hard += _rows(data / "gsm8k/gsm8k.normalized.jsonl", "problem", "answer", "solution")
    hard += _rows(data / "olympiadbench/olympiadbench.normalized.jsonl", "problem", "answer", "solution")
    paths = []
    for name, rows, count in (("train", train, STAGE_ONE_ROWS), ("hard", hard, AUG_ROWS)):
        path = work / f"{name}.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in islice(cycle(rows), count)), encoding="utf-8")
        paths.append(path)
    val = data / "aime2024" / "aime2024.normalized.jsonl"
    return paths[0], paths[1], val


def best_of(repeat: int, fn: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared")
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs (default 3)")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        train, hard, val = build_inputs(args.shared, work)
        cases = [
            (
                "stage one (40,000 rows)",
                STAGE_ONE_TARGET_S,
                train,
                lambda: build_stage_one(work / "s1", train, val),
            ),
            (
                "stage two aug all (6,500 rows)",
                AUG_TARGET_S,
                hard,
                lambda: build_stage_two(work / "s2", "aug", hard, aug_version="all"),
            ),
            (
                "stage two aug first_half (6,500 rows)",
                AUG_TARGET_S,
                hard,
                lambda: build_stage_two(work / "s2", "aug", hard, aug_version="first_half"),
            ),
        ]
        print(
            f"{'case':40s} {'seconds':>8s} {'target':>7s} {'/target':>8s} {'reference':>9s} {'/reference':>10s}"
        )
        for name, target, source, run in cases:
            reference = best_of(
                args.repeat, lambda source=source: write_parquet(load_records(source), work / "ref.parquet")
            )
            seconds = best_of(args.repeat, run)
            print(
                f"{name:40s} {seconds:8.2f} {target:7.1f} {seconds / target:8.3f} {reference:9.2f} {seconds / reference:10.2f}"
            )


if __name__ == "__main__":
    main()
