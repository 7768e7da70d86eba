"""Reading what lm-eval writes: ``<out>/<model, / → __>/results_<time>.json`` and, with
``--log_samples``, ``samples_<task>_<time>.jsonl`` beside it (one JSON line per document).

A results file names its model (``model_name`` or ``config.model_args`` ``pretrained=``) and holds, per
task, ``"<metric>,<filter>"`` values (``avg@8,all_samples``). Folders are searched recursively, and when a
(model, task) pair was run several times the latest run wins.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sparkle.errors import SparkleError
from sparkle.evaluate.tasks import TASKS
from sparkle.samples import read_samples, sample_answers, sample_responses  # noqa: F401 (their home)

_RESULTS_NAME = re.compile(r"^results_(?P<date>.+)\.json$")
_SAMPLES_NAME = re.compile(r"^samples_(?P<task>.+)_(?P<date>\d{4}-\d{2}-\d{2}T[^_]+)\.jsonl$")
_AVG_KEY = re.compile(r"^avg@(\d+)$")
# Path parts that say nothing about which model it is (verl / HF export layouts).
_GENERIC_PARTS = {"huggingface", "hf", "actor", "hf_model", "merged", "model"}


@dataclass
class TaskResult:
    """One task of one model in one lm-eval run."""

    model: str
    task: str
    metrics: dict[str, float]
    results_file: Path
    date: str
    n_docs: int | None = None
    samples_file: Path | None = None
    policy: str = "eval"  # grading policy (another one after `sparkle rescore --out`)
    settings: dict[str, Any] | None = None  # the `sparkle eval/probe run` settings it ran with, if recorded
    longest_prompt: int | None = None  # tokens of the task's longest prompt (chat template included)
    prompts_too_long: int | None = None  # prompts lm-eval had to cut from the left (None: not measured)

    @property
    def benchmark(self) -> str | None:
        """The benchmark of a `sparkle_bench` task (``gsm8k_spk`` → ``gsm8k``), else None."""
        return TASKS.get(self.task)

    @property
    def samples(self) -> int | None:
        """k of the run (from its ``avg@k`` metric), or None when the task has no avg@k."""
        for key in self.metrics:
            match = _AVG_KEY.match(key)
            if match:
                return int(match.group(1))
        return None

    @property
    def avg(self) -> float | None:
        """avg@k (a fraction), or None."""
        k = self.samples
        return None if k is None else self.metrics[f"avg@{k}"]


def _load_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise SparkleError(f"{path}: not valid JSON (line {e.lineno}): {e.msg}; is the run complete?") from e
    except OSError as e:
        raise SparkleError(f"{path}: cannot read: {e.strerror}") from e
    if not isinstance(data, dict) or not isinstance(data.get("results"), dict):
        raise SparkleError(f"{path}: no `results` object; this is not an lm-eval results file")
    return data


def model_args_dict(model_args: Any) -> dict[str, str]:
    """lm-eval ``model_args`` (``"k=v,k=v"`` or a dict) as a dict of strings."""
    if isinstance(model_args, dict):
        return {str(k): str(v) for k, v in model_args.items()}
    out: dict[str, str] = {}
    for part in str(model_args or "").split(","):
        if "=" in part:
            key, value = part.split("=", 1)
            out[key.strip()] = value.strip()
    return out


def model_of(data: dict[str, Any], path: Path) -> str:
    """The model a results file describes: its ``pretrained``/``model`` argument, else lm-eval's
    ``model_name``, else the folder name."""
    args = model_args_dict((data.get("config") or {}).get("model_args"))
    for key in ("pretrained", "model", "path"):
        if args.get(key):
            return args[key]
    if data.get("model_name"):
        return str(data["model_name"])
    return path.parent.name


def model_label(model: str) -> str:
    """A short display name for a model path or Hub id (``.../stage1/global_step_80/actor/huggingface``
    → ``stage1/global_step_80``; ``org/Name`` → ``Name``)."""
    parts = [p for p in re.split(r"[/\\]+", model.rstrip("/\\")) if p]
    while len(parts) > 1 and parts[-1].lower() in _GENERIC_PARTS:
        parts.pop()
    if not parts:
        return model
    if re.match(r"^(global_step_\d+|checkpoint-\d+|step_?\d+)$", parts[-1]) and len(parts) > 1:
        return "/".join(parts[-2:])
    return parts[-1]


def find_files(paths: Iterable[str | os.PathLike[str]], pattern: str) -> list[Path]:
    """Files matching ``pattern`` (a glob) under each path (recursively), or the paths themselves."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            found.extend(sorted(path.rglob(pattern)))
        elif path.is_file():
            found.append(path)
        else:
            raise SparkleError(f"{path}: no such file or folder")
    return found


def read_results_file(path: str | os.PathLike[str]) -> list[TaskResult]:
    """Every task of one results file (groups excluded), with its samples file when it exists."""
    path = Path(path)
    data = _load_json(path)
    match = _RESULTS_NAME.match(path.name)
    date = match.group("date") if match else str(data.get("date", ""))
    model = model_of(data, path)
    groups = set(data.get("groups") or {})
    n_samples = data.get("n-samples") or {}
    policy = str((data.get("sparkle_rescore") or {}).get("policy") or "eval")
    out = []
    for task, values in data["results"].items():
        if task in groups or not isinstance(values, dict):
            continue
        metrics: dict[str, float] = {}
        for key, value in values.items():
            name, _, _filter = key.partition(",")
            if not _filter or name.endswith("_stderr") or not isinstance(value, (int, float)):
                continue
            metrics.setdefault(name, float(value))
        samples_file = path.parent / f"samples_{task}_{date}.jsonl"
        run = run_record(data, task)
        fit = (run.get("prompts") or {}).get(task) or {}
        count = (n_samples.get(task) or {}).get("effective")
        out.append(
            TaskResult(
                model=model,
                task=task,
                metrics=metrics,
                results_file=path,
                date=date,
                n_docs=int(count) if count is not None else None,
                samples_file=samples_file if samples_file.is_file() else None,
                policy=policy,
                settings=run.get("settings"),
                longest_prompt=fit.get("longest"),
                prompts_too_long=fit.get("too_long"),
            )
        )
    return out


# The --metadata key under which `sparkle eval run` / `sparkle probe run` record their settings and the
# prompt-length check; lm-eval copies it into every task's config in the results file.
RUN_METADATA_KEY = "sparkle_run"


def run_record(data: dict[str, Any], task: str) -> dict[str, Any]:
    """What the sparkle runner recorded for ``task`` in a results file (``configs.<task>.metadata``), or {}."""
    config = (data.get("configs") or {}).get(task)
    metadata = config.get("metadata") if isinstance(config, dict) else None
    record = metadata.get(RUN_METADATA_KEY) if isinstance(metadata, dict) else None
    return record if isinstance(record, dict) else {}


def collect_results(
    paths: Iterable[str | os.PathLike[str]], tasks: Iterable[str] | None = None
) -> list[TaskResult]:
    """The latest result of every (model, task) pair found under ``paths`` (folders or results files);
    only ``tasks`` when given."""
    wanted = set(tasks) if tasks is not None else None
    latest: dict[tuple[str, str], TaskResult] = {}
    for path in find_files(paths, "results_*.json"):
        for result in read_results_file(path):
            if wanted is not None and result.task not in wanted:
                continue
            key = (result.model, result.task)
            if key not in latest or result.date >= latest[key].date:
                latest[key] = result
    return sorted(latest.values(), key=lambda r: (r.model, r.task))


def samples_task(path: str | os.PathLike[str]) -> str | None:
    """The task name in a samples file name (``samples_<task>_<time>.jsonl``), or None."""
    match = _SAMPLES_NAME.match(Path(path).name)
    return match.group("task") if match else None
