"""Reads lm-eval output of the probe tasks into one record per document: which model, benchmark,
condition, problem, difficulty level and chain position, and which of its k samples were graded correct.

Inputs may be ``samples_<task>_<time>.jsonl`` files, ``results_<time>.json`` files (their samples files
beside them are read) or folders holding either (searched recursively). When a (model, task) pair was run
several times, the latest run is used.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sparkle.errors import SparkleError
from sparkle.io import read_jsonl
from sparkle.log import get_logger
from sparkle.probes.tasks import canonical_benchmark, grade_samples, parse_task_name

log = get_logger(__name__)


@dataclass(frozen=True)
class DocRecord:
    """One probe document of one model: the correctness of each of its samples, in sample order."""

    model: str
    benchmark: str
    condition: str
    family: str
    problem_id: str
    level: int | None
    correct: tuple[bool, ...]
    position: int | None = None  # 1-based place in the subproblem chain (subproblem condition only)
    total: int | None = None  # number of subproblems in the problem's chain


def _split_samples_name(path: Path) -> tuple[str, str] | None:
    """(task, timestamp) of ``samples_<task>_<timestamp>.jsonl``."""
    if not (path.name.startswith("samples_") and path.name.endswith(".jsonl")):
        return None
    stem = path.name[len("samples_") : -len(".jsonl")]
    if "_" not in stem:
        return None
    task, timestamp = stem.rsplit("_", 1)
    return task, timestamp


# Trailing folder names that say nothing about which model it is (verl / merger layouts).
_GENERIC_PARTS = {"huggingface", "hf", "actor", "merged", "model", "checkpoint", "checkpoints"}


def model_label(name: str) -> str:
    """A short model name: Hub ids (org/name) as they are; for a local path its last telling component
    (``.../stage1/global_step_800/actor/huggingface`` -> ``stage1/global_step_800``)."""
    name = name.strip()
    if not name.startswith(("/", ".", "~")):
        return name
    parts = [p for p in Path(name).parts if p not in ("/", ".", "..", "~")]
    while len(parts) > 1 and parts[-1].lower() in _GENERIC_PARTS:
        parts.pop()
    if not parts:
        return name
    if parts[-1].startswith("global_step") and len(parts) > 1:
        return f"{parts[-2]}/{parts[-1]}"
    return parts[-1]


def _model_from_results(folder: Path, timestamp: str) -> str | None:
    path = folder / f"results_{timestamp}.json"
    if not path.is_file():
        return None
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    name = results.get("model_name")
    if not name:
        args = (results.get("config") or {}).get("model_args")
        if isinstance(args, str):
            parts = dict(p.split("=", 1) for p in args.split(",") if "=" in p)
            name = parts.get("pretrained") or parts.get("model")
        elif isinstance(args, dict):
            name = args.get("pretrained") or args.get("model")
    return str(name) if name else None


def _model_from_folder(folder: Path) -> str:
    """lm-eval writes into ``<out>/<model path with / replaced by __>/``."""
    parts = [p for p in folder.name.split("__") if p]
    if not parts:
        return folder.name
    return "/" + "/".join(parts) if folder.name.startswith("__") else "/".join(parts)


def find_samples_files(paths: Iterable[str | Path]) -> list[Path]:
    """The probe samples files named by ``paths`` (files or folders), latest run per (folder, task)."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(sorted(path.rglob("samples_sparkle_*.jsonl")))
        elif path.is_file() and path.name.startswith("results_") and path.suffix == ".json":
            timestamp = path.stem[len("results_") :]
            siblings = sorted(path.parent.glob(f"samples_sparkle_*_{timestamp}.jsonl"))
            if not siblings:
                raise SparkleError(
                    f"{path}: no samples_sparkle_*_{timestamp}.jsonl beside it; the probe analysis needs the "
                    "per-sample outputs (levels, chains, intervals): rerun lm-eval with --log_samples"
                )
            found.extend(siblings)
        elif path.is_file() and _split_samples_name(path):
            found.append(path)
        elif path.exists():
            raise SparkleError(f"{path}: not an lm-eval samples_*.jsonl or results_*.json file, nor a folder")
        else:
            raise SparkleError(f"{path}: no such file or folder; pass lm-eval output folders or files")
    latest: dict[tuple[Path, str], tuple[str, Path]] = {}
    for path in found:
        split = _split_samples_name(path)
        if split is None or parse_task_name(split[0]) is None:
            continue
        task, timestamp = split
        key = (path.parent.resolve(), task)
        if key not in latest or timestamp > latest[key][0]:
            latest[key] = (timestamp, path)
    return sorted(path for _, path in latest.values())


def _responses(row: dict[str, Any]) -> list[str]:
    resps = row.get("filtered_resps")
    if resps is None:
        resps = row.get("resps")
    while isinstance(resps, list) and len(resps) == 1 and isinstance(resps[0], list):
        resps = resps[0]
    if not isinstance(resps, list):
        return []
    flat: list[str] = []
    for item in resps:
        flat.extend(str(x) for x in item) if isinstance(item, list) else flat.append(str(item))
    return flat


def records_from_samples(path: Path, model: str | None = None) -> list[DocRecord]:
    """The records of one samples file; ``correct`` comes from the task's metric, or is re-graded."""
    split = _split_samples_name(path)
    parsed = parse_task_name(split[0]) if split else None
    if split is None or parsed is None:
        raise SparkleError(
            f"{path}: not the samples file of a probe task (samples_sparkle_<condition>_<benchmark>_*)"
        )
    task_condition, task_benchmark, task_family = parsed
    if model is None:
        model = model_label(_model_from_results(path.parent, split[1]) or _model_from_folder(path.parent))
    records = []
    for lineno, row in enumerate(read_jsonl(path), 1):
        doc = row.get("doc")
        if not isinstance(doc, dict) or "id" not in doc:
            raise SparkleError(
                f"{path}, line {lineno}: no `doc` with an `id`; was it written by a probe task?"
            )
        condition = doc.get("condition", task_condition)
        benchmark = canonical_benchmark(doc.get("benchmark")) or task_benchmark
        family = doc.get("family", task_family)
        if "correct" in row and isinstance(row["correct"], list):
            correct = tuple(bool(c) for c in row["correct"])
        else:
            responses = _responses(row)
            if not responses or "target" not in doc:
                raise SparkleError(
                    f"{path}, line {lineno}: neither `correct` nor responses with a `target` to grade"
                )
            correct = tuple(grade_samples(doc, responses))
        level = doc.get("difficulty_level")
        position = doc.get("subproblem_sequence") if condition == "subproblem" else None
        records.append(
            DocRecord(
                model=model,
                benchmark=benchmark,
                condition=condition,
                family=family,
                problem_id=str(doc["id"]),
                level=int(level) if level is not None else None,
                correct=correct,
                position=int(position) if position is not None else None,
                total=int(doc["total_subproblems"]) if doc.get("total_subproblems") is not None else None,
            )
        )
    return records


def load_records(paths: Iterable[str | Path], model: str | None = None) -> list[DocRecord]:
    """All probe records under ``paths`` (see the module docstring). ``model`` overrides the model name."""
    files = find_samples_files(paths)
    if not files:
        raise SparkleError(
            "no probe samples found (samples_sparkle_<condition>_<benchmark>_<time>.jsonl); run "
            "`sparkle probe run` or lm-eval with --log_samples on the sparkle_* probe tasks first"
        )
    full: dict[Path, str] = {}
    for path in files:
        if path.parent not in full:
            timestamp = _split_samples_name(path)[1]
            full[path.parent] = _model_from_results(path.parent, timestamp) or _model_from_folder(path.parent)
    # Short names, unless two different models would get the same one (two checkpoints named `huggingface`).
    short = {name: model_label(name) for name in set(full.values())}
    clashes = {label for label in short.values() if list(short.values()).count(label) > 1}
    labels = {
        folder: model or (name if short[name] in clashes else short[name]) for folder, name in full.items()
    }
    records: list[DocRecord] = []
    for path in files:
        records.extend(records_from_samples(path, labels[path.parent]))
    log.info("read %d probe documents from %d samples files", len(records), len(files))
    return records
