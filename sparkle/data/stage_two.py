"""Stage-2 data: ``aug`` (partial-step scaffolding), ``hard`` and ``mix`` from hardmath.

aug: per hardmath row a level-0 row (plain prompt) and one row per reasoning step i = 1..len(steps)
whose prompt opens ``<think>`` with the first i steps; the whole set shuffled with seed 10000 (the
permutation ``datasets.Dataset.shuffle(seed=10000)`` applies). hard: level 0 only, in source order.
mix: the hard rows plus ``ratio`` x as many dsr40k problems (sampled without replacement, problems that
are also hard excluded), shuffled with the seed.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from sparkle.data.names import AUG_VERSIONS, HARD_STEM, MIX_STEM, VARIANTS, aug_stem
from sparkle.data.rl import data_source_name, rl_row, write_rl_files
from sparkle.data.sources import problem_records
from sparkle.data.splitter import split_reasoning
from sparkle.data.stage_one import training_problems
from sparkle.errors import SparkleError
from sparkle.log import get_logger
from sparkle.progress import track
from sparkle.prompts import plain_prompt, pss_prompt

log = get_logger(__name__)

SHUFFLE_SEED = 10000
DATA_SOURCE = data_source_name("hardmath")  # sparkle_hardmath
REASONING_KEYS = ("CoT", "solution")


def hard_problems(
    source: str | os.PathLike[str], split: str | None = None, need_reasoning: bool = False
) -> list[dict[str, Any]]:
    """Validated hardmath rows: problem, answer and (for aug) the reference reasoning."""
    out = []
    for place, problem, answer, record in problem_records(source, split):
        row = {"problem": problem, "answer": answer}
        if need_reasoning:
            row["reasoning"] = reference_reasoning(record, place)
        out.append(row)
    return out


def reference_reasoning(record: dict[str, Any], place: str) -> str:
    """``CoT`` when present and non-empty, else ``solution``."""
    for key in REASONING_KEYS:
        value = record.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            raise SparkleError(f"{place}: field {key!r} must be a string, got {type(value).__name__}")
        if value.strip():
            return value
    raise SparkleError(
        f"{place}: no reference reasoning (both 'CoT' and 'solution' are missing or empty); "
        "the aug variant needs one of them"
    )


def level_zero_row(index: int, problem: str, answer: str | list[str], total_levels: int) -> dict[str, Any]:
    info = {
        "split": "train",
        "index": f"{index}_0",
        "question": problem,
        "thinking_level": 0,
        "total_thinking_levels": total_levels,
        "augmented": False,
    }
    return rl_row(DATA_SOURCE, plain_prompt(problem), answer, info)


def aug_rows(
    problems: list[dict[str, Any]], version: str = "all", seed: int = SHUFFLE_SEED
) -> list[dict[str, Any]]:
    """PSS rows for levels 0..len(steps), shuffled with ``seed``."""
    if version not in AUG_VERSIONS:
        raise SparkleError(f"unknown aug version {version!r}; use one of {', '.join(AUG_VERSIONS)}")
    first_half = version == "first_half"
    rows = []
    for index, item in enumerate(track(problems, "splitting reasoning")):
        problem, answer = item["problem"], item["answer"]
        steps = split_reasoning(item["reasoning"], first_half=first_half)
        rows.append(level_zero_row(index, problem, answer, len(steps)))
        for level in range(1, len(steps) + 1):
            info = {
                "split": "train",
                "index": f"{index}_{level}",
                "question": problem,
                "thinking_level": level,
                "total_thinking_levels": len(steps),
                "augmented": True,
            }
            rows.append(rl_row(DATA_SOURCE, pss_prompt(problem, "\n".join(steps[:level])), answer, info))
    return shuffled(rows, seed)


def shuffled(rows: list[Any], seed: int) -> list[Any]:
    """The rows in the order ``datasets.Dataset.shuffle(seed=seed)`` gives (NumPy PCG64 permutation)."""
    order = np.random.default_rng(seed).permutation(len(rows))
    return [rows[i] for i in order]


def hard_rows(problems: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Level-0 rows only (same schema as aug's level 0)."""
    return [level_zero_row(index, p["problem"], p["answer"], 0) for index, p in enumerate(problems)]


def mix_rows(
    problems: list[dict[str, Any]],
    easy: list[tuple[str, str | list[str], dict]],
    ratio: float = 1.0,
    seed: int = SHUFFLE_SEED,
    easy_source_name: str = "dsr40k",
) -> list[dict[str, Any]]:
    """Hard rows plus ``round(ratio * len(hard))`` easier problems sampled with ``seed``, shuffled."""
    if not math.isfinite(ratio) or ratio < 0:
        raise SparkleError(f"--mix-ratio must be >= 0, got {ratio}")
    hard_texts = {p["problem"].strip() for p in problems}
    pool = [(problem, answer) for problem, answer, _ in easy if problem.strip() not in hard_texts]
    wanted = round(ratio * len(problems))
    if wanted > len(pool):
        raise SparkleError(
            f"--mix-ratio {ratio} asks for {wanted} easy problems but the easy source has only {len(pool)} "
            "that are not hard problems; lower the ratio or give a larger --easy-source"
        )
    rng = np.random.default_rng(seed)
    picked = sorted(rng.choice(len(pool), size=wanted, replace=False).tolist()) if wanted else []
    rows = hard_rows(problems)
    for j in picked:
        problem, answer = pool[j]
        info = {
            "split": "train",
            "index": f"{easy_source_name}_{j}",
            "question": problem,
            "thinking_level": 0,
            "total_thinking_levels": 0,
            "augmented": False,
        }
        rows.append(rl_row(data_source_name(easy_source_name), plain_prompt(problem), answer, info))
    return shuffled(rows, seed)


def build_stage_two(
    out_dir: str | os.PathLike[str],
    variant: str = "aug",
    source: str | os.PathLike[str] = "hardmath",
    aug_version: str = "all",
    easy_source: str | os.PathLike[str] = "dsr40k",
    mix_ratio: float = 1.0,
    seed: int = SHUFFLE_SEED,
    split: str | None = None,
) -> list[Path]:
    """Write the stage-two parquet (+ jsonl) of one variant into ``out_dir``; returns the paths."""
    if variant not in VARIANTS:
        raise SparkleError(f"unknown stage-two variant {variant!r}; use one of {', '.join(VARIANTS)}")
    if variant == "aug" and aug_version not in AUG_VERSIONS:
        raise SparkleError(f"unknown aug version {aug_version!r}; use one of {', '.join(AUG_VERSIONS)}")
    problems = hard_problems(source, split, need_reasoning=variant == "aug")
    if variant == "aug":
        rows, stem = aug_rows(problems, aug_version, seed), aug_stem(aug_version)
    elif variant == "hard":
        rows, stem = hard_rows(problems), HARD_STEM
    else:
        rows, stem = mix_rows(problems, training_problems(easy_source), mix_ratio, seed), MIX_STEM
    log.info("stage two %s: %d problems -> %d rows", variant, len(problems), len(rows))
    return write_rl_files(rows, out_dir, stem)
