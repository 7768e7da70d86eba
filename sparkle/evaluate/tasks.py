"""What the benchmark lm-eval tasks call (`eval/tasks/sparkle_bench/`), and the generator of that folder.

Tasks ``aime2024``, ``amc2023``, ``gsm8k_spk``, ``math500``, ``olympiad_bench`` (group ``sparkle_bench``)
pose each problem with the exact plain prompt (`sparkle.prompts.plain_prompt`), sample it ``k`` times
(default 8) at T = 0.6 / top_p 1.0 until EOS, grade every sample with `sparkle.reward.grade` (eval
policy) and report per document ``avg@k``, unbiased ``pass@j`` and ``maj@j`` (`sparkle.evaluate.metrics`).

Documents come from the Hub datasets (`sparkle.data.load_benchmark`) unless a local folder written by
``sparkle data benchmarks --out DIR`` is named by ``--metadata '{"data_dir": DIR}'`` or by the
environment variable ``SPARKLE_DATA_DIR``; the folder must then hold ``{benchmark}.jsonl``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sparkle.errors import SparkleError
from sparkle.evaluate.metrics import sample_metrics
from sparkle.log import get_logger
from sparkle.prompts import FAMILIES, plain_prompt
from sparkle.registry import BENCHMARKS
from sparkle.samples import responses_of

log = get_logger(__name__)

DATA_DIR_ENV = "SPARKLE_DATA_DIR"
GROUP = "sparkle_bench"
# lm-eval task name -> benchmark name (gsm8k_spk avoids lm-eval's own `gsm8k` task), in the paper's order.
TASKS: dict[str, str] = {
    "aime2024": "aime2024",
    "amc2023": "amc2023",
    "math500": "math500",
    "gsm8k_spk": "gsm8k",
    "olympiad_bench": "olympiad_bench",
}
BENCHMARK_TASKS: dict[str, str] = {benchmark: task for task, benchmark in TASKS.items()}

# Sampling of the paper's evaluation: T = 0.6, top_p 1.0, stop only at EOS, 8 samples per problem.
DEFAULT_SAMPLES = 8
TEMPERATURE = 0.6
TOP_P = 1.0
DEFAULT_MAX_GEN_TOKS = 31768
FILTER_NAME = "all_samples"


def report_ks(samples: int) -> list[int]:
    """The k of pass@k / maj@k for ``samples`` samples: the powers of two up to it, and ``samples`` itself."""
    if samples < 1:
        raise SparkleError(f"the number of samples must be at least 1, got {samples}")
    ks = [1 << i for i in range(samples.bit_length()) if (1 << i) <= samples]
    return ks if ks[-1] == samples else [*ks, samples]


def metric_names(samples: int) -> list[str]:
    """The per-document metric keys of a task sampled ``samples`` times (avg@8, pass@1..8, maj@1..8)."""
    ks = report_ks(samples)
    return [f"avg@{samples}", *(f"pass@{k}" for k in ks), *(f"maj@{k}" for k in ks)]


def benchmark_source(benchmark: str, data_dir: str | os.PathLike[str] | None = None) -> str | None:
    """The local file to read ``benchmark`` from (``data_dir`` or ``$SPARKLE_DATA_DIR``), or None for the Hub."""
    chosen = data_dir or os.environ.get(DATA_DIR_ENV) or None
    if not chosen:
        return None
    origin = "data_dir" if data_dir else f"${DATA_DIR_ENV}"
    folder = Path(chosen).expanduser()
    if not folder.is_dir():
        raise SparkleError(
            f"{origin}={chosen}: no such folder; write it with `sparkle data benchmarks --out {chosen}` "
            f"or unset {DATA_DIR_ENV} to read the benchmarks from the Hub"
        )
    path = folder / f"{benchmark}.jsonl"
    if not path.is_file():
        raise SparkleError(
            f"{origin}={chosen}: {path.name} is missing; write it with `sparkle data benchmarks --out {chosen}`"
        )
    return str(path)


def build_docs(rows: list[dict[str, Any]], benchmark: str, family: str = "sparkle") -> list[dict[str, Any]]:
    """lm-eval documents from unified benchmark rows: id, benchmark, family, problem and ``target`` (the
    acceptable answers, a list of str: the gold field benchmark and probe documents share)."""
    if family not in FAMILIES:
        raise SparkleError(f"unknown prompt family {family!r}; use one of {', '.join(FAMILIES)}")
    return [
        {
            "id": str(row["id"]),
            "benchmark": benchmark,
            "family": family,
            "problem": str(row["problem"]),
            "target": [str(a) for a in row["answer"]],
        }
        for row in rows
    ]


def load_dataset(benchmark: str, data_dir: str | None = None, family: str = "sparkle", **_: Any):
    """lm-eval ``custom_dataset``: the ``test`` split of one benchmark task.

    lm-eval passes the task's ``dataset_kwargs`` (``benchmark``) plus ``--metadata`` and the model
    arguments as keyword arguments; ``data_dir`` and ``family`` come from ``--metadata``.
    """
    import datasets

    docs = _documents(benchmark, data_dir, family)
    return datasets.DatasetDict({"test": datasets.Dataset.from_list(docs)})


def _documents(benchmark: str, data_dir: str | None, family: str) -> list[dict[str, Any]]:
    from sparkle.data import load_benchmark

    if benchmark not in BENCHMARKS:
        raise SparkleError(f"unknown benchmark {benchmark!r}; use one of {', '.join(BENCHMARKS)}")
    source = benchmark_source(benchmark, data_dir)
    log.info("%s: reading %s", benchmark, source or "the Hub dataset")
    docs = build_docs(load_benchmark(benchmark, source), benchmark, family)
    if not docs:
        raise SparkleError(f"{source or benchmark}: the benchmark has no problems")
    return docs


def task_prompts(task: str, data_dir: str | None = None, family: str = "sparkle") -> list[str]:
    """The user messages of one benchmark task, in document order (what lm-eval sends, before the chat
    template); the runner sizes the generation budget from them."""
    if task not in TASKS:
        raise SparkleError(f"unknown benchmark task {task!r}; use any of {', '.join(TASKS)}")
    return [doc_to_text(doc) for doc in _documents(TASKS[task], data_dir, family)]


def doc_to_text(doc: dict[str, Any]) -> str:
    """The exact plain evaluation prompt (the user message; the chat template goes on top)."""
    return plain_prompt(doc["problem"], doc.get("family") or "sparkle")


def doc_to_target(doc: dict[str, Any]) -> str:
    """The gold answer(s) as one string, for lm-eval's logs (grading uses the list ``doc['target']``)."""
    return " | ".join(doc["target"])


def score_responses(
    responses: list[str], answers: list[str], policy: str = "eval", timeout: float | None = None
) -> dict[str, Any]:
    """Grade the k responses of one problem and compute its metrics (plus ``correct``: 0/1 per sample)."""
    from sparkle.reward import grade

    grades = [grade(response, list(answers), policy=policy, timeout=timeout) for response in responses]
    correct = [g.correct for g in grades]
    metrics: dict[str, Any] = dict(
        sample_metrics(correct, [g.extracted for g in grades], report_ks(len(correct)))
    )
    metrics["correct"] = [int(c) for c in correct]
    return metrics


def process_results(doc: dict[str, Any], results: list[Any]) -> dict[str, Any]:
    """Per document: avg@k, pass@j, maj@j (eval policy) and ``correct`` (0/1 per sample, in order)."""
    return score_responses(responses_of(results), doc["target"])


def pooled_accuracy(items: list[list[int]]) -> float:
    """lm-eval aggregation of ``correct``: the fraction of all samples graded correct."""
    flat = [value for item in items for value in item]
    return sum(flat) / len(flat) if flat else 0.0


# ---------------------------------------------------------------------------------------------------------
# The task folder. The shipped `eval/tasks/sparkle_bench/` is this generator's output for k = 8; another k
# (`sparkle eval tasks --samples K`) gives a folder of the same task names with avg@K and the matching k.

_HEADER = "# Generated by `sparkle eval tasks` (sparkle.evaluate.tasks); do not edit by hand.\n"


def utils_source(module: str, what: str) -> str:
    """The ``utils.py`` of a generated task folder: forwards lm-eval's hooks to ``module``."""
    hooks = "".join(
        f"    {name},\n"
        for name in ("doc_to_target", "doc_to_text", "load_dataset", "pooled_accuracy", "process_results")
    )
    return (
        f'"""Forwards to the library: the {what} tasks\' logic lives in `{module}`."""\n\n'
        f"from {module} import (  # noqa: F401\n{hooks})\n"
    )


_UTILS = utils_source("sparkle.evaluate.tasks", "benchmark")


def sampling_yaml(samples: int, max_gen_toks: int) -> str:
    """The task settings the benchmark and probe tasks share: data hooks, the paper's sampling, every sample kept."""
    return (
        "custom_dataset: !function utils.load_dataset\n"
        "test_split: test\n"
        "output_type: generate_until\n"
        "doc_to_text: !function utils.doc_to_text\n"
        "doc_to_target: !function utils.doc_to_target\n"
        "process_results: !function utils.process_results\n"
        f"repeats: {samples}\n"
        "generation_kwargs:\n"
        "  until: []\n"
        "  do_sample: true\n"
        f"  temperature: {TEMPERATURE}\n"
        f"  top_p: {TOP_P}\n"
        f"  max_gen_toks: {max_gen_toks}\n"
        "filter_list:\n"
        f"  - name: {FILTER_NAME}\n"
        "    filter:\n"
        "      - function: take_first_k\n"
        f"        k: {samples}\n"
    )


def _template_yaml(samples: int, max_gen_toks: int) -> str:
    metrics = "".join(
        f"  - metric: {name}\n    aggregation: mean\n    higher_is_better: true\n"
        for name in metric_names(samples)
    )
    return (
        _HEADER + sampling_yaml(samples, max_gen_toks) + "metric_list:\n"
        f"{metrics}"
        "  - metric: correct\n"
        "    aggregation: !function utils.pooled_accuracy\n"
        "    higher_is_better: true\n"
        "metadata:\n"
        "  version: 1.0\n"
        f"  samples: {samples}\n"
    )


def task_folder_files(
    samples: int = DEFAULT_SAMPLES, max_gen_toks: int = DEFAULT_MAX_GEN_TOKS
) -> dict[str, str]:
    """File name -> content of the benchmark task folder for ``samples`` samples per problem."""
    if max_gen_toks < 1:
        raise SparkleError(f"max_gen_toks must be at least 1, got {max_gen_toks}")
    files = {"_sparkle_bench_template_yaml": _template_yaml(samples, max_gen_toks), "utils.py": _UTILS}
    for task, benchmark in TASKS.items():
        files[f"{task}.yaml"] = (
            f"{_HEADER}include: _sparkle_bench_template_yaml\ntask: {task}\ndataset_kwargs:\n  benchmark: {benchmark}\n"
        )
    tasks = "".join(f"  - {task}\n" for task in TASKS)
    files[f"_{GROUP}.yaml"] = (
        f"{_HEADER}group: {GROUP}\ntask:\n{tasks}"
        "aggregate_metric_list:\n"
        + "".join(
            f"  - metric: {name}\n    aggregation: mean\n    weight_by_size: false\n    filter_list: {FILTER_NAME}\n"
            for name in metric_names(samples)
        )
        + "metadata:\n  version: 1.0\n"
    )
    return files


def write_task_folder(
    out_dir: str | os.PathLike[str], samples: int = DEFAULT_SAMPLES, max_gen_toks: int = DEFAULT_MAX_GEN_TOKS
) -> list[Path]:
    """Write the benchmark task folder (YAMLs + utils.py) into ``out_dir``; returns the written paths."""
    from sparkle.io import write_text_atomic

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in task_folder_files(samples, max_gen_toks).items():
        write_text_atomic(out / name, text)
        written.append(out / name)
    return written
