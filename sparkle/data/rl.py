"""verl's RL parquet schema (what ``RLHFDataset`` reads) and the atomic writer of every data file.

A row: ``data_source``, ``prompt`` (one user message), ``ability`` ("math"), ``reward_model``
{"style": "rule", "ground_truth"} and ``extra_info``. Parquet needs one type per column, so within a
file the ground truths are all strings, or, when any row has several acceptable answers, all lists.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sparkle.data.names import data_source_name  # noqa: F401  (re-exported: builders import it from here)
from sparkle.io import atomic_path, signals_deferred
from sparkle.log import get_logger

log = get_logger(__name__)

def rl_row(
    data_source: str, prompt: str, ground_truth: str | list[str], extra_info: dict[str, Any]
) -> dict[str, Any]:
    """One verl RL row; ``prompt`` is sent as the single user message (verl applies the chat template)."""
    return {
        "data_source": data_source,
        "prompt": [{"role": "user", "content": prompt}],
        "ability": "math",
        "reward_model": {"style": "rule", "ground_truth": ground_truth},
        "extra_info": extra_info,
    }


def unify_ground_truths(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Make every ground truth a list when any row has several answers (one parquet type per column)."""
    if not any(isinstance(r["reward_model"]["ground_truth"], list) for r in rows):
        return rows
    out = []
    for row in rows:
        truth = row["reward_model"]["ground_truth"]
        if not isinstance(truth, list):
            row = {**row, "reward_model": {**row["reward_model"], "ground_truth": [truth]}}
        out.append(row)
    return out


def _parquet_to(rows: Sequence[dict[str, Any]], tmp: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(list(rows)), tmp)


def _jsonl_to(rows: Sequence[dict[str, Any]], tmp: Path) -> None:
    # default=str: source fields kept verbatim may hold dates or other non-JSON values.
    text = "".join(json.dumps(row, ensure_ascii=False, default=str) + "\n" for row in rows)
    tmp.write_text(text, encoding="utf-8")


def write_parquet(rows: Sequence[dict[str, Any]], path: str | os.PathLike[str]) -> Path:
    """Write rows to a parquet file atomically (same rows → same bytes)."""
    with atomic_path(path) as tmp:
        _parquet_to(rows, tmp)
    return Path(path)


def write_jsonl(rows: Sequence[dict[str, Any]], path: str | os.PathLike[str]) -> Path:
    """Write rows as JSON lines atomically, in one buffer (fast for tens of thousands of rows)."""
    with atomic_path(path) as tmp:
        _jsonl_to(rows, tmp)
    return Path(path)


def write_rl_files(
    rows: list[dict[str, Any]], out_dir: str | os.PathLike[str], stem: str, jsonl: bool = True
) -> list[Path]:
    """``{stem}.parquet`` (and ``{stem}.jsonl``) in ``out_dir``; returns the written paths.

    Both files are written to temporaries first and renamed together with Ctrl-C held back, so an
    interrupted run leaves either the old pair or the new pair, never one of each.
    """
    rows = unify_ground_truths(rows)
    out = Path(out_dir)
    written = [out / f"{stem}.parquet"] + ([out / f"{stem}.jsonl"] if jsonl else [])
    writers = [_parquet_to, _jsonl_to]
    with contextlib.ExitStack() as stack:
        for path, writer in zip(written, writers, strict=False):
            writer(rows, stack.enter_context(atomic_path(path)))
        with signals_deferred():
            stack.close()  # the renames
    for path in written:
        log.info("wrote %s (%d rows)", path, len(rows))
    return written
