"""`sparkle report`: the paper's main table for any set of lm-eval runs of the `sparkle_bench` tasks.

Writes ``main_table.md`` / ``main_table.csv`` (Avg@k per benchmark and their mean, one row per model,
next to the paper's numbers of SPEC §8 with the difference), ``main_table.png`` (grouped bars, paper values
as markers) and, from the samples files, ``pass_at_k.csv`` / ``pass_at_k.png`` (pass@k for k = 1..n per
benchmark). Values are percentages.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sparkle.errors import SparkleError
from sparkle.evaluate.metrics import pass_at_k
from sparkle.evaluate.results import (
    TaskResult,
    collect_results,
    model_label,
    read_samples,
    sample_answers,
    sample_responses,
)
from sparkle.evaluate.tasks import TASKS
from sparkle.io import atomic_path, write_text_atomic
from sparkle.log import get_logger
from sparkle.paper import MAIN_TABLE, paper_row_for
from sparkle.registry import BENCHMARK_LABELS, BENCHMARKS

log = get_logger(__name__)

MAIN_CSV_COLUMNS = ("model", "label", "paper_model", "benchmark", "k", "n_docs", "ours", "paper", "diff")
CURVE_CSV_COLUMNS = ("model", "label", "benchmark", "k", "n_docs", "pass_at_k")


@dataclass
class ModelRow:
    """One model's line of the main table: Avg@k (%) per benchmark."""

    model: str
    label: str
    scores: dict[str, float] = field(default_factory=dict)
    ks: dict[str, int] = field(default_factory=dict)
    policies: set[str] = field(default_factory=set)
    n_docs: dict[str, int | None] = field(default_factory=dict)

    @property
    def paper_model(self) -> str | None:
        return paper_row_for(self.model)

    @property
    def average(self) -> float | None:
        """Mean over the five benchmarks (as the paper's Avg column), or None when one is missing."""
        if all(b in self.scores for b in BENCHMARKS):
            return sum(self.scores[b] for b in BENCHMARKS) / len(BENCHMARKS)
        return None


def _labels(models: list[str]) -> dict[str, str]:
    """Short labels, falling back to the full name where two models would share one."""
    short = {m: model_label(m) for m in models}
    counts: dict[str, int] = {}
    for label in short.values():
        counts[label] = counts.get(label, 0) + 1
    return {m: (label if counts[label] == 1 else m) for m, label in short.items()}


def main_rows(results: list[TaskResult]) -> list[ModelRow]:
    """One row per model (in order of first appearance) from the benchmark tasks' results."""
    bench = [r for r in results if r.benchmark is not None and r.avg is not None]
    models = list(dict.fromkeys(r.model for r in bench))
    labels = _labels(models)
    rows = {m: ModelRow(model=m, label=labels[m]) for m in models}
    for r in bench:
        row = rows[r.model]
        row.scores[r.benchmark] = 100.0 * r.avg
        row.ks[r.benchmark] = r.samples
        row.n_docs[r.benchmark] = r.n_docs
        row.policies.add(r.policy)
    return list(rows.values())


def _fmt(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "–"
    return f"{value:+.2f}" if signed else f"{value:.2f}"


def _paper_values(row: ModelRow) -> dict[str, float] | None:
    return MAIN_TABLE.get(row.paper_model) if row.paper_model else None


def main_markdown(rows: list[ModelRow]) -> str:
    """The main table in Markdown: each model, then (for the paper's models) the paper row and Δ."""
    ks = sorted({k for row in rows for k in row.ks.values()})
    k_text = "/".join(str(k) for k in ks) or "8"
    policies = ", ".join(sorted({p for row in rows for p in row.policies})) or "eval"
    header = ["Model", *(BENCHMARK_LABELS[b] for b in BENCHMARKS), "Avg"]
    lines = [
        f"# Benchmark results: Avg@{k_text} (%)",
        "",
        "Mean over problems of the fraction of samples graded correct "
        f"(sparkle.reward, {policies} policy); T = 0.6, top_p = 1.0. Paper numbers: SPARKLE (NeurIPS 2025), Table 1; Δ = ours − paper. "
        "Avg is the unweighted mean of the five benchmarks (shown only when all five ran).",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for row in rows:
        ours = [row.scores.get(b) for b in BENCHMARKS] + [row.average]
        lines.append(f"| {row.label} | " + " | ".join(_fmt(v) for v in ours) + " |")
        paper = _paper_values(row)
        if paper:
            values = [paper[b] for b in BENCHMARKS] + [paper["avg"]]
            lines.append(f"| ↳ paper: {row.paper_model} | " + " | ".join(_fmt(v) for v in values) + " |")
            diffs = [None if o is None else o - p for o, p in zip(ours, values, strict=True)]
            lines.append("| ↳ Δ | " + " | ".join(_fmt(v, signed=True) for v in diffs) + " |")
    lines.append("")
    full = {row.model: row.label for row in rows if row.label != row.model}
    if full:
        lines += ["Models:", ""] + [f"- {label}: `{model}`" for model, label in full.items()] + [""]
    return "\n".join(lines)


def write_main_csv(rows: list[ModelRow], path: str | os.PathLike[str]) -> Path:
    """main_table.csv: one line per (model, benchmark) plus ``avg``; percentages."""
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(MAIN_CSV_COLUMNS)
        for row in rows:
            paper = _paper_values(row) or {}
            for b in [*BENCHMARKS, "avg"]:
                ours = row.average if b == "avg" else row.scores.get(b)
                if ours is None:
                    continue
                ref = paper.get(b)
                k = row.ks.get(b, "") if b != "avg" else ""
                n = row.n_docs.get(b) if b != "avg" else None
                writer.writerow(
                    [
                        row.model,
                        row.label,
                        row.paper_model or "",
                        b,
                        k,
                        "" if n is None else n,
                        f"{ours:.4f}",
                        "" if ref is None else f"{ref:.2f}",
                        "" if ref is None else f"{ours - ref:.4f}",
                    ]
                )
    return path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_main(rows: list[ModelRow], path: str | os.PathLike[str]) -> Path:
    """Grouped bars: Avg@k per benchmark (and Avg) per model; the paper's value as a black marker."""
    plt = _pyplot()
    columns = [*BENCHMARKS, "avg"]
    width = 0.8 / max(1, len(rows))
    fig, ax = plt.subplots(figsize=(max(7.0, 1.6 * len(columns)), 4.2))
    for i, row in enumerate(rows):
        paper = _paper_values(row) or {}
        xs, ys, pxs, pys = [], [], [], []
        for j, b in enumerate(columns):
            value = row.average if b == "avg" else row.scores.get(b)
            x = j - 0.4 + width * (i + 0.5)
            if value is not None:
                xs.append(x)
                ys.append(value)
            if b in paper:
                pxs.append(x)
                pys.append(paper[b])
        bars = ax.bar(xs, ys, width * 0.95, label=row.label)
        ax.bar_label(bars, fmt="%.1f", fontsize=7, padding=1)
        if pxs:
            ax.scatter(pxs, pys, marker="_", s=200, color="black", zorder=3)
    if any(_paper_values(r) for r in rows):
        ax.scatter([], [], marker="_", s=200, color="black", label="paper")
    ax.set_xticks(range(len(columns)), [BENCHMARK_LABELS.get(b, "Avg") for b in columns])
    ax.set_ylabel("Avg@k (%)")
    ax.set_ylim(0, 110)
    ax.legend(fontsize=8, loc="upper left", ncols=min(4, len(rows) + 1))
    ax.set_title("SPARKLE benchmarks")
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)
    return path


def sample_correctness(result: TaskResult) -> list[list[bool]]:
    """Per document, the correctness of each sample: the stored ``correct`` list (written by the tasks or
    by `sparkle rescore`), else the responses graded again under the result's policy."""
    from sparkle.evaluate.tasks import score_responses

    out = []
    for row in read_samples(result.samples_file):
        stored = row.get("correct")
        if isinstance(stored, list) and stored:
            out.append([bool(c) for c in stored])
        else:
            graded = score_responses(sample_responses(row), sample_answers(row), result.policy)
            out.append([bool(c) for c in graded["correct"]])
    return out


def pass_curve(correct: list[list[bool]]) -> dict[int, float]:
    """Mean unbiased pass@k (%) over documents for k = 1..n (n = the smallest sample count)."""
    if not correct:
        return {}
    n = min(len(c) for c in correct)
    return {
        k: 100.0 * sum(pass_at_k(len(c), sum(c), k) for c in correct) / len(correct) for k in range(1, n + 1)
    }


def curves(results: list[TaskResult]) -> dict[tuple[str, str], tuple[dict[int, float], int]]:
    """(model, benchmark) → (pass@k curve, number of documents) for every result with a samples file."""
    out = {}
    for r in results:
        if r.benchmark is None or r.samples_file is None:
            continue
        correct = sample_correctness(r)
        out[(r.model, r.benchmark)] = (pass_curve(correct), len(correct))
    return out


def write_curves_csv(
    data: dict[tuple[str, str], tuple[dict[int, float], int]],
    labels: dict[str, str],
    path: str | os.PathLike[str],
) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(CURVE_CSV_COLUMNS)
        for (model, benchmark), (curve, n_docs) in data.items():
            for k, value in curve.items():
                writer.writerow([model, labels.get(model, model), benchmark, k, n_docs, f"{value:.4f}"])
    return path


def plot_curves(
    data: dict[tuple[str, str], tuple[dict[int, float], int]],
    labels: dict[str, str],
    path: str | os.PathLike[str],
) -> Path:
    """One panel per benchmark: pass@k (%) against k (log scale), one line per model."""
    plt = _pyplot()
    benchmarks = [b for b in BENCHMARKS if any(key[1] == b for key in data)]
    fig, axes = plt.subplots(1, len(benchmarks), figsize=(3.2 * len(benchmarks), 3.2), squeeze=False)
    for ax, benchmark in zip(axes[0], benchmarks, strict=True):
        for (model, b), (curve, _) in data.items():
            if b != benchmark:
                continue
            ax.plot(
                list(curve), list(curve.values()), marker="o", markersize=3, label=labels.get(model, model)
            )
        ax.set_xscale("log", base=2)
        ks = sorted({k for (_, b), (curve, _) in data.items() if b == benchmark for k in curve})
        ticks = [k for k in ks if k & (k - 1) == 0 or k == ks[-1]]
        ax.set_xticks(ticks, [str(k) for k in ticks])
        ax.minorticks_off()
        ax.set_title(BENCHMARK_LABELS[benchmark])
        ax.set_xlabel("k")
        ax.set_ylim(0, 102)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("pass@k (%)")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)
    return path


def build_report(paths: Iterable[str | os.PathLike[str]], out_dir: str | os.PathLike[str]) -> list[Path]:
    """Read every results file under ``paths`` and write the report files into ``out_dir``."""
    paths = list(paths)
    results = collect_results(paths, tasks=TASKS)
    rows = main_rows(results)
    if not rows:
        raise SparkleError(
            f"no results of the sparkle_bench tasks ({', '.join(TASKS)}) under {', '.join(map(str, paths))}; "
            "point at the --output_path of an lm-eval run (results_*.json files)"
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = [write_main_csv(rows, out / "main_table.csv"), plot_main(rows, out / "main_table.png")]
    markdown = main_markdown(rows) + "\n![main_table.png](main_table.png)\n"
    data = curves(results)
    if data:
        labels = {row.model: row.label for row in rows}
        written += [
            write_curves_csv(data, labels, out / "pass_at_k.csv"),
            plot_curves(data, labels, out / "pass_at_k.png"),
        ]
        markdown += "\n## pass@k (unbiased estimator, %)\n\n![pass_at_k.png](pass_at_k.png)\n"
    else:
        log.info("no samples files next to the results (run lm-eval with --log_samples): no pass@k curves")
    write_text_atomic(out / "main_table.md", markdown)
    written.insert(0, out / "main_table.md")
    return written
