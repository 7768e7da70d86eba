"""The paper's published numbers (docs/reference.md, "The paper's numbers"), for reports that put a run next to them. Percentages."""

from __future__ import annotations

from sparkle.registry import BENCHMARKS

# Avg@8 (%) per benchmark, in BENCHMARKS order, then the average.
_MAIN_ROWS: dict[str, tuple[float, ...]] = {
    "Qwen2.5-Math-7B": (16.67, 42.50, 44.03, 42.53, 28.65, 35.23),
    "SparkleRL-Stage1": (46.67, 67.50, 80.00, 91.77, 39.11, 65.01),
    "SparkleRL-Stage2-hard": (41.67, 65.94, 80.50, 92.45, 37.39, 63.59),
    "SparkleRL-Stage2-mix": (40.00, 63.44, 80.78, 92.52, 38.85, 63.12),
    "SparkleRL-Stage2-aug": (50.42, 71.25, 81.00, 92.38, 40.11, 67.03),
}

MAIN_TABLE: dict[str, dict[str, float]] = {
    model: {**dict(zip(BENCHMARKS, values[:5], strict=True)), "avg": values[5]}
    for model, values in _MAIN_ROWS.items()
}

# Which paper row a model name or Hub id corresponds to (matched case-insensitively on a substring).
MODEL_ALIASES: dict[str, str] = {
    "qwen2.5-math-7b": "Qwen2.5-Math-7B",
    "stage1": "SparkleRL-Stage1",
    "stage2-hard": "SparkleRL-Stage2-hard",
    "stage2-mix": "SparkleRL-Stage2-mix",
    "stage2-aug": "SparkleRL-Stage2-aug",
}


def _per_benchmark(*values: float) -> dict[str, float]:
    return dict(zip(BENCHMARKS, values, strict=True))


# Probe figures (Avg@8 %, without -> with the annotation), read off the paper's figures.
PROBES: dict[str, dict[str, dict[str, float]]] = {
    "plan": {
        "Qwen2.5-Math-7B/without": _per_benchmark(16.7, 42.5, 44.0, 44.3, 28.6),
        "Qwen2.5-Math-7B/with": _per_benchmark(9.6, 30.9, 41.5, 46.9, 18.9),
        "SparkleRL-Stage2-aug/without": _per_benchmark(50.4, 71.2, 81.0, 92.4, 40.1),
        "SparkleRL-Stage2-aug/with": _per_benchmark(47.9, 71.6, 81.3, 95.3, 43.5),
    },
    "knowledge": {
        "Qwen2.5-Math-7B/without": _per_benchmark(16.7, 42.5, 44.0, 44.3, 28.6),
        "Qwen2.5-Math-7B/with": _per_benchmark(11.2, 32.8, 41.8, 42.4, 20.7),
        "SparkleRL-Stage2-aug/without": _per_benchmark(50.4, 71.2, 81.0, 92.4, 40.1),
        "SparkleRL-Stage2-aug/with": _per_benchmark(50.4, 79.4, 83.0, 96.0, 47.5),
    },
    "subproblem_success": {
        "Qwen2.5-Math-7B": _per_benchmark(3.3, 17.5, 26.6, 29.1, 16.7),
        "SparkleRL-Stage1": _per_benchmark(16.7, 32.5, 62.6, 86.2, 29.6),
        "SparkleRL-Stage2-aug": _per_benchmark(17.5, 37.5, 65.8, 87.6, 34.4),
    },
}


def paper_row_for(model: str) -> str | None:
    """The paper's row name for a model path or Hub id, or None when it is not one of the paper's models."""
    key = model.lower().replace("_", "-")
    for alias, row in MODEL_ALIASES.items():
        if alias in key:
            return row
    return None
