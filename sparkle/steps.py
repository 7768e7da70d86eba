"""The command lines of the steps `sparkle pipeline` and `sparkle demo` share, in one place.

Both walk the same data flow — data files, the two runners (lm-eval through `eval run` / `probe run`),
the reports — and differ only in how they execute a step: the pipeline runs each command line as a
subprocess (`python -m sparkle ...`), the demo runs it in process (`sparkle.cli.main`). Each function
returns the arguments after `sparkle`.
"""

from __future__ import annotations

import os
from pathlib import Path

from sparkle.registry import BENCHMARKS

PathLike = str | os.PathLike[str]


def data_commands(data: PathLike, sources: dict[str, Path] | None = None, variant: str = "aug") -> dict:
    """The four data steps (``stage_one``, ``stage_two``, ``benchmarks``, ``probes_data``) writing into
    ``data``: from the Hub, or from ``sources`` (local files by role, as `local_sources` lays them out)."""

    def opt(flag: str, key: str) -> list[str]:
        return [flag, str(sources[key])] if sources else []

    stage_two = ["data", "stage-two", "--variant", variant]
    stage_two += ["--aug-version", "all"] if variant == "aug" else []
    stage_two += [*opt("--source", "hardmath"), "--out", str(data)]
    if variant == "mix":
        stage_two += ["--easy-source", str(sources["train"]) if sources else "dsr40k"]
    bench = [x for b in BENCHMARKS for x in ("--source", f"{b}={sources[b]}")] if sources else []
    return {
        "stage_one": [
            "data", "stage-one", *opt("--source", "train"), *opt("--val-source", "aime2024"), "--out", str(data)
        ],
        "stage_two": stage_two,
        "benchmarks": ["data", "benchmarks", *bench, "--out", str(data)],
        "probes_data": ["data", "probes", *opt("--source", "preview"), "--out", str(data)],
    }  # fmt: skip


def runner_command(
    group: str, models: list[PathLike], data: PathLike, out: PathLike, options: list[str]
) -> list[str]:
    """`sparkle eval run` (``group`` "eval") or `sparkle probe run` ("probe") on ``models``."""
    model_args = [x for m in models for x in ("--model", str(m))]
    return [group, "run", *model_args, "--data-dir", str(data), "--out", str(out), *options]


def report_commands(
    bench: PathLike, probes: PathLike, report: PathLike, probe_report: PathLike, bootstrap: int | None = None
) -> dict[str, list[str]]:
    """The main table from the benchmark runs and the probe report from the probe runs."""
    resamples = ["--bootstrap", str(bootstrap)] if bootstrap is not None else []
    return {
        "report": ["report", str(bench), "--out", str(report)],
        "probe_report": ["probe", "report", str(probes), "--out", str(probe_report), *resamples],
    }
