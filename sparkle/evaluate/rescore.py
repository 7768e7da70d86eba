"""`sparkle rescore`: re-grade saved lm-eval samples with any grading policy, without regenerating.

Each samples row keeps its k responses (``filtered_resps``) and gold answers (``doc.answer``); they are
graded again with `sparkle.reward.grade` under the chosen policy and the per-document metrics recomputed.
With ``--out DIR`` the re-graded samples and a matching results file are written in lm-eval's layout, so
``sparkle report DIR`` shows the re-graded table.

Inputs are never modified: ``--out`` may not be (or lie inside) an input folder, and no written file may
land on an input. The written results file is lm-eval's own with every key kept; only the re-graded tasks'
metric values (and their groups' means) change, stderr values are recomputed, and ``sparkle_rescore``
records the policy and the sources. A damaged results file beside the samples is refused, not skipped.
"""

from __future__ import annotations

import copy
import json
import math
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sparkle.errors import SparkleError
from sparkle.evaluate.results import (
    find_files,
    model_of,
    read_samples,
    sample_answers,
    sample_responses,
    samples_task,
)
from sparkle.evaluate.tasks import FILTER_NAME, metric_names
from sparkle.io import atomic_files, check_output_dir, write_json_atomic, write_jsonl_atomic
from sparkle.log import get_logger
from sparkle.progress import track

log = get_logger(__name__)


@dataclass
class RescoredTask:
    """One samples file graded again: mean metrics before (as stored) and after, per task."""

    model: str
    task: str
    source: Path
    policy: str
    n_docs: int
    samples: int
    before: dict[str, float] = field(default_factory=dict)
    after: dict[str, float] = field(default_factory=dict)
    changed: int = 0  # samples whose verdict changed
    timed_out: int = 0
    rows: list[dict[str, Any]] = field(default_factory=list, repr=False)


def _results_beside(path: Path) -> Path:
    """The results file of the run a samples file belongs to (it may not exist)."""
    return path.parent / f"results_{path.stem.rsplit('_', 1)[-1]}.json"


def load_results_file(path: Path) -> dict[str, Any]:
    """An lm-eval results file as a dict; a damaged one is refused with the file named."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise SparkleError(
            f"{path}: damaged results file (not valid JSON, line {e.lineno}: {e.msg}); restore it from the "
            "lm-eval run or move it away to re-grade the samples alone"
        ) from e
    except (OSError, UnicodeDecodeError) as e:
        raise SparkleError(
            f"{path}: cannot read the results file ({e}); fix its permissions or move it away"
        ) from e
    if not isinstance(data, dict) or not isinstance(data.get("results"), dict):
        raise SparkleError(
            f"{path}: damaged results file (no `results` object); restore it from the lm-eval run or move it away"
        )
    return data


def _model_for(path: Path) -> str:
    """The model of a samples file: from the results file of the same run beside it, else the folder name."""
    results = _results_beside(path)
    if results.is_file():
        return model_of(load_results_file(results), results)
    return path.parent.name


def _mean(rows: list[dict[str, Any]], key: str) -> float | None:
    values = [row[key] for row in rows if isinstance(row.get(key), (int, float))]
    return sum(values) / len(values) if len(values) == len(rows) and rows else None


def rescore_file(path: str | os.PathLike[str], policy: str, timeout: float | None = None) -> RescoredTask:
    """Grade every response of one samples file under ``policy``; rows get the new metrics."""
    from sparkle.evaluate.metrics import sample_metrics
    from sparkle.evaluate.tasks import report_ks
    from sparkle.reward import grade

    path = Path(path)
    task = samples_task(path) or path.stem
    rows = read_samples(path)
    if not rows:
        raise SparkleError(f"{path}: no samples to re-grade")
    new_rows, changed, timed_out, ks = [], 0, 0, set()
    for number, row in enumerate(track(rows, f"re-grading {task} ({policy})"), 1):
        responses = sample_responses(row)
        answers = sample_answers(row)
        if not responses:
            raise SparkleError(f"{path}, line {number}: no responses (filtered_resps / resps)")
        if not answers:
            raise SparkleError(f"{path}, line {number}: no gold answer (doc.answer / target)")
        grades = [grade(r, answers, policy=policy, timeout=timeout) for r in responses]
        correct = [g.correct for g in grades]
        metrics: dict[str, Any] = dict(
            sample_metrics(correct, [g.extracted for g in grades], report_ks(len(correct)))
        )
        old = row.get("correct")
        if isinstance(old, list) and len(old) == len(correct):
            changed += sum(bool(a) != b for a, b in zip(old, correct, strict=True))
        timed_out += sum(g.timed_out for g in grades)
        ks.add(len(correct))
        metrics["correct"] = [int(c) for c in correct]
        new_rows.append({**row, **metrics, "metrics": [*metrics], "policy": policy})
    if len(ks) != 1:
        raise SparkleError(f"{path}: documents have different numbers of samples ({sorted(ks)})")
    k = ks.pop()
    names = metric_names(k)
    return RescoredTask(
        model=_model_for(path),
        task=task,
        source=path,
        policy=policy,
        n_docs=len(rows),
        samples=k,
        before={m: v for m in names if (v := _mean(rows, m)) is not None},
        after={m: v for m in names if (v := _mean(new_rows, m)) is not None},
        changed=changed,
        timed_out=timed_out,
        rows=new_rows,
    )


def _stderr(values: list[float]) -> float:
    """lm-eval's standard error of a mean: sample standard deviation / sqrt(n)."""
    n = len(values)
    if n < 2:
        return float("nan")
    mean = sum(values) / n
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) / math.sqrt(n)


def _task_values(t: RescoredTask) -> dict[str, float]:
    """``<metric>,<filter>`` → value for a re-graded task: means, their stderr, pooled ``correct``."""
    out: dict[str, float] = {}
    for metric, value in t.after.items():
        out[f"{metric},{FILTER_NAME}"] = value
        out[f"{metric}_stderr,{FILTER_NAME}"] = _stderr([row[metric] for row in t.rows])
    flat = [c for row in t.rows for c in row["correct"]]
    out[f"correct,{FILTER_NAME}"] = sum(flat) / len(flat) if flat else 0.0
    return out


def _results_document(group: list[RescoredTask]) -> dict[str, Any]:
    """lm-eval's results file of the run with the re-graded values; every other key kept as written.

    Per re-graded task the metric values change, and so do their stderr values where lm-eval wrote a
    number. A group whose tasks were all re-graded gets the unweighted mean of its tasks (as the task
    folder aggregates: weight_by_size false). Tasks and groups whose samples were not re-graded hold values
    of another policy: their entries move, unchanged, to ``sparkle_rescore.not_regraded``."""
    source = _results_beside(group[0].source)
    data = copy.deepcopy(load_results_file(source)) if source.is_file() else {}
    results = data.setdefault("results", {})
    regraded = {t.task for t in group}
    for t in group:
        entry = results.setdefault(t.task, {"alias": t.task})
        for key, value in _task_values(t).items():
            if key.split(",")[0].endswith("_stderr"):
                if not isinstance(entry.get(key), (int, float)):
                    continue  # lm-eval wrote "N/A" or nothing (bootstrap_iters 0): leave it so
                value = "N/A" if math.isnan(value) else value
            entry[key] = value
    subtasks_of = {name: list(subs or []) for name, subs in (data.get("group_subtasks") or {}).items()}
    not_regraded: dict[str, Any] = {}
    for name in list(results):
        if name in regraded:
            continue
        subtasks = subtasks_of.get(name)
        if subtasks and set(subtasks) <= regraded:
            for entry in (results.get(name), (data.get("groups") or {}).get(name)):
                if not isinstance(entry, dict):
                    continue
                for key in list(entry):
                    metric, _, filt = key.partition(",")
                    values = [results[sub].get(key) for sub in subtasks]
                    if (
                        filt
                        and not metric.endswith("_stderr")
                        and all(isinstance(v, (int, float)) for v in values)
                    ):
                        entry[key] = sum(values) / len(values)
                        if f"{metric}_stderr,{filt}" in entry:
                            entry[f"{metric}_stderr,{filt}"] = "N/A"
        else:
            not_regraded[name] = results.pop(name)
            (data.get("groups") or {}).pop(name, None)
    samples = data.setdefault("n-samples", {})
    for t in group:
        samples.setdefault(t.task, {"original": t.n_docs, "effective": t.n_docs})
    if not source.is_file():
        data["config"] = {"model_args": {"pretrained": group[0].model}}
        data["model_name"] = group[0].model
    data["sparkle_rescore"] = {
        "policy": group[0].policy,
        "sources": [str(t.source) for t in group],
        "results_source": str(source) if source.is_file() else None,
        "not_regraded": not_regraded,
    }
    return data


def write_rescored(tasks: list[RescoredTask], out_dir: str | os.PathLike[str]) -> list[Path]:
    """Re-graded samples + one results file per source run, in lm-eval's layout under ``out_dir``, all
    written together (`sparkle.io.atomic_files`); the inputs are checked to stay untouched."""
    check_out([t.source for t in tasks], [t.source for t in tasks], out_dir)
    out = Path(out_dir)
    runs: dict[tuple[Path, str], list[RescoredTask]] = {}
    for t in tasks:
        runs.setdefault((t.source.parent, t.source.stem.rsplit("_", 1)[-1]), []).append(t)
    written = []
    with atomic_files(out) as staging:
        for (folder, date), group in runs.items():
            name = _folder_name(group[0].model, folder)
            (staging / name).mkdir(exist_ok=True)
            for t in group:
                write_jsonl_atomic(staging / name / f"samples_{t.task}_{date}.jsonl", t.rows)
                written.append(out / name / f"samples_{t.task}_{date}.jsonl")
            write_json_atomic(staging / name / f"results_{date}.json", _results_document(group))
            written.append(out / name / f"results_{date}.json")
    return written


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_out(
    paths: Iterable[str | os.PathLike[str]], files: list[Path], out: str | os.PathLike[str]
) -> Path:
    """Refuse, before any grading, an ``--out`` that would write into the inputs: equal to or inside an input
    folder (or the folder of an input file), or a target file that is one of the inputs."""
    target = check_output_dir(out).resolve()
    for raw in paths:
        given = Path(raw).expanduser().resolve()
        folder = given if given.is_dir() else given.parent
        if _inside(target, folder):
            raise SparkleError(
                f"--out {out}: lies in the input {raw}; rescore never modifies its inputs: "
                "pick a folder outside the inputs"
            )
    inputs = {f.resolve() for f in files} | {_results_beside(f).resolve() for f in files}
    for _folder, name, date, tasks in _runs_of(files):
        for written in [
            target / name / f"results_{date}.json",
            *(target / name / f"samples_{t}_{date}.jsonl" for t in tasks),
        ]:
            if written in inputs:
                raise SparkleError(
                    f"--out {out}: would overwrite the input {written}; rescore never modifies its inputs: "
                    "pick a folder outside the inputs"
                )
    return target


def _folder_name(model: str, folder: Path) -> str:
    return re.sub(r"[\"<>:/|\\?*\[\]]+", "__", model) or folder.name


def _runs_of(files: list[Path]) -> list[tuple[Path, str, str, list[str]]]:
    """(source folder, output folder name, date, tasks) per lm-eval run among ``files``."""
    runs: dict[tuple[Path, str], list[Path]] = {}
    for f in files:
        runs.setdefault((f.parent, f.stem.rsplit("_", 1)[-1]), []).append(f)
    return [
        (folder, _folder_name(_model_for(group[0]), folder), date, [samples_task(f) or f.stem for f in group])
        for (folder, date), group in runs.items()
    ]


def rescore(
    paths: Iterable[str | os.PathLike[str]],
    policy: str = "eval",
    timeout: float | None = None,
    out: str | os.PathLike[str] | None = None,
) -> list[RescoredTask]:
    """Re-grade every samples file under ``paths`` (folders are searched recursively). With ``out`` (where
    `write_rescored` will write), the output is checked before any grading."""
    from sparkle.reward.grading import check_policy

    paths = list(paths)
    check_policy(policy)
    if timeout is not None and not (
        isinstance(timeout, (int, float)) and math.isfinite(timeout) and timeout > 0
    ):
        raise SparkleError(f"--timeout {timeout}: the seconds per symbolic comparison must be a number > 0")
    files = find_files(paths, "samples_*.jsonl")
    if not files:
        raise SparkleError(
            f"no samples_*.jsonl under {', '.join(map(str, paths))}; run lm-eval with --log_samples"
        )
    for f in files:  # a damaged results file is refused before any grading
        if _results_beside(f).is_file():
            load_results_file(_results_beside(f))
    if out is not None:
        check_out(paths, files, out)
    return [rescore_file(f, policy, timeout) for f in files]


def summary_markdown(tasks: list[RescoredTask]) -> str:
    """A Markdown table: per (model, task) the stored and re-graded avg@k and the re-graded pass@k / maj@k."""
    lines = [
        "| model | task | docs | policy | avg@k stored | avg@k re-graded | pass@k | maj@k | changed |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for t in tasks:
        avg = f"avg@{t.samples}"
        before = t.before.get(avg)
        passes = ", ".join(f"{m}={100 * v:.2f}" for m, v in t.after.items() if m.startswith("pass@"))
        majs = ", ".join(f"{m}={100 * v:.2f}" for m, v in t.after.items() if m.startswith("maj@"))
        lines.append(
            f"| {t.model} | {t.task} | {t.n_docs} | {t.policy} | "
            f"{'–' if before is None else f'{100 * before:.2f}'} | {100 * t.after[avg]:.2f} | {passes} | {majs} | "
            f"{t.changed} |"
        )
    return "\n".join(lines) + "\n"
