"""probes.csv, probes.md and PNG figures in the style of the paper's probe figures
(grouped bars without / with the annotation per benchmark and per difficulty level; subproblem success
next to the original problems' Avg@k; accuracy along the chain)."""

from __future__ import annotations

import csv
import re
from pathlib import Path

from sparkle.io import atomic_path, write_text_atomic
from sparkle.log import get_logger
from sparkle.paper import PROBES, paper_row_for
from sparkle.probes.analysis import ALL, HINT_CONDITIONS, ProbeRow
from sparkle.registry import BENCHMARK_LABELS, BENCHMARKS

log = get_logger(__name__)

CSV_COLUMNS = ("model", "benchmark", "condition", "level", "metric", "value", "ci_low", "ci_high")
TITLES = {"plan": "Plan following", "knowledge": "Knowledge use", "subproblem": "Chains of subproblems"}
COLORS = {"without": "#9ecae1", "with": "#3182bd", "success": "#e6550d"}


def write_csv(rows: list[ProbeRow], path: str | Path) -> Path:
    """probes.csv: one line per (model, benchmark, condition, level, metric); values in %."""
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(CSV_COLUMNS)
        for r in rows:
            writer.writerow(
                [
                    r.model,
                    r.benchmark,
                    r.condition,
                    r.level,
                    r.metric,
                    f"{r.value:.4f}",
                    f"{r.ci_low:.4f}",
                    f"{r.ci_high:.4f}",
                ]
            )
    return path


class _Lookup:
    """rows[(model, benchmark, condition, level, metric)] and the sets of models / benchmarks / levels."""

    def __init__(self, rows: list[ProbeRow]):
        self.rows = {(r.model, r.benchmark, r.condition, r.level, r.metric): r for r in rows}
        self.models = sorted({r.model for r in rows})
        present = {r.benchmark for r in rows}
        self.benchmarks = [b for b in BENCHMARKS if b in present] + sorted(present - set(BENCHMARKS) - {ALL})
        self.levels = sorted({int(r.level) for r in rows if r.level != ALL})
        self.avg = next((r.metric for r in rows if r.metric.startswith("avg@")), "avg@8")
        self.positions = sorted(
            {int(m.group(1)) for r in rows if (m := re.fullmatch(r"position_(\d+)_accuracy", r.metric))}
        )

    def get(self, model: str, benchmark: str, condition: str, level: str, metric: str) -> ProbeRow | None:
        return self.rows.get((model, benchmark, condition, level, metric))


def _pct(row: ProbeRow | None) -> str:
    return "–" if row is None else f"{row.value:.1f}"


def _with_ci(row: ProbeRow | None, signed: bool = False) -> str:
    if row is None:
        return "–"
    value = f"{row.value:+.1f}" if signed else f"{row.value:.1f}"
    return f"{value} [{row.ci_low:.1f}, {row.ci_high:.1f}]"


def _label(benchmark: str) -> str:
    return "All" if benchmark == ALL else BENCHMARK_LABELS.get(benchmark, benchmark)


def _paper(model: str, condition: str, benchmark: str) -> str:
    paper_model = paper_row_for(model)
    table = PROBES.get(condition, {})
    without = table.get(f"{paper_model}/without", {}).get(benchmark)
    with_ = table.get(f"{paper_model}/with", {}).get(benchmark)
    return "–" if without is None or with_ is None else f"{without:.1f} → {with_:.1f}"


def _hint_section(t: _Lookup, condition: str) -> list[str]:
    lines = [f"## {TITLES[condition]}", ""]
    lines += [
        "| Model | Benchmark | without | with | Δ [95% CI] | problems | paper (without → with) |",
        "|---|---|---|---|---|---|---|",
    ]
    for model in t.models:
        for benchmark in [*t.benchmarks, ALL]:
            delta = t.get(model, benchmark, condition, ALL, "delta")
            with_ = t.get(model, benchmark, condition, ALL, t.avg)
            if with_ is None:
                continue
            lines.append(
                f"| {model} | {_label(benchmark)} | {_pct(t.get(model, benchmark, 'vanilla', ALL, t.avg))} | "
                f"{_pct(with_)} | {_with_ci(delta, True)} | {delta.n if delta else '–'} | "
                f"{_paper(model, condition, benchmark)} |"
            )
    lines += [
        "",
        f"### {TITLES[condition]} by difficulty level (all benchmarks)",
        "",
        "| Model | Level | without | with | Δ [95% CI] | problems |",
        "|---|---|---|---|---|---|",
    ]
    for model in t.models:
        for level in map(str, t.levels):
            delta = t.get(model, ALL, condition, level, "delta")
            with_ = t.get(model, ALL, condition, level, t.avg)
            if with_ is None:
                continue
            lines.append(
                f"| {model} | {level} | {_pct(t.get(model, ALL, 'vanilla', level, t.avg))} | {_pct(with_)} | "
                f"{_with_ci(delta, True)} | {delta.n if delta else '–'} |"
            )
    return [*lines, ""]


def _subproblem_section(t: _Lookup) -> list[str]:
    lines = [
        "## Chains of subproblems",
        "",
        "Subproblem success: a problem counts for sample j when all its subproblems are right in sample j.",
        "",
        f"| Model | Benchmark | original {t.avg} | subproblem success [95% CI] | Δ [95% CI] | problems | paper success |",
        "|---|---|---|---|---|---|---|",
    ]
    for model in t.models:
        paper = PROBES["subproblem_success"].get(paper_row_for(model) or "", {})
        for benchmark in [*t.benchmarks, ALL]:
            success = t.get(model, benchmark, "subproblem", ALL, "subproblem_success")
            if success is None:
                continue
            delta = t.get(model, benchmark, "subproblem", ALL, "delta")
            ref = paper.get(benchmark)
            lines.append(
                f"| {model} | {_label(benchmark)} | {_pct(t.get(model, benchmark, 'vanilla', ALL, t.avg))} | "
                f"{_with_ci(success)} | {_with_ci(delta, True)} | {success.n} | "
                f"{'–' if ref is None else f'{ref:.1f}'} |"
            )
    if t.positions:
        header = " | ".join(f"pos {i}" for i in t.positions)
        lines += [
            "",
            "### Accuracy by position in the chain (where chains break)",
            "",
            f"| Model | Benchmark | {header} |",
            "|---|---|" + "---|" * len(t.positions),
        ]
        for model in t.models:
            for benchmark in [*t.benchmarks, ALL]:
                cells = [
                    t.get(model, benchmark, "subproblem", ALL, f"position_{i}_accuracy") for i in t.positions
                ]
                if any(cells):
                    lines.append(f"| {model} | {_label(benchmark)} | " + " | ".join(map(_pct, cells)) + " |")
    lines += [
        "",
        "### Subproblem success by difficulty level (all benchmarks)",
        "",
        f"| Model | Level | original {t.avg} | subproblem success [95% CI] | problems |",
        "|---|---|---|---|---|",
    ]
    for model in t.models:
        for level in map(str, t.levels):
            success = t.get(model, ALL, "subproblem", level, "subproblem_success")
            if success is not None:
                lines.append(
                    f"| {model} | {level} | {_pct(t.get(model, ALL, 'vanilla', level, t.avg))} | "
                    f"{_with_ci(success)} | {success.n} |"
                )
    return [*lines, ""]


def markdown(rows: list[ProbeRow], iterations: int, confidence: float, figures: list[str]) -> str:
    """The probe report as Markdown (percentages; CIs are percentile bootstraps over problems)."""
    t = _Lookup(rows)
    lines = [
        "# SPARKLE probes",
        "",
        f"{t.avg} in % (mean over problems of the fraction of correct samples). Brackets: {confidence:.0%} "
        f"percentile bootstrap CI over problems ({iterations} resamples); deltas are paired (each problem's "
        "two measurements are resampled together). Paper values are read off the paper's figures.",
        "",
    ]
    for condition in HINT_CONDITIONS:
        if any(k[2] == condition for k in t.rows):
            lines += _hint_section(t, condition)
    if any(k[2] == "subproblem" for k in t.rows):
        lines += _subproblem_section(t)
    if figures:
        lines += ["## Figures", ""] + [f"![{name}]({name})" for name in figures] + [""]
    return "\n".join(lines)


def _bars(ax, groups: list[str], series: list[tuple[str, list[ProbeRow | None], str]]) -> None:
    import numpy as np

    width = 0.8 / len(series)
    x = np.arange(len(groups))
    for i, (name, cells, color) in enumerate(series):
        values = [c.value if c else 0.0 for c in cells]
        err = [
            [max(0.0, c.value - c.ci_low) if c else 0.0 for c in cells],
            [max(0.0, c.ci_high - c.value) if c else 0.0 for c in cells],
        ]
        pos = x + (i - (len(series) - 1) / 2) * width
        bars = ax.bar(pos, values, width, label=name, color=color, yerr=err, capsize=2, ecolor="#555555")
        for bar, cell in zip(bars, cells, strict=True):
            if cell is not None:
                ax.annotate(
                    f"{cell.value:.1f}",
                    (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    ha="center",
                    va="bottom",
                    fontsize=7,
                    xytext=(0, 2),
                    textcoords="offset points",
                )
    ax.set_xticks(x, groups)
    ax.set_ylim(0, 112)
    ax.grid(axis="y", alpha=0.3)


def _figure(models: list[str], title: str, draw, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(models), 1, figsize=(9, 3.2 * len(models)), squeeze=False)
    for ax, model in zip(axes[:, 0], models, strict=True):
        draw(ax, model)
        ax.set_title(f"{title} — {model}", fontsize=10)
        ax.set_ylabel("%")
        ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)


def write_figures(rows: list[ProbeRow], out_dir: str | Path) -> list[Path]:
    """The PNG figures; returns their paths."""
    t = _Lookup(rows)
    out = Path(out_dir)
    paths: list[Path] = []
    conditions = {k[2] for k in t.rows}
    for condition in HINT_CONDITIONS:
        if condition not in conditions:
            continue

        def by_bench(ax, model, condition=condition):
            groups = [*t.benchmarks, ALL]
            _bars(
                ax,
                [_label(b) for b in groups],
                [
                    ("without", [t.get(model, b, "vanilla", ALL, t.avg) for b in groups], COLORS["without"]),
                    (
                        f"with {condition}",
                        [t.get(model, b, condition, ALL, t.avg) for b in groups],
                        COLORS["with"],
                    ),
                ],
            )

        def by_level(ax, model, condition=condition):
            levels = [str(level) for level in t.levels]
            _bars(
                ax,
                levels,
                [
                    (
                        "without",
                        [t.get(model, ALL, "vanilla", lv, t.avg) for lv in levels],
                        COLORS["without"],
                    ),
                    (
                        f"with {condition}",
                        [t.get(model, ALL, condition, lv, t.avg) for lv in levels],
                        COLORS["with"],
                    ),
                ],
            )
            ax.set_xlabel("difficulty level")

        for suffix, draw, what in (
            ("benchmarks", by_bench, "per benchmark"),
            ("levels", by_level, "per level"),
        ):
            path = out / f"probe_{condition}_{suffix}.png"
            _figure(t.models, f"{TITLES[condition]} {what} ({t.avg})", draw, path)
            paths.append(path)
    if "subproblem" in conditions:

        def sub_bench(ax, model):
            groups = [*t.benchmarks, ALL]
            _bars(
                ax,
                [_label(b) for b in groups],
                [
                    (
                        f"original {t.avg}",
                        [t.get(model, b, "vanilla", ALL, t.avg) for b in groups],
                        COLORS["without"],
                    ),
                    (
                        "subproblem success",
                        [t.get(model, b, "subproblem", ALL, "subproblem_success") for b in groups],
                        COLORS["success"],
                    ),
                ],
            )

        def sub_level(ax, model):
            levels = [str(level) for level in t.levels]
            _bars(
                ax,
                levels,
                [
                    (
                        f"original {t.avg}",
                        [t.get(model, ALL, "vanilla", lv, t.avg) for lv in levels],
                        COLORS["without"],
                    ),
                    (
                        "subproblem success",
                        [t.get(model, ALL, "subproblem", lv, "subproblem_success") for lv in levels],
                        COLORS["success"],
                    ),
                ],
            )
            ax.set_xlabel("difficulty level")

        def positions(ax, model):
            for benchmark in [*t.benchmarks, ALL]:
                cells = [
                    (i, t.get(model, benchmark, "subproblem", ALL, f"position_{i}_accuracy"))
                    for i in t.positions
                ]
                cells = [(i, c) for i, c in cells if c is not None]
                if cells:
                    ax.plot(
                        [i for i, _ in cells],
                        [c.value for _, c in cells],
                        marker="o",
                        label=_label(benchmark),
                        linestyle="--" if benchmark == ALL else "-",
                    )
            ax.set_xlabel("position in the subproblem chain")
            ax.set_xticks(t.positions or [1])
            ax.set_ylim(0, 112)
            ax.grid(alpha=0.3)

        for suffix, draw, what in (
            ("benchmarks", sub_bench, "per benchmark"),
            ("levels", sub_level, "per level"),
            ("positions", positions, "accuracy by position"),
        ):
            path = out / f"probe_subproblem_{suffix}.png"
            _figure(t.models, f"{TITLES['subproblem']} {what}", draw, path)
            paths.append(path)
    return paths


def write_report(
    rows: list[ProbeRow], out_dir: str | Path, iterations: int, confidence: float, figures: bool = True
) -> dict[str, Path | list[Path]]:
    """Write probes.csv, probes.md and (unless ``figures`` is False) the PNG figures into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    pngs = write_figures(rows, out) if figures else []
    csv_path = write_csv(rows, out / "probes.csv")
    md_path = out / "probes.md"
    write_text_atomic(md_path, markdown(rows, iterations, confidence, [p.name for p in pngs]))
    log.info("wrote %s, %s and %d figures", csv_path, md_path, len(pngs))
    return {"csv": csv_path, "markdown": md_path, "figures": pngs}
