"""Reads lm-eval output of the probe tasks into one record per document: which model, benchmark,
condition, problem, difficulty level and chain position, and which of its k samples were graded correct.

Inputs may be ``samples_<task>_<time>.jsonl`` files, ``results_<time>.json`` files (their samples files
beside them are read) or folders holding either (searched recursively). When a (model, task) pair was run
several times, the latest run is used. The lm-eval output layout itself (file names, model names, rows) is
read with `sparkle.evaluate.results`, shared with `sparkle report`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sparkle.data.probes import canonical_benchmark
from sparkle.errors import SparkleError
from sparkle.evaluate.results import (
    collect_results,
    model_label,
    model_of,
    read_samples,
    sample_responses,
    samples_task,
)
from sparkle.log import get_logger
from sparkle.probes.tasks import grade_samples, parse_task_name

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
    doc_id: int | None = None  # lm-eval's index of the document in its task (decides between duplicates)


@dataclass(frozen=True)
class SamplesFile:
    """A probe task's samples file and the (full) name of the model that wrote it."""

    model: str
    task: str
    date: str
    path: Path


def _samples_date(path: Path, task: str) -> str:
    return path.name[len(f"samples_{task}_") : -len(".jsonl")]


def _model_of_folder(folder: Path, date: str) -> str:
    """The model of a samples file: its results file's model when one is beside it, else the folder name
    (lm-eval writes into ``<out>/<model path with / replaced by __>/``)."""
    results = folder / f"results_{date}.json"
    if results.is_file():
        try:
            return model_of(json.loads(results.read_text(encoding="utf-8")), results)
        except (OSError, json.JSONDecodeError):
            log.warning("%s: unreadable; naming the model after its folder", results)
    return re.sub(r"__+", "/", folder.name)


def find_samples_files(paths: Iterable[str | Path]) -> list[SamplesFile]:
    """The probe samples files under ``paths``, the latest run per (model, task)."""
    found: list[SamplesFile] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if not path.exists():
            raise SparkleError(f"{path}: no such file or folder; pass lm-eval output folders or files")
        if path.is_file() and path.name.startswith("samples_"):
            task = samples_task(path)
            if task is None or parse_task_name(task) is None:
                raise SparkleError(
                    f"{path}: not the samples file of a probe task (samples_sparkle_<condition>_<benchmark>_<time>.jsonl)"
                )
            date = _samples_date(path, task)
            found.append(SamplesFile(_model_of_folder(path.parent, date), task, date, path))
            continue
        if path.is_file() and not (path.name.startswith("results_") and path.suffix == ".json"):
            raise SparkleError(f"{path}: not an lm-eval samples_*.jsonl or results_*.json file, nor a folder")
        covered: set[Path] = set()
        for result in collect_results([path]):
            if parse_task_name(result.task) is None:
                continue
            if result.samples_file is None:
                raise SparkleError(
                    f"{result.results_file}: no samples file for {result.task} beside it; the probe analysis needs "
                    "the per-sample outputs (levels, chains, intervals): rerun lm-eval with --log_samples"
                )
            found.append(SamplesFile(result.model, result.task, result.date, result.samples_file))
            covered.add(result.samples_file.resolve())
        if path.is_dir():  # samples files copied without their results file
            for extra in sorted(path.rglob("samples_sparkle_*.jsonl")):
                task = samples_task(extra)
                if extra.resolve() in covered or task is None or parse_task_name(task) is None:
                    continue
                date = _samples_date(extra, task)
                found.append(SamplesFile(_model_of_folder(extra.parent, date), task, date, extra))
    latest: dict[tuple[str, str], SamplesFile] = {}
    for item in found:
        key = (item.model, item.task)
        if key not in latest or item.date > latest[key].date:
            latest[key] = item
    return sorted(latest.values(), key=lambda s: (s.model, s.task))


def records_from_samples(path: str | Path, model: str) -> list[DocRecord]:
    """The records of one samples file; ``correct`` comes from the task's metric, or is re-graded."""
    path = Path(path)
    task = samples_task(path)
    parsed = parse_task_name(task) if task else None
    if parsed is None:
        raise SparkleError(
            f"{path}: not the samples file of a probe task (samples_sparkle_<condition>_<benchmark>_*)"
        )
    task_condition, task_benchmark, task_family = parsed
    records = []
    for lineno, row in enumerate(read_samples(path), 1):
        doc = row["doc"]
        if not isinstance(doc, dict) or "id" not in doc:
            raise SparkleError(
                f"{path}, line {lineno}: the `doc` has no `id`; was it written by a probe task?"
            )
        condition = doc.get("condition", task_condition)
        benchmark = canonical_benchmark(doc.get("benchmark")) or task_benchmark
        family = doc.get("family", task_family)
        if isinstance(row.get("correct"), list):
            correct = tuple(bool(c) for c in row["correct"])
        else:
            responses = sample_responses(row)
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
                doc_id=row["doc_id"] if isinstance(row.get("doc_id"), int) else None,
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
    # Short names (as `sparkle report` shows them), unless two different models would share one.
    short = {item.model: model_label(item.model) for item in files}
    clashes = {label for label in short.values() if list(short.values()).count(label) > 1}
    records: list[DocRecord] = []
    for item in files:
        label = model or (item.model if short[item.model] in clashes else short[item.model])
        records.extend(records_from_samples(item.path, label))
    log.info("read %d probe documents from %d samples files", len(records), len(files))
    return records
