"""`sparkle demo`: the whole SPARKLE pipeline at toy scale, on any machine, in a few minutes.

Each step is an ordinary `sparkle ...` command, run in this process and printed as the command a user
would type, so the demo doubles as a walkthrough. By default it uses a tiny model built offline and the
sample problems shipped in ``sparkle/demo/data`` (written for this repository); with ``--model`` and
``--data-dir`` it runs the same steps on a real model and real data (use ``--backend vllm`` on GPUs).
"""

from __future__ import annotations

import argparse
import shlex
import time
from pathlib import Path

from sparkle.errors import SparkleError
from sparkle.io import write_text_atomic
from sparkle.log import get_logger
from sparkle.pipeline import local_sources
from sparkle.registry import BENCHMARKS

log = get_logger(__name__)

DEMO_DATA = Path(__file__).resolve().parent / "data"
REPO_ROOT = Path(__file__).resolve().parents[2]

WARNING = (
    "The default demo model is a randomly initialised 2-layer network built offline: its accuracy "
    "means nothing. The demo shows that every step of the pipeline runs and what it writes; run it with "
    "--model, --data-dir and --backend vllm on GPUs for real numbers."
)


# The toy data set has a dozen rows: the paper's batch of 128 prompts would not fill one step.
TOY_BATCH = ("data.train_batch_size=8", "actor_rollout_ref.actor.ppo_mini_batch_size=4")


class Demo:
    """Runs the steps in order and keeps a log of the commands for the summary."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.steps: list[tuple[str, str, float]] = []

    def sparkle(self, title: str, *argv: str | Path) -> None:
        from sparkle.cli import main

        args = [str(a) for a in argv]
        command = "sparkle " + shlex.join(args)
        log.info("[demo] %s\n  $ %s", title, command)
        start = time.perf_counter()
        status = main(args)
        seconds = time.perf_counter() - start
        if status != 0:
            raise SparkleError(f"demo step '{title}' failed (exit {status}): {command}")
        self.steps.append((title, command, seconds))


def run_demo(
    out: Path,
    model: str | None = None,
    data_dir: Path | None = None,
    backend: str = "hf",
    samples: int = 2,
    max_gen_toks: int = 48,
    limit: int | None = None,
) -> Path:
    """Run the toy-scale pipeline into ``out`` and return the summary file."""
    started = time.perf_counter()
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    src = local_sources((data_dir or DEMO_DATA).resolve())
    demo = Demo(out)
    data = out / "data"

    if model is None:
        from sparkle.tiny import build_tiny_model

        log.info("[demo] building the tiny offline model in %s", out / "model")
        model = str(build_tiny_model(out / "model"))

    demo.sparkle(
        "stage-one data",
        "data",
        "stage-one",
        "--source",
        src["train"],
        "--val-source",
        src["aime2024"],
        "--out",
        data,
    )
    demo.sparkle(
        "stage-two PSS data",
        "data",
        "stage-two",
        "--variant",
        "aug",
        "--aug-version",
        "all",
        "--source",
        src["hardmath"],
        "--out",
        data,
    )
    bench_sources = [x for b in BENCHMARKS for x in ("--source", f"{b}={src[b]}")]
    demo.sparkle("benchmark files", "data", "benchmarks", *bench_sources, "--out", data)
    demo.sparkle("probe annotations", "data", "probes", "--source", src["preview"], "--out", data)

    for stage, train_file in (
        ("stage_one", data / "sparkle_dsr40k.parquet"),
        ("stage_two_aug", data / "sparkle_hardmath_aug_all_train.parquet"),
    ):
        demo.sparkle(
            f"check the {stage} GRPO config (verl's own validation, reward loader and dataset)",
            "train", "check", REPO_ROOT / "configs" / f"{stage}.yaml",
            f"data.train_files={train_file}",
            f"data.val_files={data / 'sparkle_aime2024.parquet'}",
            f"actor_rollout_ref.model.path={model}",
            *TOY_BATCH,
        )  # fmt: skip

    gen = ["--backend", backend, "--max-gen-toks", str(max_gen_toks)] + (
        ["--limit", str(limit)] if limit else []
    )
    demo.sparkle(
        "benchmark evaluation (lm-eval)", "eval", "run", "--models", model, "--data-dir", data,
        "--samples", str(samples), "--out", out / "eval", *gen,
    )  # fmt: skip
    demo.sparkle(
        "the three probes (lm-eval)", "probe", "run", "--model", model, "--data-dir", data,
        "--repeats", str(samples), "--out", out / "probes", *gen,
    )  # fmt: skip
    demo.sparkle(
        "re-grade the samples with math-verify",
        "rescore",
        out / "eval",
        "--policy",
        "math_verify",
        "--out",
        out / "rescored",
    )
    demo.sparkle("main table vs the paper", "report", out / "eval", "--out", out / "report")
    demo.sparkle(
        "probe report", "probe", "report", out / "probes", "--out", out / "probe_report", "--bootstrap", "500"
    )

    total = time.perf_counter() - started
    lines = [
        "# sparkle demo",
        "",
        f"> {WARNING}",
        "",
        f"Model: `{model}`  ",
        f"Data: `{data_dir or DEMO_DATA}`  ",
        f"Total: {total:.0f} s",
        "",
        "| step | command | seconds |",
        "|---|---|---|",
        *(f"| {title} | `{cmd}` | {sec:.2f} |" for title, cmd, sec in demo.steps),
        "",
        "Outputs: `data/` (verl parquet + JSONL), `eval/` and `probes/` (lm-eval results and samples), "
        "`rescored/`, `report/` (main table, figures), `probe_report/` (probes.csv, Markdown, figures).",
        "",
    ]
    summary = out / "SUMMARY.md"
    write_text_atomic(summary, "\n".join(lines))
    log.info("[demo] done in %.0f s; summary: %s", total, summary)
    log.warning("[demo] %s", WARNING)
    return summary


def _handler(args: argparse.Namespace) -> int:
    summary = run_demo(
        out=args.out,
        model=args.model,
        data_dir=args.data_dir,
        backend=args.backend,
        samples=args.samples,
        max_gen_toks=args.max_gen_toks,
        limit=args.limit,
    )
    print(summary)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "demo", help="the whole pipeline at toy scale (tiny offline model, sample problems)"
    )
    p.add_argument(
        "--out", type=Path, default=Path("outputs/demo"), help="output folder (default outputs/demo)"
    )
    p.add_argument("--model", default=None, help="model path or Hub id (default: a tiny model built offline)")
    p.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="folder with the demo's input files (default: shipped samples)",
    )
    p.add_argument("--backend", default="hf", choices=("hf", "vllm"), help="lm-eval backend (vllm on GPUs)")
    p.add_argument("--samples", type=int, default=2, help="samples per problem (the paper uses 8)")
    p.add_argument("--max-gen-toks", type=int, default=48, help="generation budget per sample")
    p.add_argument("--limit", type=int, default=None, help="problems per task")
    p.set_defaults(func=_handler)
