"""Stage-1 data: dsr40k as verl RL rows, plus the AIME 2024 validation file (parquet and JSONL)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sparkle.data.benchmarks import benchmark_rl_rows, load_benchmark
from sparkle.data.names import TRAIN_NAME, TRAIN_STEM, VAL_NAME  # noqa: F401
from sparkle.data.rl import data_source_name, rl_row, write_rl_files
from sparkle.data.sources import problem_records
from sparkle.log import get_logger
from sparkle.prompts import plain_prompt

log = get_logger(__name__)


def training_problems(
    source: str | os.PathLike[str], split: str | None = None
) -> list[tuple[str, str | list[str], dict]]:
    """(problem, answer, record) of each training row, validated (missing/empty/wrong-type fields fail)."""
    reading = f"reading {Path(source).name}"
    return [
        (problem, answer, record) for _, problem, answer, record in problem_records(source, split, reading)
    ]


def stage_one_rows(
    problems: list[tuple[str, str | list[str], dict]], data_source: str = TRAIN_STEM
) -> list[dict[str, Any]]:
    """verl rows with the plain SPARKLE prompt; ``extra_info`` = {split: train, index}."""
    return [
        rl_row(data_source, plain_prompt(problem), answer, {"split": "train", "index": index})
        for index, (problem, answer, _) in enumerate(problems)
    ]


def build_stage_one(
    out_dir: str | os.PathLike[str],
    source: str | os.PathLike[str] = "dsr40k",
    val_source: str | os.PathLike[str] | None = None,
    split: str | None = None,
) -> list[Path]:
    """Write ``sparkle_dsr40k.parquet`` + ``.jsonl`` and ``sparkle_aime2024.parquet`` + ``.jsonl`` into ``out_dir``.

    The original also wrote the validation rows as ``sparkle_aime2024.jsonl`` beside the parquet.
    """
    train = stage_one_rows(training_problems(source, split))
    val_rows = benchmark_rl_rows(VAL_NAME, load_benchmark(VAL_NAME, val_source))
    written = write_rl_files(train, out_dir, TRAIN_STEM)
    written += write_rl_files(val_rows, out_dir, data_source_name(VAL_NAME))
    return written
