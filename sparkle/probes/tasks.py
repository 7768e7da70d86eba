"""What the probe lm-eval tasks call: documents built from ``sparkle_preview``, prompts, grading.

Every probe task (``sparkle_{condition}_{benchmark}[_srl]``, see `sparkle.probes.taskgen`) loads its
documents with :func:`load_dataset`, renders them with :func:`doc_to_text` (the exact templates of
`sparkle.prompts`) and grades each of its samples with :func:`process_results` (`sparkle.reward`, eval
policy). Documents carry their benchmark, condition, family, problem id and difficulty level, so a
samples file describes itself and the analysis needs nothing else.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

from sparkle.data.names import PREVIEW_FILE  # noqa: F401 (a local copy in $SPARKLE_DATA_DIR)
from sparkle.data.probes import canonical_benchmark
from sparkle.errors import SparkleError
from sparkle.evaluate.tasks import DATA_DIR_ENV, pooled_accuracy  # noqa: F401 (the tasks' aggregation)
from sparkle.log import get_logger
from sparkle.prompts import CONDITIONS, FAMILIES, probe_prompt
from sparkle.registry import BENCHMARKS
from sparkle.samples import responses_of

log = get_logger(__name__)


def task_name(condition: str, benchmark: str, family: str = "sparkle") -> str:
    """The lm-eval task name of one probe: ``sparkle_{condition}_{benchmark}`` (+ ``_srl``)."""
    return f"sparkle_{condition}_{benchmark}" + ("_srl" if family == "srl" else "")


def parse_task_name(name: str) -> tuple[str, str, str] | None:
    """(condition, benchmark, family) of a probe task name, or None when ``name`` is not a probe task."""
    family = "sparkle"
    if name.endswith("_srl"):
        family, name = "srl", name[: -len("_srl")]
    for condition in CONDITIONS:
        prefix = f"sparkle_{condition}_"
        if name.startswith(prefix) and name[len(prefix) :] in BENCHMARKS:
            return condition, name[len(prefix) :], family
    return None


def preview_source(preview: str | None = None, data_dir: str | None = None) -> str | None:
    """Where the preview comes from: an explicit file (``preview``), else ``sparkle_preview.jsonl`` in
    ``data_dir`` or in ``$SPARKLE_DATA_DIR`` when it exists there, else None (the Hub dataset)."""
    if preview:
        return str(preview)
    for folder in (data_dir, os.environ.get(DATA_DIR_ENV)):
        if folder:
            path = Path(folder) / PREVIEW_FILE
            if path.is_file():
                return str(path)
            log.info("%s has no %s; looking further", folder, PREVIEW_FILE)
    return None


@functools.lru_cache(maxsize=4)
def _problems(source: str | None) -> tuple[dict[str, Any], ...]:
    from sparkle.data import group_preview, load_preview

    return tuple(group_preview(load_preview(source)))


def _text(problem: dict[str, Any], key: str, where: str) -> str:
    value = problem.get(key)
    if value is None:
        raise SparkleError(f"{where}: problem {problem.get('id')!r} has no {key!r}; the probe needs it")
    return str(value)


def _answers(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return [str(value)]


def build_docs(
    problems: list[dict[str, Any]],
    condition: str,
    benchmark: str,
    family: str = "sparkle",
    where: str = "sparkle_preview",
) -> list[dict[str, Any]]:
    """The documents of one probe task from grouped preview problems (`sparkle.data.group_preview`).

    vanilla / plan / knowledge: one document per problem, graded against the problem's answers.
    subproblem: one document per subproblem (in chain order), graded against ``subproblem_answer``.
    The graded answers are ``target`` (a list), the gold field benchmark documents use too; the whole
    problem's answers stay in ``problem_answer``.
    """
    if condition not in CONDITIONS:
        raise SparkleError(f"unknown probe condition {condition!r}; use one of {', '.join(CONDITIONS)}")
    if family not in FAMILIES:
        raise SparkleError(f"unknown prompt family {family!r}; use one of {', '.join(FAMILIES)}")
    docs: list[dict[str, Any]] = []
    for problem in problems:
        if canonical_benchmark(problem.get("benchmark")) != benchmark:
            continue
        level = problem.get("difficulty_level")
        subproblems = list(problem.get("subproblems") or [])
        base = {
            "id": str(problem.get("id")),
            "benchmark": benchmark,
            "condition": condition,
            "family": family,
            "problem": _text(problem, "problem", where),
            "problem_answer": _answers(problem.get("answer")),
            "difficulty_level": int(level) if level is not None else None,
            "domains": [str(d) for d in problem.get("domains") or []],
            "total_subproblems": len(subproblems),
        }
        if condition in ("vanilla", "plan", "knowledge"):
            doc = {**base, "target": base["problem_answer"]}
            if condition == "plan":
                doc["planning"] = _text(problem, "planning", where)
            if condition == "knowledge":
                doc["knowledge"] = _text(problem, "knowledge", where)
            docs.append(doc)
            continue
        for index, sub in enumerate(subproblems, 1):
            position = int(sub.get("sequence") or index)
            answer = sub.get("answer")
            if answer is None:
                raise SparkleError(
                    f"{where}: problem {base['id']!r}, subproblem {position} has no answer (subproblem_answer)"
                )
            docs.append(
                {
                    **base,
                    "target": _answers(answer),
                    "subproblem_id": str(sub.get("id", f"{base['id']}-{position}")),
                    "subproblem_sequence": position,
                    "subproblem_question": str(sub.get("question") or ""),
                    "subproblem_answer": str(answer),
                    "augmented_problem": _text(sub, "augmented_problem", f"{where}, problem {base['id']!r}"),
                }
            )
    return docs


def load_dataset(
    probe_benchmark: str,
    probe_condition: str,
    probe_family: str = "sparkle",
    preview: str | None = None,
    data_dir: str | None = None,
    **_: Any,
):
    """lm-eval ``custom_dataset``: the ``test`` split of one probe task.

    lm-eval passes the task's ``dataset_kwargs`` (``probe_*``, named so that no ``--metadata`` key can
    collide with them) plus the run's ``--metadata`` and model arguments as keyword arguments. The
    annotations come from ``preview`` (a local file), else ``sparkle_preview.jsonl`` in ``data_dir`` or
    ``$SPARKLE_DATA_DIR``, else the Hub.
    """
    import datasets

    docs = _documents(probe_condition, probe_benchmark, probe_family, preview, data_dir)
    return datasets.DatasetDict({"test": datasets.Dataset.from_list(docs)})


def _documents(
    condition: str, benchmark: str, family: str, preview: str | None, data_dir: str | None
) -> list[dict[str, Any]]:
    source = preview_source(preview, data_dir)
    where = source or "sparkle_preview (Hub)"
    docs = build_docs(list(_problems(source)), condition, benchmark, family, where=where)
    if not docs:
        raise SparkleError(
            f"{where}: no {benchmark} problems for the {condition} probe; check the rows' `source` "
            "column or point SPARKLE_DATA_DIR at a complete sparkle_preview.jsonl"
        )
    return docs


def task_prompts(task: str, data_dir: str | None = None, family: str | None = None) -> list[str]:
    """The user messages of one probe task, in document order (what lm-eval sends, before the chat
    template); the runner sizes the generation budget from them. The family is the task name's."""
    parsed = parse_task_name(task)
    if parsed is None:
        raise SparkleError(f"{task!r} is not a probe task (sparkle_<condition>_<benchmark>[_srl])")
    condition, benchmark, task_family = parsed
    return [doc_to_text(doc) for doc in _documents(condition, benchmark, task_family, None, data_dir)]


def doc_to_text(doc: dict[str, Any]) -> str:
    """The exact probe prompt of a document (sent as the user message; see `sparkle.prompts`)."""
    return probe_prompt(doc["condition"], doc, doc["family"])


def doc_to_target(doc: dict[str, Any]) -> str:
    """The gold answer(s) as one string, for lm-eval's logs (grading uses ``doc['target']``)."""
    return " | ".join(doc["target"])


def grade_samples(doc: dict[str, Any], responses: list[str]) -> list[bool]:
    """Grade each response against the document's target(s) with the eval policy."""
    from sparkle.reward import grade

    return [bool(grade(response, list(doc["target"]), policy="eval").correct) for response in responses]


def process_results(doc: dict[str, Any], results: list[Any]) -> dict[str, Any]:
    """Per document: ``avg@k`` (fraction of the k samples graded correct) and ``correct`` (0/1 per sample,
    in sample order, which the subproblem analysis pairs across a chain)."""
    from sparkle.evaluate.metrics import avg_at_k

    correct = grade_samples(doc, responses_of(results))
    return {f"avg@{len(correct)}": float(avg_at_k(correct)), "correct": [int(c) for c in correct]}
