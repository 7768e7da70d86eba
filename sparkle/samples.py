"""The one reader of lm-eval samples rows (``samples_<task>_<time>.jsonl``, written with ``--log_samples``).

A row holds the document (``doc``), the raw generations (``resps``: one list per request, the k samples of
a repeated task inside it), the generations after the task's filters (``filtered_resps``), lm-eval's
``target`` string and the task's per-document metrics. The reward CLI, hard-problem mining, the benchmark
results, the report and both task modules read rows through these functions, so "which responses" and
"which gold answer" mean the same everywhere:

* responses: the raw ``resps`` (what the model wrote), flattened in sample order; ``filtered_resps`` only
  when a row has no ``resps``. The SPARKLE tasks keep every sample unfiltered, so both agree there.
* gold answer: the document's ``target`` (the field benchmark and probe documents grade against), else a
  document ``answer`` / ``final_answer`` (other tasks, older files), else the row's ``target`` string.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sparkle.errors import SparkleError
from sparkle.io import read_jsonl

# Document fields that hold the gold answer(s), in the order they are looked up.
GOLD_FIELDS = ("target", "answer", "final_answer")


def read_samples(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The document rows of an lm-eval samples file; errors name the file and line."""
    path = Path(path)
    try:
        rows = read_jsonl(path)
    except OSError as e:
        raise SparkleError(f"{path}: cannot read: {e.strerror}") from e
    for number, row in enumerate(rows, 1):
        if not isinstance(row.get("doc"), dict):
            raise SparkleError(f"{path}, line {number}: no `doc`; this is not an lm-eval samples file")
    return rows


def _flatten(value: Any, where: str) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _flatten(item, where)
    elif value is not None:
        raise SparkleError(
            f"{where}: responses must be strings or lists of strings, found {type(value).__name__}"
        )


def responses_of(results: Any, where: str = "lm-eval results") -> list[str]:
    """Responses as lm-eval hands them to a task's ``process_results`` (``[[r1..rk]]`` after the filter,
    or a flat list), flattened in sample order."""
    return list(_flatten(results, where))


def sample_responses(row: dict[str, Any], where: str = "samples row") -> list[str]:
    """The k responses of one samples row: raw ``resps`` flattened, else ``filtered_resps``."""
    for key in ("resps", "filtered_resps"):
        if row.get(key):
            return list(_flatten(row[key], where))
    return []


def gold_field(doc: dict[str, Any]) -> str | None:
    """The document field holding the gold answer(s) (see ``GOLD_FIELDS``), or None."""
    return next((key for key in GOLD_FIELDS if doc.get(key) is not None), None)


def _as_answers(value: Any) -> list[str]:
    if isinstance(value, str) and value.startswith("["):
        try:  # a JSON list written as text (lm-eval's target of a list-valued doc_to_target)
            value = json.loads(value)
        except json.JSONDecodeError:
            pass
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return [str(value)]


def sample_answers(row: dict[str, Any]) -> list[str]:
    """The gold answer(s) of a samples row: the document's gold field, else the row's ``target``."""
    doc = row.get("doc") if isinstance(row.get("doc"), dict) else {}
    key = gold_field(doc)
    return _as_answers(doc[key] if key else row.get("target"))
