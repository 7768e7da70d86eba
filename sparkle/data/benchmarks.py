"""The five evaluation benchmarks as unified rows, verl validation parquet and JSONL.

Sources differ in field names (``question``/``problem``, ``answer``/``final_answer``), answer types
(floats such as AMC's ``27.0``, one-element lists in OlympiadBench, zero-padded AIME strings) and, for
the raw OpenAI GSM8K file, a worked solution ending in ``#### N`` as the answer. Unified rows are
``{"id", "problem", "answer": [str, ...], ...source fields}``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from sparkle.data.rl import data_source_name, rl_row, write_jsonl, write_rl_files
from sparkle.data.sources import (
    ANSWER_KEYS,
    PROBLEM_KEYS,
    as_list,
    get_answer,
    get_text,
    is_local,
    load_records,
    require_rows,
    where,
)
from sparkle.errors import SparkleError
from sparkle.log import get_logger
from sparkle.prompts import plain_prompt
from sparkle.registry import BENCHMARKS, DATASETS

log = get_logger(__name__)

ID_KEYS: tuple[str, ...] = ("id", "unique_id", "problem ID", "idx")
_GSM8K_FINAL = re.compile(r"\n?####\s*(.+?)\s*$", re.DOTALL)


def check_benchmark_name(name: str) -> str:
    if name not in BENCHMARKS:
        raise SparkleError(f"unknown benchmark {name!r}; use one of {', '.join(BENCHMARKS)}")
    return name


def unify_benchmark_rows(name: str, records: list[dict[str, Any]], source: str) -> list[dict[str, Any]]:
    """Validate raw rows and return unified rows (source fields kept, ``answer`` always a list)."""
    rows = []
    seen: dict[str, int] = {}
    for index, record in enumerate(require_rows(records, source)):
        place = where(source, index)
        problem = get_text(record, PROBLEM_KEYS, place)
        extra: dict[str, Any] = {}
        if name == "gsm8k" and isinstance(record.get("answer"), str) and "####" in record["answer"]:
            # The raw OpenAI file: the answer field is the worked solution; its final line holds the answer.
            match = _GSM8K_FINAL.search(record["answer"])
            if not match:
                raise SparkleError(f"{place}: GSM8K answer has '####' but no final answer after it")
            extra = {"solution": record["answer"]}
            answer = get_answer({"answer": match.group(1)}, ("answer",), place)
        else:
            answer = get_answer(record, ANSWER_KEYS, place)
        row_id = next((str(record[k]) for k in ID_KEYS if record.get(k) is not None), f"{name}-{index}")
        if row_id in seen:
            raise SparkleError(f"{place}: id {row_id!r} repeats row {seen[row_id] + 1}; ids must be unique")
        seen[row_id] = index
        rows.append({**record, **extra, "id": row_id, "problem": problem, "answer": as_list(answer)})
    return rows


def load_benchmark(name: str, source: str | os.PathLike[str] | None = None) -> list[dict[str, Any]]:
    """Unified rows of one benchmark from its Hub dataset (default) or a local file / folder."""
    check_benchmark_name(name)
    source = str(source) if source is not None else name
    entry = DATASETS[name]
    records = load_records(source, split=None if is_local(source) else entry.split)
    return unify_benchmark_rows(name, records, source)


def benchmark_rl_rows(name: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """verl validation rows (``split`` = test, ``data_source`` ``sparkle_{name}``) with the plain prompt."""
    out = []
    for index, row in enumerate(rows):
        answers = row["answer"]
        truth: str | list[str] = answers[0] if len(answers) == 1 else list(answers)
        out.append(
            rl_row(
                data_source_name(name),
                plain_prompt(row["problem"]),
                truth,
                {"split": "test", "index": index, "id": row["id"]},
            )
        )
    return out


def write_benchmarks(
    out_dir: str | os.PathLike[str],
    sources: dict[str, str] | None = None,
    names: tuple[str, ...] = BENCHMARKS,
) -> list[Path]:
    """``{name}.jsonl`` (unified rows) and ``sparkle_{name}.parquet`` (verl) for each benchmark.

    All benchmarks are loaded and validated before the first file is written.
    """
    sources = dict(sources or {})
    for name in sources:
        check_benchmark_name(name)
    loaded = {name: load_benchmark(name, sources.get(name)) for name in names}
    written: list[Path] = []
    for name, rows in loaded.items():
        written.append(write_jsonl(rows, Path(out_dir) / f"{name}.jsonl"))
        written += write_rl_files(benchmark_rl_rows(name, rows), out_dir, data_source_name(name), jsonl=False)
        log.info("%s: %d problems", name, len(rows))
    return written
