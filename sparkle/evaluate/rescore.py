"""`sparkle rescore`: re-grade saved lm-eval samples with any grading policy, without regenerating.

Each samples row keeps its k responses (``filtered_resps``) and gold answers (``doc.answer``); they are
graded again with `sparkle.reward.grade` under the chosen policy and the per-document metrics recomputed.
With ``--out DIR`` the re-graded samples and a matching results file are written in lm-eval's layout, so
``sparkle report DIR`` shows the re-graded table.
"""

from __future__ import annotations

import json
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
from sparkle.io import write_json_atomic, write_jsonl_atomic
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


def _model_for(path: Path) -> str:
    """The model of a samples file: from the results file of the same run beside it, else the folder name."""
    date = path.stem.rsplit("_", 1)[-1]
    results = path.parent / f"results_{date}.json"
    if results.is_file():
        try:
            return model_of(json.loads(results.read_text(encoding="utf-8")), results)
        except (OSError, json.JSONDecodeError):
            log.warning("%s: unreadable; naming the model after the folder", results)
    return path.parent.name


def _mean(rows: list[dict[str, Any]], key: str) -> float | None:
    values = [row[key] for row in rows if isinstance(row.get(key), (int, float))]
    return sum(values) / len(values) if len(values) == len(rows) and rows else None


def rescore_file(path: str | os.PathLike[str], policy: str, timeout: float | None = None) -> RescoredTask:
    """Grade every response of one samples file under ``policy``; rows get the new metrics."""
    from sparkle.evaluate.metrics import sample_metrics
    from sparkle.evaluate.tasks import report_ks
    from sparkle.reward import answer_key, grade

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
            sample_metrics(correct, [answer_key(g.extracted) for g in grades], report_ks(len(correct)))
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


def write_rescored(tasks: list[RescoredTask], out_dir: str | os.PathLike[str]) -> list[Path]:
    """Re-graded samples + one results file per source run, in lm-eval's layout under ``out_dir``."""
    out = Path(out_dir)
    runs: dict[tuple[Path, str], list[RescoredTask]] = {}
    for t in tasks:
        runs.setdefault((t.source.parent, t.source.stem.rsplit("_", 1)[-1]), []).append(t)
    written = []
    for (folder, date), group in runs.items():
        name = re.sub(r"[\"<>:/|\\?*\[\]]+", "__", group[0].model) or folder.name
        target = out / name
        target.mkdir(parents=True, exist_ok=True)
        results = {
            "results": {
                t.task: {"alias": t.task, **{f"{m},{FILTER_NAME}": v for m, v in t.after.items()}}
                for t in group
            },
            "n-samples": {t.task: {"original": t.n_docs, "effective": t.n_docs} for t in group},
            "config": {"model_args": {"pretrained": group[0].model}},
            "model_name": group[0].model,
            "sparkle_rescore": {"policy": group[0].policy, "sources": [str(t.source) for t in group]},
        }
        for t in group:
            path = target / f"samples_{t.task}_{date}.jsonl"
            write_jsonl_atomic(path, t.rows)
            written.append(path)
        path = target / f"results_{date}.json"
        write_json_atomic(path, results)
        written.append(path)
    return written


def rescore(
    paths: Iterable[str | os.PathLike[str]], policy: str = "eval", timeout: float | None = None
) -> list[RescoredTask]:
    """Re-grade every samples file under ``paths`` (folders are searched recursively)."""
    from sparkle.reward import POLICIES

    if policy not in POLICIES:
        raise SparkleError(f"unknown grading policy {policy!r}: use one of {', '.join(POLICIES)}")
    files = find_files(paths, "samples_*.jsonl")
    if not files:
        raise SparkleError(
            f"no samples_*.jsonl under {', '.join(map(str, paths))}; run lm-eval with --log_samples"
        )
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
