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

from sparkle.data.names import PREVIEW_FILE, TRAIN_STEM, VAL_STEM, stage_two_parquet
from sparkle.errors import SparkleError
from sparkle.io import write_text_atomic
from sparkle.log import get_logger
from sparkle.paths import repo_root
from sparkle.pipeline import local_sources
from sparkle.steps import data_commands, report_commands, runner_command

log = get_logger(__name__)

DEMO_DATA = Path(__file__).resolve().parent / "data"
REPO_ROOT = repo_root()

WARNING = (
    "The default demo model is a randomly initialised 2-layer network built offline: its accuracy "
    "means nothing. The demo shows that every step of the pipeline runs and what it writes; run it with "
    "--model, --data-dir and --backend vllm on GPUs for real numbers."
)


# The toy data set has a dozen rows: the paper's batch of 128 prompts would not fill one step.
TOY_BATCH = ("data.train_batch_size=8", "actor_rollout_ref.actor.ppo_mini_batch_size=4")

# The demo's GRPO run: Stage 1's config scaled to the tiny model. The tiny model starts from random
# weights, so it cannot answer anything; the granular format reward (spk_g) rewards each answer-format tag
# it learns to write, which it does within a minute, and the reward curve shows it.
TRAIN_OVERRIDES = (
    "data.train_batch_size=4",
    "actor_rollout_ref.actor.ppo_mini_batch_size=4",
    "actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=32",
    "actor_rollout_ref.rollout.n=8",
    "data.max_response_length=8",
    "actor_rollout_ref.actor.optim.lr=3e-3",
    "actor_rollout_ref.model.enable_gradient_checkpointing=false",
    "reward.custom_reward_function.reward_kwargs.reward_type=spk_g",
    # the demo reruns this step only when a setting changed: start over rather than resume a different run
    "trainer.resume_mode=disable",
)
STATE_FILE = ".demo_state.json"
LOG_FILE = "demo.log"


def _fingerprint(*parts: object) -> str:
    import hashlib
    import json

    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _folder_digest(folder: Path) -> str:
    """Content hash of the files in a folder (the demo's inputs are small)."""
    import hashlib

    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(str(path.relative_to(folder)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


class Demo:
    """Runs the steps in order: one progress line per step on the terminal, the engines' output in the log.

    A step whose command, inputs and upstream steps are unchanged since an earlier run into the same
    folder, and whose outputs still exist, is reused rather than run again (``fresh`` turns that off).
    """

    def __init__(self, out: Path, fresh: bool = False, total: int = 0) -> None:
        import json

        self.out = out
        self.log_path = out / LOG_FILE
        self.state_path = out / STATE_FILE
        self.previous: dict = {}
        if self.state_path.is_file() and not fresh:
            try:
                self.previous = json.loads(self.state_path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                self.previous = {}
        self.state: dict = {}
        self.steps: list[dict] = []
        self.total = total
        self.fresh = fresh

    def _console(self, line: str) -> None:
        import sys

        print(line, file=sys.__stderr__, flush=True)

    def _decide(self, key: str, fp: str, outputs: list[Path], deps: list[str]) -> tuple[bool, str]:
        before = self.previous.get(key)
        if self.fresh:
            return False, "--fresh"
        if before is None:
            return False, "first run"
        rerun_deps = [d for d in deps if self.state.get(d, {}).get("ran")]
        if rerun_deps:
            return False, f"{', '.join(rerun_deps)} re-ran"
        if before.get("fingerprint") != fp:
            changed = [
                a for a in before.get("argv", [])
                if a not in self._argv_now
            ]  # fmt: skip
            return False, "settings changed" + (f" (was {' '.join(changed)[:80]})" if changed else "")
        missing = [str(p.relative_to(self.out)) for p in outputs if not p.exists()]
        if missing:
            return False, f"output missing: {missing[0]}"
        return True, f"same command and inputs as the run of {before.get('finished', '?')}"

    def step(
        self,
        key: str,
        title: str,
        argv: list[str | Path] | None,
        outputs: list[Path],
        deps: list[str] = (),
        extra: object = None,
        action=None,
        clean: Path | None = None,
    ) -> None:
        """Run ``sparkle ARGV`` (or ``action()``) unless an earlier identical run can be reused."""

        args = [str(a) for a in (argv or [])]
        command = "sparkle " + shlex.join(args) if argv is not None else title
        self._argv_now = args
        fp = _fingerprint(args, extra, [self.state[d]["fingerprint"] for d in deps])
        reuse, why = self._decide(key, fp, outputs, list(deps))
        n = len(self.steps) + 1
        label = f"[{n:2d}/{self.total}] {title}"
        if reuse:
            self.state[key] = {**self.previous[key], "ran": False}
            self.steps.append(
                {"title": title, "command": command, "seconds": 0.0, "reused": True, "why": why}
            )
            self._console(f"{label:<62s} reused")
            return
        if _tty():
            self._console(f"{label:<62s} ...")
        start = time.perf_counter()
        if clean is not None and clean.is_dir() and self.out in clean.parents:
            import shutil

            shutil.rmtree(clean)  # the demo's own output of this step, stale now: rerun from scratch
        self._run_logged(title, command, args, action)
        seconds = time.perf_counter() - start
        self._console(
            f"\x1b[1A\x1b[2K{label:<62s} {seconds:6.1f} s" if _tty() else f"{label:<62s} {seconds:6.1f} s"
        )
        self.state[key] = {
            "fingerprint": fp, "argv": args, "ran": True, "seconds": round(seconds, 2),
            "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
        }  # fmt: skip
        self.steps.append(
            {"title": title, "command": command, "seconds": seconds, "reused": False, "why": why}
        )
        self._save_state()

    def _run_logged(self, title: str, command: str, args: list[str], action) -> None:
        """Run with stdout, stderr and logging sent to the log file (the engines' tables and progress bars)."""
        import contextlib
        import logging
        import os
        import sys

        from sparkle.cli import main

        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "a", encoding="utf-8") as log_file:
            log_file.write(f"\n===== {title}\n$ {command}\n")
            log_file.flush()
            sys.stdout.flush()
            sys.stderr.flush()
            saved = os.dup(1), os.dup(2)
            root = logging.getLogger()
            handlers = root.handlers[:]
            file_handler = logging.StreamHandler(log_file)
            file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
            status = 1
            try:
                os.dup2(log_file.fileno(), 1)
                os.dup2(log_file.fileno(), 2)
                root.handlers = [file_handler]
                with contextlib.redirect_stdout(log_file), contextlib.redirect_stderr(log_file):
                    status = action() if action is not None else main(args)
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                log_file.flush()
                os.dup2(saved[0], 1)
                os.dup2(saved[1], 2)
                os.close(saved[0])
                os.close(saved[1])
                root.handlers = handlers
        if status != 0:
            tail = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-5:]
            raise SparkleError(
                f"demo step '{title}' failed (exit {status}): {command}; log {self.log_path}: "
                + " | ".join(t.strip() for t in tail if t.strip())[-400:]
            )

    def _save_state(self) -> None:
        from sparkle.io import write_json_atomic

        write_json_atomic(self.state_path, {k: {kk: vv for kk, vv in v.items() if kk != "ran"}
                                            for k, v in self.state.items()})  # fmt: skip


def _tty() -> bool:
    import sys

    return bool(getattr(sys.__stderr__, "isatty", lambda: False)())


def _sparkline(values: list[float]) -> str:
    blocks = "▁▂▃▄▅▆▇█"
    if not values:
        return ""
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    return "".join(blocks[min(7, int((v - low) / span * 8))] for v in values)


def run_demo(
    out: Path,
    model: str | None = None,
    data_dir: Path | None = None,
    backend: str = "hf",
    samples: int = 2,
    max_gen_toks: int = 48,
    limit: int | None = None,
    train_steps: int = 30,
    fresh: bool = False,
) -> Path:
    """Run the toy-scale pipeline into ``out`` and return the summary file."""
    started = time.perf_counter()
    out = out.resolve()
    src_dir = (data_dir or DEMO_DATA).resolve()
    src = local_sources(src_dir)
    if train_steps <= 0:
        raise SparkleError(f"--train-steps {train_steps}: must be a positive integer")
    if samples <= 0 or max_gen_toks <= 0 or (limit is not None and limit <= 0):
        raise SparkleError("--samples, --max-gen-toks and --limit must be positive integers")
    out.mkdir(parents=True, exist_ok=True)
    demo = Demo(out, fresh=fresh, total=13)
    data = out / "data"
    inputs = _folder_digest(src_dir)
    demo._console(f"sparkle demo -> {out} (engine output: {out / LOG_FILE})")

    base_model = model
    if model is None:
        from sparkle.tiny import build_tiny_model

        model_dir = out / "model"
        tiny_source = Path(__file__).resolve().parents[1] / "tiny.py"
        demo.step(
            "model", "build the tiny offline model", None, [model_dir / "config.json"],
            extra=tiny_source.read_text(encoding="utf-8"),
            action=lambda: (build_tiny_model(model_dir), 0)[1],
        )  # fmt: skip
        base_model = str(model_dir)
    model_deps = ["model"] if model is None else []

    commands = data_commands(data, src)
    for key, what, outputs in (
        ("stage_one", "stage-one data", [data / f"{TRAIN_STEM}.parquet", data / f"{VAL_STEM}.parquet"]),
        ("stage_two", "stage-two PSS data", [data / stage_two_parquet("aug")]),
        ("benchmarks", "benchmark files", [data]),
        ("probes_data", "probe annotations", [data / PREVIEW_FILE]),
    ):
        demo.step(key, what, commands[key], outputs, extra=inputs)

    for stage, key, train_file in (
        ("stage_one", "stage_one", data / f"{TRAIN_STEM}.parquet"),
        ("stage_two_aug", "stage_two", data / stage_two_parquet("aug")),
    ):
        demo.step(
            f"check_{stage}", f"check the {stage} config (verl's validation)",
            ["train", "check", REPO_ROOT / "configs" / f"{stage}.yaml", f"data.train_files={train_file}",
             f"data.val_files={data / f'{VAL_STEM}.parquet'}", f"actor_rollout_ref.model.path={base_model}",
             *TOY_BATCH],
            [], deps=[key, "stage_one", *model_deps],
        )  # fmt: skip

    train_out = out / "train"
    demo.step(
        "train", f"GRPO training, TRL on this machine ({train_steps} steps)",
        ["train", "local", REPO_ROOT / "configs" / "stage_one.yaml",
         f"data.train_files={data / f'{TRAIN_STEM}.parquet'}", *TRAIN_OVERRIDES, "--model", base_model,
         "--out", train_out, "--max-steps", str(train_steps), "--threads", "1"],
        [train_out / "final" / "config.json", train_out / "metrics.jsonl"], deps=["stage_one", *model_deps],
    )  # fmt: skip
    trained = str(train_out / "final")

    gen = ["--backend", backend, "--max-gen-toks", str(max_gen_toks)] + (
        ["--limit", str(limit)] if limit else []
    )
    if model is None:
        # the tiny model on a CPU: a fixed batch and a short context (the prompts are ~250 tokens) spare
        # lm-eval's automatic batch-size search, which runs full-context passes
        gen += ["--batch-size", "8", "--max-model-len", "1024"]
    for runner, what, folder, data_step in (
        ("eval", "benchmark evaluation of the trained model (lm-eval)", out / "eval", "benchmarks"),
        ("probe", "the three probes on the trained model (lm-eval)", out / "probes", "probes_data"),
    ):
        demo.step(
            runner, what, runner_command(runner, [trained], data, folder, ["--samples", str(samples), *gen]),
            [folder], deps=["train", data_step], clean=folder,
        )  # fmt: skip
    reports = report_commands(
        out / "eval", out / "probes", out / "report", out / "probe_report", bootstrap=500
    )
    demo.step(
        "rescore", "re-grade the samples with math-verify",
        ["rescore", out / "eval", "--policy", "math_verify", "--out", out / "rescored"],
        [out / "rescored"], deps=["eval"], clean=out / "rescored",
    )  # fmt: skip
    demo.step(
        "report", "main table vs the paper", reports["report"],
        [out / "report" / "main_table.md"], deps=["eval"], clean=out / "report",
    )  # fmt: skip
    demo.step(
        "probe_report", "probe report", reports["probe_report"],
        [out / "probe_report" / "probes.csv"], deps=["probe"], clean=out / "probe_report",
    )  # fmt: skip

    total = time.perf_counter() - started
    summary = out / "SUMMARY.md"
    write_text_atomic(summary, _summary_text(demo, out, base_model, trained, src_dir, total, train_steps))
    demo._console(f"done in {total:.0f} s; summary: {summary}")
    log.warning("[demo] %s", WARNING)
    return summary


def _summary_text(demo: Demo, out: Path, base_model: str, trained: str, src_dir: Path, total: float,
                  train_steps: int) -> str:  # fmt: skip
    from sparkle.io import read_jsonl
    from sparkle.train.local import quarter_means

    metrics = read_jsonl(out / "train" / "metrics.jsonl")
    rewards = [m["reward"] for m in metrics if m.get("reward") is not None]
    first, last = quarter_means(metrics)
    quarter = max(1, len(metrics) // 4)
    fmt_first = [m.get("granular_format") or 0.0 for m in metrics[:quarter]]
    fmt_last = [m.get("granular_format") or 0.0 for m in metrics[-quarter:]]
    full_last = [m.get("format_ok") or 0.0 for m in metrics[-quarter:]]
    train_seconds = sum(m.get("seconds") or 0.0 for m in metrics)
    reused = [s for s in demo.steps if s["reused"]]
    lines = [
        "# sparkle demo",
        "",
        f"> {WARNING}",
        "",
        f"Base model: `{base_model}`  ",
        f"Trained model (evaluated and probed below): `{trained}`  ",
        f"Data: `{src_dir}`  ",
        f"Total: {total:.0f} s ({len(reused)} of {len(demo.steps)} steps reused from an earlier run)  ",
        f"Engine output (TRL, lm-eval, verl checks): `{out / LOG_FILE}`",
        "",
        "## Reward curve",
        "",
        f"GRPO with TRL on this machine (`sparkle train local`, Stage 1's config scaled down, reward "
        f"`spk_g`): {len(rewards)} steps in {train_seconds:.0f} s of training. Mean reward over the first "
        f"quarter of the steps {first:.3f}, over the last quarter {last:.3f} "
        f"({'up' if last > first else 'not up'} {last - first:+.3f}); tag score (the granular format "
        f"score, 0–1) {sum(fmt_first) / len(fmt_first):.2f} → {sum(fmt_last) / len(fmt_last):.2f}; "
        f"completions in the complete answer format over the last quarter {sum(full_last) / quarter:.2f}.",
        "",
        f"`{_sparkline(rewards)}`",
        "",
        "![reward curve](train/reward_curve.png)",
        "",
        "The tiny model starts from random weights and cannot solve anything: what it learns here is the "
        "answer format (the think / answer tags are single tokens of its tokenizer), which `spk_g` rewards.",
        "",
        "## Steps",
        "",
        "| step | command | seconds | ran or reused (why) |",
        "|---|---|---|---|",
        *(
            f"| {s['title']} | `{s['command']}` | {s['seconds']:.2f} | "
            f"{'reused' if s['reused'] else 'ran'}: {s['why']} |"
            for s in demo.steps
        ),
        "",
        "Outputs: `model/` (tiny base model), `data/` (verl parquet + JSONL), `train/` (TRL run: `final/`, "
        "`checkpoints/`, `metrics.jsonl`, `reward_curve.png`), `eval/` and `probes/` (lm-eval results and "
        "samples), `rescored/`, `report/` (main table, figures), `probe_report/` (probes.csv, Markdown, "
        "figures). A second `sparkle demo` into the same folder reuses every step whose command and inputs "
        "are unchanged; `--fresh` reruns everything.",
        "",
    ]
    return "\n".join(lines)


def _handler(args: argparse.Namespace) -> int:
    summary = run_demo(
        out=args.out,
        model=args.model,
        data_dir=args.data_dir,
        backend=args.backend,
        samples=args.samples,
        max_gen_toks=args.max_gen_toks,
        limit=args.limit,
        train_steps=args.train_steps,
        fresh=args.fresh,
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
    p.add_argument("--samples", type=int, default=2, help="samples per problem (default 2; the paper uses 8)")
    p.add_argument("--max-gen-toks", type=int, default=48, help="generation budget per sample (default 48)")
    p.add_argument("--limit", type=int, default=None, help="problems per task (default: all)")
    p.add_argument(
        "--train-steps", type=int, default=30, help="GRPO steps of the tiny model's training (default 30)"
    )
    p.add_argument(
        "--fresh",
        action="store_true",
        help="rerun every step (default: reuse unchanged steps of an earlier run)",
    )
    p.set_defaults(func=_handler)
