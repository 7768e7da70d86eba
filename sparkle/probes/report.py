"""probes.csv, probes.md and PNG figures in the style of the paper's probe figures
(grouped bars without / with the annotation per benchmark and per difficulty level; subproblem success
next to the original problems' Avg@k; accuracy along the chain)."""

from __future__ import annotations

import csv
import re
from functools import partial
from pathlib import Path

from sparkle.io import atomic_files, atomic_path, write_text_atomic
from sparkle.log import get_logger
from sparkle.paper import PROBES, paper_row_for
from sparkle.probes.analysis import ALL, HINT_CONDITIONS, MIN_BOOTSTRAP_N, ProbeRow, confidence_label
from sparkle.registry import BENCHMARK_LABELS, BENCHMARKS

log = get_logger(__name__)

CSV_COLUMNS = (
    "model", "benchmark", "condition", "level", "metric", "value", "ci_low", "ci_high", "n", "note",
)  # fmt: skip
TITLES = {"plan": "Plan following", "knowledge": "Knowledge use", "subproblem": "Chains of subproblems"}
COLORS = {"without": "#9ecae1", "with": "#3182bd", "success": "#e6550d"}
SMALL_MARK = "†"


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def write_csv(rows: list[ProbeRow], path: str | Path) -> Path:
    """probes.csv: one line per (model, benchmark, condition, level, metric); values in %; an empty interval
    where there is none, with the reason in ``note``."""
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
                    _num(r.ci_low),
                    _num(r.ci_high),
                    r.n,
                    r.note,
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

    def pair(self, model: str, benchmark: str, condition: str, level: str, own: str):
        """(without, with, delta) over the paired problems; without pairs (no vanilla run), with = the
        condition's own value (``own`` metric) and the other two None."""
        delta = self.get(model, benchmark, condition, level, "delta")
        if delta is None:
            return None, self.get(model, benchmark, condition, level, own), None
        return (
            self.get(model, benchmark, condition, level, "paired_without"),
            self.get(model, benchmark, condition, level, "paired_with"),
            delta,
        )


def _pct(row: ProbeRow | None) -> str:
    if row is None:
        return "–"
    return f"{row.value:.1f}" + (SMALL_MARK if row.n < MIN_BOOTSTRAP_N else "")


def _with_ci(row: ProbeRow | None, signed: bool = False) -> str:
    if row is None:
        return "–"
    value = f"{row.value:+.1f}" if signed else f"{row.value:.1f}"
    if row.n == 1:
        return f"{value} (1 problem: no interval)"
    if row.ci_low is None or row.ci_high is None:
        return value
    mark = SMALL_MARK if row.n < MIN_BOOTSTRAP_N else ""
    return f"{value} [{row.ci_low:.1f}, {row.ci_high:.1f}]{mark}"


def _label(benchmark: str) -> str:
    return "All" if benchmark == ALL else BENCHMARK_LABELS.get(benchmark, benchmark)


def _paper(model: str, condition: str, benchmark: str) -> str:
    paper_model = paper_row_for(model)
    table = PROBES.get(condition, {})
    without = table.get(f"{paper_model}/without", {}).get(benchmark)
    with_ = table.get(f"{paper_model}/with", {}).get(benchmark)
    return "–" if without is None or with_ is None else f"{without:.1f} → {with_:.1f}"


def _own(t: _Lookup, model: str, benchmark: str, condition: str, level: str, delta: ProbeRow | None) -> str:
    """Each condition's value over all its own problems, when that is not the same set as the pairs."""
    without = t.get(model, benchmark, "vanilla", level, t.avg)
    with_ = t.get(
        model, benchmark, condition, level, t.avg if condition != "subproblem" else "subproblem_success"
    )
    pairs = delta.n if delta else 0
    if (without is None or without.n == pairs) and (with_ is None or with_.n == pairs):
        return "= pairs"
    side = ["–" if r is None else f"{r.value:.1f} ({r.n})" for r in (without, with_)]
    return f"{side[0]} → {side[1]}"


class _Labels:
    """Column labels that carry the real confidence level, k and number of resamples."""

    def __init__(self, t: _Lookup, iterations: int, confidence: float):
        self.avg = t.avg
        self.ci = f"{confidence_label(confidence)} CI, {iterations} resamples" if iterations > 0 else "no CI"

    def value(self, name: str) -> str:
        return f"{name} [{self.ci}]"


def _pair_cells(
    t: _Lookup, model: str, benchmark: str, condition: str, level: str, own: str, with_text
) -> str | None:
    """The cells "without | with | Δ | pairs | all problems" of one table row (None when the condition has
    no value there); ``with_text`` formats the "with" cell."""
    without, with_, delta = t.pair(model, benchmark, condition, level, own)
    if with_ is None:
        return None
    return (
        f"{_pct(without)} | {with_text(with_)} | {_with_ci(delta, True)} | {delta.n if delta else 0} | "
        f"{_own(t, model, benchmark, condition, level, delta)}"
    )


def _level_table(t: _Lookup, condition: str, own: str, with_text, title: str, header: str) -> list[str]:
    """The table of one condition by difficulty level, over all benchmarks."""
    lines = ["", title, "", f"| Model | Level {header}", "|---|---|---|---|---|---|---|"]
    for model in t.models:
        for level in map(str, t.levels):
            cells = _pair_cells(t, model, ALL, condition, level, own, with_text)
            if cells is not None:
                lines.append(f"| {model} | {level} | {cells} |")
    return lines


def _hint_section(t: _Lookup, condition: str, lab: _Labels) -> list[str]:
    header = (
        f"| without {t.avg} | with {t.avg} | {lab.value(f'Δ {t.avg}')} | pairs | "
        f"all problems: without (n) → with (n) |"
    )
    lines = [
        f"## {TITLES[condition]}",
        "",
        f"| Model | Benchmark {header} paper (without → with) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for model in t.models:
        for benchmark in [*t.benchmarks, ALL]:
            cells = _pair_cells(t, model, benchmark, condition, ALL, t.avg, _pct)
            if cells is not None:
                lines.append(
                    f"| {model} | {_label(benchmark)} | {cells} | {_paper(model, condition, benchmark)} |"
                )
    title = f"### {TITLES[condition]} by difficulty level (all benchmarks)"
    return [*lines, *_level_table(t, condition, t.avg, _pct, title, header), ""]


def _position_table(t: _Lookup) -> list[str]:
    """Accuracy of the subproblems at each position of the chain, per benchmark."""
    if not t.positions:
        return []
    header_pos = " | ".join(f"pos {i} (n)" for i in t.positions)
    lines = [
        "",
        "### Accuracy by position in the chain (where chains break)",
        "",
        f"| Model | Benchmark | {header_pos} |",
        "|---|---|" + "---|" * len(t.positions),
    ]
    for model in t.models:
        for benchmark in [*t.benchmarks, ALL]:
            cells = [
                t.get(model, benchmark, "subproblem", ALL, f"position_{i}_accuracy") for i in t.positions
            ]
            if any(cells):
                text = ["–" if c is None else f"{_pct(c)} ({c.n})" for c in cells]
                lines.append(f"| {model} | {_label(benchmark)} | " + " | ".join(text) + " |")
    return lines


def _subproblem_section(t: _Lookup, lab: _Labels) -> list[str]:
    header = (
        f"| original {t.avg} | {lab.value('subproblem success')} | {lab.value('Δ')} | pairs | "
        "all problems: original (n) → success (n) |"
    )
    lines = [
        "## Chains of subproblems",
        "",
        "Subproblem success: a problem counts for sample j when all its subproblems are right in sample j. "
        f"Original {t.avg}, success and Δ are over the same problems (pairs: a complete chain and a vanilla run).",
        "",
        f"| Model | Benchmark {header} paper success |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for model in t.models:
        paper = PROBES["subproblem_success"].get(paper_row_for(model) or "", {})
        for benchmark in [*t.benchmarks, ALL]:
            cells = _pair_cells(t, model, benchmark, "subproblem", ALL, "subproblem_success", _with_ci)
            if cells is not None:
                ref = paper.get(benchmark)
                lines.append(
                    f"| {model} | {_label(benchmark)} | {cells} | {'–' if ref is None else f'{ref:.1f}'} |"
                )
    title = "### Subproblem success by difficulty level (all benchmarks)"
    level_table = _level_table(t, "subproblem", "subproblem_success", _with_ci, title, header)
    return [*lines, *_position_table(t), *level_table, ""]


def markdown(rows: list[ProbeRow], iterations: int, confidence: float, figures: list[str]) -> str:
    """The probe report as Markdown (percentages; CIs are percentile bootstraps over problems)."""
    t = _Lookup(rows)
    lab = _Labels(t, iterations, confidence)
    if iterations > 0:
        intervals = (
            f"Brackets: {confidence_label(confidence)} percentile bootstrap interval over problems "
            f"({iterations} resamples); deltas are paired (each problem's two measurements are resampled "
            "together). A value from one problem has no interval (one problem says nothing about the spread); "
            f"{SMALL_MARK} marks values from fewer than {MIN_BOOTSTRAP_N} problems, whose interval is too narrow "
            "to trust (a percentile bootstrap cannot see more spread than those few values show)."
        )
    else:
        intervals = f"No intervals (--bootstrap 0); {SMALL_MARK} marks values from fewer than {MIN_BOOTSTRAP_N} problems."
    lines = [
        "# SPARKLE probes",
        "",
        f"{t.avg} in % (mean over problems of the fraction of correct samples). {intervals} "
        '"without", "with" and Δ are computed over the same problems, those run in both conditions '
        '(pairs), so Δ = with − without; the "all problems" column shows each condition over all its own '
        "problems (count in brackets) where that set differs. Paper values are read off the paper's figures.",
        "",
    ]
    for condition in HINT_CONDITIONS:
        if any(k[2] == condition for k in t.rows):
            lines += _hint_section(t, condition, lab)
    if any(k[2] == "subproblem" for k in t.rows):
        lines += _subproblem_section(t, lab)
    if figures:
        lines += ["## Figures", ""] + [f"![{name}]({name})" for name in figures] + [""]
    return "\n".join(lines)


def _bars(ax, groups: list[str], series: list[tuple]) -> None:
    """Grouped bars; each series is (name, cells, color) or (name, cells, color, extra label per cell)."""
    import numpy as np

    width = 0.8 / len(series)
    x = np.arange(len(groups))
    for i, (name, cells, color, *more) in enumerate(series):
        extras = more[0] if more else [""] * len(cells)
        values = [c.value if c else 0.0 for c in cells]
        err = [
            [max(0.0, c.value - c.ci_low) if c and c.ci_low is not None else 0.0 for c in cells],
            [max(0.0, c.ci_high - c.value) if c and c.ci_high is not None else 0.0 for c in cells],
        ]
        pos = x + (i - (len(series) - 1) / 2) * width
        bars = ax.bar(pos, values, width, label=name, color=color, yerr=err, capsize=2, ecolor="#555555")
        for bar, cell, extra in zip(bars, cells, extras, strict=True):
            if cell is not None:
                ax.annotate(
                    f"{cell.value:.1f}"
                    + ("\nn=1" if cell.n == 1 else SMALL_MARK if cell.n < MIN_BOOTSTRAP_N else "")
                    + extra,
                    (bar.get_x() + bar.get_width() / 2, max(bar.get_height(), cell.ci_high or 0.0)),
                    ha="center",
                    va="bottom",
                    fontsize=7,
                    xytext=(0, 2),
                    textcoords="offset points",
                )
    ax.set_xticks(x, groups)
    ax.set_ylim(0, 118)
    ax.grid(axis="y", alpha=0.3)


def _figure(models: list[str], title: str, draw, path: Path, caption: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(models), 1, figsize=(9, 3.2 * len(models) + 0.6), squeeze=False)
    for ax, model in zip(axes[:, 0], models, strict=True):
        draw(ax, model)
        ax.set_title(f"{title} — {model}", fontsize=10)
        ax.set_ylabel("%")
        ax.legend(fontsize=8, loc="upper right")
    fig.text(0.5, 0.005, caption, ha="center", va="bottom", fontsize=7)
    fig.tight_layout(rect=(0, 0.6 / (3.2 * len(models) + 0.6), 1, 1))
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)


def _paired_bars(
    ax, model: str, *, t: _Lookup, condition: str, own: str, names: tuple[str, str, str], by: str
) -> None:
    """Bars "without" / "with" over the paired problems, grouped per benchmark (``by="benchmarks"``) or
    per difficulty level (``by="levels"``); ``names`` = (without label, with label, with colour), ``own``
    the metric of a condition without pairs."""
    if by == "benchmarks":
        groups = [*t.benchmarks, ALL]
        labels = [_label(b) for b in groups]
        cells = [(b, ALL) for b in groups]
    else:
        labels = [str(level) for level in t.levels]
        cells = [(ALL, level) for level in labels]
    pairs = [t.pair(model, b, condition, level, own) for b, level in cells]
    unpaired = ["\nunpaired" if p[2] is None and p[1] is not None else "" for p in pairs]
    series = [
        (names[0], [p[0] for p in pairs], COLORS["without"]),
        (names[1], [p[1] for p in pairs], names[2], unpaired),
    ]
    _bars(ax, labels, series)
    if by == "levels":
        ax.set_xlabel("difficulty level")


def _positions(ax, model: str, *, t: _Lookup) -> None:
    """Accuracy along the subproblem chain, one line per benchmark."""
    for benchmark in [*t.benchmarks, ALL]:
        cells = [
            (i, t.get(model, benchmark, "subproblem", ALL, f"position_{i}_accuracy")) for i in t.positions
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


GROUPINGS = (("benchmarks", "per benchmark"), ("levels", "per level"))


def _figure_specs(t: _Lookup):
    """(file name, title, draw(ax, model)) of every figure the rows allow, in report order."""
    conditions = {k[2] for k in t.rows}
    for condition in HINT_CONDITIONS:
        if condition in conditions:
            names = ("without (paired)", f"with {condition} (paired)", COLORS["with"])
            for by, what in GROUPINGS:
                draw = partial(_paired_bars, t=t, condition=condition, own=t.avg, names=names, by=by)
                yield f"probe_{condition}_{by}.png", f"{TITLES[condition]} {what} ({t.avg})", draw
    if "subproblem" in conditions:
        names = (f"original {t.avg} (paired)", "subproblem success (paired)", COLORS["success"])
        for by, what in GROUPINGS:
            draw = partial(
                _paired_bars, t=t, condition="subproblem", own="subproblem_success", names=names, by=by
            )
            yield f"probe_subproblem_{by}.png", f"{TITLES['subproblem']} {what}", draw
        yield (
            "probe_subproblem_positions.png",
            f"{TITLES['subproblem']} accuracy by position",
            partial(_positions, t=t),
        )


def write_figures(
    rows: list[ProbeRow], out_dir: str | Path, iterations: int, confidence: float
) -> list[Path]:
    """The PNG figures; returns their paths. Bars "without" / "with" are over the same paired problems
    as the deltas; whiskers are the intervals (none for one problem), labelled in each figure's caption."""
    t = _Lookup(rows)
    lab = _Labels(t, iterations, confidence)
    caption = (
        f"{t.avg}, %. Whiskers: {lab.ci}; none for a single problem (n=1). "
        f"{SMALL_MARK}: fewer than {MIN_BOOTSTRAP_N} problems.\nPaired: the problems run in both conditions "
        '("unpaired": no vanilla run to pair with; the condition\'s own problems).'
    )
    paths: list[Path] = []
    for name, title, draw in _figure_specs(t):
        path = Path(out_dir) / name
        _figure(t.models, title, draw, path, caption)
        paths.append(path)
    return paths


REPORT_FILES = (
    "probes.csv",
    "probes.md",
    *(f"probe_{c}_{by}.png" for c in HINT_CONDITIONS for by, _ in GROUPINGS),
    *(f"probe_subproblem_{by}.png" for by in (*(by for by, _ in GROUPINGS), "positions")),
)


def write_report(
    rows: list[ProbeRow], out_dir: str | Path, iterations: int, confidence: float, figures: bool = True
) -> dict[str, Path | list[Path]]:
    """Write probes.csv, probes.md and (unless ``figures`` is False) the PNG figures into ``out_dir``, all
    together (`sparkle.io.atomic_files`): a failure leaves ``out_dir`` as it was, and report files of an
    earlier run that this one does not write are removed."""
    out = Path(out_dir)
    with atomic_files(out, owned=REPORT_FILES) as staging:
        pngs = write_figures(rows, staging, iterations, confidence) if figures else []
        write_csv(rows, staging / "probes.csv")
        write_text_atomic(
            staging / "probes.md", markdown(rows, iterations, confidence, [p.name for p in pngs])
        )
    csv_path, md_path = out / "probes.csv", out / "probes.md"
    log.info("wrote %s, %s and %d figures", csv_path, md_path, len(pngs))
    return {"csv": csv_path, "markdown": md_path, "figures": [out / p.name for p in pngs]}
