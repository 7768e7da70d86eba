"""`sparkle probe run`: the probe tasks through the one lm-eval runner (`sparkle.evaluate.run`).

Settings, planning, the "done" rule, the generation budget, the GPUs and the execution are the benchmark
evaluation's, so both runs sample alike and skip alike; this module only names the probe tasks (one per
condition × benchmark of the chosen family) and their task folder.
"""

from __future__ import annotations

from pathlib import Path

from sparkle.errors import SparkleError
from sparkle.evaluate.run import ModelRun, Settings, Suite, execute, plan
from sparkle.probes.taskgen import write_task_folder
from sparkle.probes.tasks import PREVIEW_FILE, task_name, task_prompts
from sparkle.prompts import CONDITIONS
from sparkle.registry import BENCHMARKS


def _check_data_dir(data_dir: str) -> None:
    if not (Path(data_dir).expanduser() / PREVIEW_FILE).is_file():
        raise SparkleError(
            f"--data-dir {data_dir}: no {PREVIEW_FILE} there; write it with `sparkle data probes --out DIR`"
        )


PROBES = Suite("sparkle_probes", write_task_folder, task_prompts, _check_data_dir)


def probe_tasks(conditions: list[str], benchmarks: list[str], family: str) -> list[str]:
    """The probe task names of ``conditions`` × ``benchmarks`` for ``family``; unknown names are an error."""
    for condition in conditions:
        if condition not in CONDITIONS:
            raise SparkleError(f"unknown condition {condition!r}; use some of {', '.join(CONDITIONS)}")
    for benchmark in benchmarks:
        if benchmark not in BENCHMARKS:
            raise SparkleError(f"unknown benchmark {benchmark!r}; use some of {', '.join(BENCHMARKS)}")
    return [task_name(c, b, family) for c in conditions for b in benchmarks]


def plan_probes(settings: Settings, conditions: list[str], benchmarks: list[str]) -> list[ModelRun]:
    """One lm-eval run per model with its probe tasks that are not done."""
    return plan(settings, PROBES, probe_tasks(conditions, benchmarks, settings.family))


def run(settings: Settings, conditions: list[str], benchmarks: list[str], dry_run: bool = False) -> int:
    """Run every pending (model, probe task) pair; returns lm-eval's exit status (0 when all succeed)."""
    return execute(plan_probes(settings, conditions, benchmarks), settings, PROBES, dry_run=dry_run)
