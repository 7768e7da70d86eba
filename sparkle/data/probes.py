"""``sparkle_preview``: the benchmarks re-annotated for the probes (docs/probes.md).

The Hub rows are one per subproblem; ``group_preview`` folds them into one dict per problem with its
planning skeleton, knowledge, difficulty, domains and the subproblem chain in ``subproblem_sequence``
order, validating that every chain is complete (1..total, no gaps or repeats).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from sparkle.data.names import PREVIEW_FILE, PREVIEW_NAME  # noqa: F401 (re-exported)
from sparkle.data.rl import write_jsonl
from sparkle.data.sources import answer_text, load_records, normalize_answer, require_rows, where
from sparkle.errors import SparkleError
from sparkle.registry import BENCHMARKS, DATASETS, PREVIEW_CONFIGS

GROUPED_FILE = "sparkle_preview_problems.jsonl"

# Fields every preview row must have (config `all` adds `source` and `general_id`).
TEXT_FIELDS = ("problem", "planning", "knowledge", "subproblem_question", "augmented_problem")
REQUIRED_FIELDS = (
    "problem ID",
    *TEXT_FIELDS,
    "answer",
    "difficulty_level",
    "domains",
    "subproblem_id",
    "subproblem_answer",
    "subproblem_sequence",
    "total_subproblems",
)
# Names the preview's `source` column (or its per-benchmark configs) may use for each benchmark, compared
# lower-cased with everything but letters and digits removed ("AIME 2024", "olympiadbench", "amc23"...).
_BENCHMARK_ALIASES: dict[str, str] = {
    **{re.sub(r"[^a-z0-9]", "", name): name for name in BENCHMARKS},
    **{re.sub(r"[^a-z0-9]", "", config): name for name, config in PREVIEW_CONFIGS.items()},
    "aime": "aime2024",
    "aime24": "aime2024",
    "amc": "amc2023",
    "amc23": "amc2023",
    "math": "math500",
    "gsm": "gsm8k",
    "olympiad": "olympiad_bench",
}


def canonical_benchmark(value: Any) -> str | None:
    """The benchmark name of a preview ``source`` / config name (``aime24`` → ``aime2024``); None if unknown."""
    if value is None:
        return None
    return _BENCHMARK_ALIASES.get(re.sub(r"[^a-z0-9]", "", str(value).lower()))


def load_preview(
    source: str | os.PathLike[str] | None = None, config: str | None = None
) -> list[dict[str, Any]]:
    """Rows in the Hub ``sparkle_preview`` format (one per subproblem), validated.

    ``source`` None reads the Hub dataset (config ``all``, or ``config``); a path reads a local copy.
    """
    entry = DATASETS[PREVIEW_NAME]
    name = str(source) if source is not None else PREVIEW_NAME
    records = require_rows(
        load_records(name, split=entry.split if source is None else None, config=config), name
    )
    rows = [_validated(record, where(name, index)) for index, record in enumerate(records)]
    if config is not None:
        for row in rows:
            row.setdefault("source", canonical_benchmark(config) or config)
    return rows


def _int_field(record: dict[str, Any], key: str, place: str) -> int:
    value = record[key]
    if isinstance(value, bool):
        raise SparkleError(f"{place}: field {key!r} must be an integer, got {value!r}")
    try:
        number = int(str(value).strip()) if not isinstance(value, int) else value
    except ValueError:
        raise SparkleError(f"{place}: field {key!r} must be an integer, got {value!r}") from None
    return number


def _validated(record: dict[str, Any], place: str) -> dict[str, Any]:
    missing = [key for key in REQUIRED_FIELDS if record.get(key) is None]
    if missing:
        raise SparkleError(
            f"{place}: missing field(s) {missing}; a sparkle_preview row needs {list(REQUIRED_FIELDS)}"
        )
    for key in TEXT_FIELDS:
        if not isinstance(record[key], str) or not record[key].strip():
            raise SparkleError(f"{place}: field {key!r} must be a non-empty string")
    row = dict(record)
    row["answer"] = (
        [answer_text(a, place) for a in record["answer"]]
        if isinstance(record["answer"], list)
        else [answer_text(record["answer"], place)]
    )
    if not row["answer"]:
        raise SparkleError(f"{place}: field 'answer' is an empty list")
    row["subproblem_answer"] = normalize_answer(record["subproblem_answer"], place, "subproblem_answer")
    if isinstance(row["subproblem_answer"], list):
        row["subproblem_answer"] = row["subproblem_answer"][0]
    row["problem ID"] = str(record["problem ID"])
    row["subproblem_id"] = str(record["subproblem_id"])
    level = _int_field(record, "difficulty_level", place)
    if not 1 <= level <= 10:
        raise SparkleError(f"{place}: difficulty_level {level} is outside 1..10")
    row["difficulty_level"] = str(level)
    domains = record["domains"]
    if isinstance(domains, str):
        domains = [domains]
    if not isinstance(domains, list) or not all(isinstance(d, str) for d in domains):
        raise SparkleError(f"{place}: field 'domains' must be a list of strings")
    row["domains"] = list(domains)
    row["subproblem_sequence"] = _int_field(record, "subproblem_sequence", place)
    row["total_subproblems"] = _int_field(record, "total_subproblems", place)
    if not 1 <= row["subproblem_sequence"] <= row["total_subproblems"]:
        raise SparkleError(
            f"{place}: subproblem_sequence {row['subproblem_sequence']} is outside 1..{row['total_subproblems']}"
        )
    return row


def group_preview(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One dict per problem (first-appearance order) with its subproblems ordered by sequence."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        key = (str(row.get("source") or ""), str(row["problem ID"]))
        groups.setdefault(key, []).append(row)
    problems = []
    for (benchmark, problem_id), members in groups.items():
        members = sorted(members, key=lambda r: int(r["subproblem_sequence"]))
        total = int(members[0]["total_subproblems"])
        sequence = [int(r["subproblem_sequence"]) for r in members]
        label = f"sparkle_preview problem {problem_id!r}" + (f" ({benchmark})" if benchmark else "")
        if sequence != list(range(1, total + 1)):
            raise SparkleError(
                f"{label}: subproblem_sequence is {sequence} but total_subproblems is {total}; the chain must "
                "hold each of 1..total exactly once"
            )
        if any(int(r["total_subproblems"]) != total for r in members):
            raise SparkleError(f"{label}: rows disagree on total_subproblems")
        first = members[0]
        answer = first["answer"]
        problems.append(
            {
                "id": problem_id,
                "benchmark": canonical_benchmark(first.get("source")) or first.get("source"),
                "problem": first["problem"],
                "answer": list(answer) if isinstance(answer, list) else [str(answer)],
                "reasoning": first.get("reasoning"),
                "planning": first["planning"],
                "knowledge": first["knowledge"],
                "difficulty_level": int(first["difficulty_level"]),
                "domains": list(first["domains"]),
                "general_id": first.get("general_id"),
                "subproblems": [
                    {
                        "id": str(r["subproblem_id"]),
                        "sequence": int(r["subproblem_sequence"]),
                        "question": r["subproblem_question"],
                        "answer": r["subproblem_answer"],
                        "augmented_problem": r["augmented_problem"],
                    }
                    for r in members
                ],
            }
        )
    return problems


def write_preview(
    out_dir: str | os.PathLike[str], source: str | os.PathLike[str] | None = None, config: str | None = None
) -> list[Path]:
    """``sparkle_preview.jsonl`` (validated rows) and ``sparkle_preview_problems.jsonl`` (grouped)."""
    rows = load_preview(source, config)
    problems = group_preview(rows)
    out = Path(out_dir)
    return [write_jsonl(rows, out / PREVIEW_FILE), write_jsonl(problems, out / GROUPED_FILE)]
