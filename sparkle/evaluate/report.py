"""`sparkle report`: the paper's main table for any set of lm-eval runs of the `sparkle_bench` tasks.

Writes ``main_table.md`` / ``main_table.csv`` (Avg@k per benchmark and their mean, one row per model,
next to the paper's Table 1 numbers (sparkle.paper) with the difference), ``main_table.png`` (grouped bars, paper values
as markers) and, from the samples files, ``pass_at_k.csv`` / ``pass_at_k.png`` (pass@k for k = 1..n per
benchmark). Values are percentages.

Everything is read and checked before anything is written, and the files are replaced together
(`sparkle.io.atomic_files`): a failure leaves ``--out`` as it was. When a results file has its samples file
beside it, Avg@k, the document count and the pass@k curves come from the samples, each document counted
once (a document listed twice is kept once, with a warning, as the probe report does).
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sparkle.errors import SparkleError
from sparkle.evaluate.metrics import avg_at_k, pass_at_k
from sparkle.evaluate.results import (
    TaskResult,
    collect_results,
    model_label,
    read_samples,
    sample_answers,
    sample_responses,
)
from sparkle.evaluate.tasks import TASKS
from sparkle.io import atomic_files, atomic_path, check_output_dir, write_text_atomic
from sparkle.log import get_logger
from sparkle.paper import MAIN_TABLE, paper_row_for
from sparkle.registry import BENCHMARK_LABELS, BENCHMARKS

log = get_logger(__name__)

MAIN_CSV_COLUMNS = (
    "model",
    "label",
    "paper_model",
    "benchmark",
    "k",
    "n_docs",
    "ours",
    "paper",
    "diff",
    "prompts_cut",
)
CURVE_CSV_COLUMNS = ("model", "label", "benchmark", "k", "n_docs", "pass_at_k")
REPORT_FILES = ("main_table.md", "main_table.csv", "main_table.png", "pass_at_k.csv", "pass_at_k.png")


@dataclass
class ModelRow:
    """One model's line of the main table: Avg@k (%) per benchmark."""

    model: str
    label: str
    scores: dict[str, float] = field(default_factory=dict)
    ks: dict[str, int] = field(default_factory=dict)
    policies: set[str] = field(default_factory=set)
    n_docs: dict[str, int | None] = field(default_factory=dict)
    # prompts longer than the context left after the generation budget (lm-eval cut them from the left);
    # None: the run did not measure it (results written by lm-eval run by hand, or older runs)
    prompts_cut: dict[str, int | None] = field(default_factory=dict)

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


def main_rows(
    results: list[TaskResult], correct: dict[tuple[str, str], list[list[bool]]] | None = None
) -> list[ModelRow]:
    """One row per model (in order of first appearance) from the benchmark tasks' results. Where
    ``correct`` has a (model, task)'s per-document correctness (from its samples file, duplicates removed),
    Avg@k and the document count come from it; else from the results file."""
    correct = correct or {}
    bench = [r for r in results if r.benchmark is not None and r.avg is not None]
    models = list(dict.fromkeys(r.model for r in bench))
    labels = _labels(models)
    rows = {m: ModelRow(model=m, label=labels[m]) for m in models}
    for r in bench:
        row = rows[r.model]
        docs = correct.get((r.model, r.task))
        if docs:
            avg = sum(avg_at_k(c) for c in docs) / len(docs)
            if abs(avg - r.avg) > 1e-6:
                log.warning(
                    "%s: %s avg@%s is %.4f in the results file but %.4f from its samples file (%d documents); "
                    "the report uses the samples",
                    r.results_file,
                    r.task,
                    r.samples,
                    r.avg,
                    avg,
                    len(docs),
                )
            row.scores[r.benchmark] = 100.0 * avg
            row.n_docs[r.benchmark] = len(docs)
        else:
            row.scores[r.benchmark] = 100.0 * r.avg
            row.n_docs[r.benchmark] = r.n_docs
        row.ks[r.benchmark] = r.samples
        row.prompts_cut[r.benchmark] = r.prompts_too_long
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
    lines += _prompts_cut_lines(rows)
    full = {row.model: row.label for row in rows if row.label != row.model}
    if full:
        lines += ["Models:", ""] + [f"- {label}: `{model}`" for model, label in full.items()] + [""]
    return "\n".join(lines)


def _prompts_cut_lines(rows: list[ModelRow]) -> list[str]:
    """A note on prompts that did not fit the context (never silent): counts, or that none was measured."""
    cut = [
        f"{row.label} / {BENCHMARK_LABELS.get(b, b)}: {n}"
        for row in rows
        for b, n in row.prompts_cut.items()
        if n
    ]
    unmeasured = sorted(
        {
            f"{row.label} / {BENCHMARK_LABELS.get(b, b)}"
            for row in rows
            for b, n in row.prompts_cut.items()
            if n is None
        }
    )
    lines = []
    if cut:
        lines += [
            "**Prompts cut from the left** (longer than the context left after the generation budget; "
            "their scores are not the paper's protocol): " + "; ".join(cut) + ".",
            "",
        ]
    if unmeasured:
        lines += ["Prompt lengths not measured for: " + "; ".join(unmeasured) + ".", ""]
    return lines


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
                cut = row.prompts_cut.get(b) if b != "avg" else None
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
                        "" if cut is None else cut,
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
    return _save_png(fig, path)


def _save_png(fig, path: str | os.PathLike[str]) -> Path:
    """Lay out ``fig``, write it to ``path`` as a PNG (atomically) and close it."""
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    _pyplot().close(fig)
    return path


def _identity(row: dict) -> tuple[str, str]:
    """What makes two samples rows the same document: the document's ``id``, else lm-eval's ``doc_id``."""
    doc = row.get("doc") if isinstance(row.get("doc"), dict) else {}
    if doc.get("id") is not None:
        return ("id", str(doc["id"]))
    if isinstance(row.get("doc_id"), int):
        return ("doc_id", str(row["doc_id"]))
    return ("doc", json.dumps(doc, sort_keys=True, default=str))


def _preference(row: dict) -> tuple:
    """Of two copies of a document, the one lm-eval listed first (smallest doc_id) is kept; the rest of the
    key only makes the choice independent of the order of the lines."""
    doc_id = row.get("doc_id")
    return (
        not isinstance(doc_id, int),
        doc_id if isinstance(doc_id, int) else 0,
        json.dumps(row, sort_keys=True, default=str),
    )


def unique_documents(rows: list[dict], source: str | os.PathLike[str]) -> list[dict]:
    """The samples rows with each document once (in lm-eval's order); duplicates are dropped with a warning."""
    kept: dict[tuple[str, str], dict] = {}
    duplicates = 0
    for row in rows:
        key = _identity(row)
        if key in kept:
            duplicates += 1
            if _preference(row) >= _preference(kept[key]):
                continue
        kept[key] = row
    if duplicates:
        log.warning(
            "%s: %d documents appear more than once; each is counted once (the copy lm-eval listed first)",
            source,
            duplicates,
        )
    return sorted(kept.values(), key=_preference) if duplicates else list(kept.values())


def sample_correctness(result: TaskResult) -> list[list[bool]]:
    """Per document (each counted once), the correctness of each sample: the stored ``correct`` list
    (written by the tasks or by `sparkle rescore`), else the responses graded again under the result's
    policy."""
    from sparkle.evaluate.tasks import score_responses

    out = []
    for row in unique_documents(read_samples(result.samples_file), result.samples_file):
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


def read_correctness(results: list[TaskResult]) -> dict[tuple[str, str], list[list[bool]]]:
    """(model, task) → per-document correctness, for every benchmark result with a samples file."""
    out = {}
    for r in results:
        if r.benchmark is None or r.samples_file is None:
            continue
        correct = sample_correctness(r)
        if not correct:
            raise SparkleError(
                f"{r.samples_file}: no documents; is the run complete? (rerun it or remove the file)"
            )
        out[(r.model, r.task)] = correct
    return out


def curves(
    results: list[TaskResult], correct: dict[tuple[str, str], list[list[bool]]] | None = None
) -> dict[tuple[str, str], tuple[dict[int, float], int]]:
    """(model, benchmark) → (pass@k curve, number of documents) for every result with a samples file."""
    correct = read_correctness(results) if correct is None else correct
    benchmark_of = {(r.model, r.task): r.benchmark for r in results}
    return {
        (model, benchmark_of[(model, task)]): (pass_curve(c), len(c)) for (model, task), c in correct.items()
    }


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
    return _save_png(fig, path)


def build_report(paths: Iterable[str | os.PathLike[str]], out_dir: str | os.PathLike[str]) -> list[Path]:
    """Read every results file under ``paths`` (and the samples beside them), then write the report files
    into ``out_dir`` together. Nothing is written when something cannot be read."""
    paths = list(paths)
    out = check_output_dir(out_dir)
    results = collect_results(paths, tasks=TASKS)
    if not any(r.benchmark is not None and r.avg is not None for r in results):
        raise SparkleError(
            f"no results of the sparkle_bench tasks ({', '.join(TASKS)}) under {', '.join(map(str, paths))}; "
            "point at the --output_path of an lm-eval run (results_*.json files)"
        )
    correct = read_correctness(results)
    rows = main_rows(results, correct)
    data = curves(results, correct)
    labels = {row.model: row.label for row in rows}
    markdown = main_markdown(rows) + "\n![main_table.png](main_table.png)\n"
    if data:
        markdown += "\n## pass@k (unbiased estimator, %)\n\n![pass_at_k.png](pass_at_k.png)\n"
    else:
        log.info("no samples files next to the results (run lm-eval with --log_samples): no pass@k curves")
    with atomic_files(out, owned=REPORT_FILES) as staging:
        write_text_atomic(staging / "main_table.md", markdown)
        write_main_csv(rows, staging / "main_table.csv")
        plot_main(rows, staging / "main_table.png")
        if data:
            write_curves_csv(data, labels, staging / "pass_at_k.csv")
            plot_curves(data, labels, staging / "pass_at_k.png")
    names = ["main_table.md", "main_table.csv", "main_table.png"]
    if data:
        names += ["pass_at_k.csv", "pass_at_k.png"]
    return [out / name for name in names]
