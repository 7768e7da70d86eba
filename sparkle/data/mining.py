"""Hard-problem mining (how hardmath was made, docs/reference.md, "Stage-2 data"): keep the problems a model rarely solves.

Inputs are sampled generations: lm-eval ``samples_*.jsonl`` files (``doc`` + ``resps``) or verl
generation dumps (``.parquet`` / ``.jsonl`` rows with ``responses`` next to the RL columns). Samples of
one problem may be spread over several files; they are pooled by problem text. Each response is graded
with ``sparkle.reward.grade(..., policy="train")``; a problem is kept when it has at least ``min_samples``
samples and at most ``max_correct`` of them are correct. The output has hardmath's schema (``problem``,
``solution``, ``CoT``, ``answer``) plus ``n_samples`` and ``n_correct``, so ``sparkle data stage-two``
can start from it (``aug`` needs a reference solution: pass ``solutions=`` to fill it in from the
training set).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sparkle.data.rl import write_jsonl, write_parquet
from sparkle.data.sources import ANSWER_KEYS, PROBLEM_KEYS, get_answer, get_text, load_records, where
from sparkle.errors import SparkleError, bad_input
from sparkle.log import get_logger
from sparkle.progress import track
from sparkle.samples import gold_field, sample_responses
from sparkle.prompts import plain_prompt

log = get_logger(__name__)

_MARK = "\x00PROBLEM\x00"
_PROMPT_HEAD, _PROMPT_TAIL = plain_prompt(_MARK).split(_MARK)


@dataclass
class _Tally:
    problem: str
    answer: str | list[str]
    solution: str = ""
    responses: list[str] = field(default_factory=list)


def _flatten(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _flatten(item)
    elif value is not None:
        raise TypeError(type(value).__name__)


def problem_from_prompt(prompt: Any, place: str) -> str:
    """The problem inside a training prompt (a message list or string) built by ``plain_prompt``."""
    if isinstance(prompt, list) and prompt and isinstance(prompt[-1], dict):
        prompt = prompt[-1].get("content")
    if isinstance(prompt, str) and prompt.startswith(_PROMPT_HEAD) and prompt.endswith(_PROMPT_TAIL):
        return prompt[len(_PROMPT_HEAD) : len(prompt) - len(_PROMPT_TAIL)]
    raise SparkleError(
        f"{place}: cannot find the problem (no 'problem' field, no extra_info.question, and the prompt is "
        "not a SPARKLE training prompt); add the problem text to the dump"
    )


def _sample_entry(row: dict[str, Any], place: str) -> tuple[str, str | list[str], str, list[str]]:
    """(problem, answer, solution, responses) of one lm-eval sample row or verl dump row."""
    if "resps" in row:  # lm-eval samples file
        doc = row.get("doc")
        if not isinstance(doc, dict):
            raise SparkleError(f"{place}: lm-eval sample has no 'doc' object")
        problem = get_text(doc, PROBLEM_KEYS, place)
        key = gold_field(doc)
        answer = get_answer(doc, (key,), place) if key else get_answer(row, ("target",), place)
        solution = doc.get("solution") if isinstance(doc.get("solution"), str) else ""
        raw = sample_responses(row, place)
    elif "responses" in row:  # verl generation dump
        info = row.get("extra_info") if isinstance(row.get("extra_info"), dict) else {}
        if isinstance(row.get("problem"), str):
            problem = get_text(row, ("problem",), place)
        elif isinstance(info.get("question"), str):
            problem = get_text(info, ("question",), place)
        else:
            problem = problem_from_prompt(row.get("prompt"), place)
        reward_model = row.get("reward_model") if isinstance(row.get("reward_model"), dict) else {}
        answer = get_answer({**row, **reward_model}, ("ground_truth", *ANSWER_KEYS), place)
        solution = row.get("solution") if isinstance(row.get("solution"), str) else ""
        raw = row["responses"]
    else:
        raise SparkleError(
            f"{place}: no 'resps' (lm-eval samples) or 'responses' (verl generation dump) field; "
            "pass the files that hold the sampled generations"
        )
    try:
        responses = list(_flatten(raw))
    except TypeError as e:
        raise SparkleError(f"{place}: responses must be strings or lists of strings, found {e}") from None
    return problem, answer, solution, responses


def collect_samples(paths: list[str | os.PathLike[str]]) -> list[_Tally]:
    """Pool every sampled response by problem text, in first-appearance order."""
    tallies: dict[str, _Tally] = {}
    for path in paths:
        for index, row in enumerate(load_records(Path(path))):
            place = where(path, index)
            problem, answer, solution, responses = _sample_entry(row, place)
            tally = tallies.setdefault(problem.strip(), _Tally(problem, answer, solution))
            if tally.answer != answer:
                raise SparkleError(
                    f"{place}: problem already seen with answer {tally.answer!r}, here {answer!r}; "
                    "samples of one problem must share the ground truth"
                )
            tally.solution = tally.solution or solution
            tally.responses.extend(responses)
    return list(tallies.values())


def mine(
    tallies: list[_Tally], max_correct: int = 0, min_samples: int = 20, timeout: float | None = None
) -> list[dict[str, Any]]:
    """The hard problems: >= ``min_samples`` samples, <= ``max_correct`` graded correct (train policy).

    Grading of a problem stops once it has more than ``max_correct`` correct samples (it cannot be kept).
    """
    from sparkle.reward import grade

    if max_correct < 0 or min_samples < 1:
        raise SparkleError(f"need max_correct >= 0 and min_samples >= 1, got {max_correct} and {min_samples}")
    kept, too_few = [], 0
    for tally in track(tallies, "grading samples"):
        if len(tally.responses) < min_samples:
            too_few += 1
            continue
        correct = 0
        for response in tally.responses:
            correct += grade(response, tally.answer, policy="train", timeout=timeout).correct
            if correct > max_correct:
                break
        if correct <= max_correct:
            kept.append(
                {
                    "problem": tally.problem,
                    "solution": tally.solution,
                    "CoT": "",
                    "answer": tally.answer,
                    "n_samples": len(tally.responses),
                    "n_correct": correct,
                }
            )
    if tallies and too_few == len(tallies):
        most = max(len(t.responses) for t in tallies)
        raise bad_input(
            f"--min-samples {min_samples}",
            f"no problem has that many samples in the files (the most any problem has is {most})",
            f"lower --min-samples to {most} or less, or pass more sample files",
        )
    log.info(
        "%d problems sampled; %d with fewer than %d samples skipped; %d kept (<= %d correct)",
        len(tallies),
        too_few,
        min_samples,
        len(kept),
        max_correct,
    )
    return kept


def fill_solutions(rows: list[dict[str, Any]], source: str | os.PathLike[str]) -> int:
    """Copy ``solution`` from a training set (matched by problem text) into rows that lack one."""
    solutions = {}
    for record in load_records(source):
        problem, solution = record.get("problem"), record.get("solution")
        if isinstance(problem, str) and isinstance(solution, str) and solution.strip():
            solutions.setdefault(problem.strip(), solution)
    filled = 0
    for row in rows:
        if not row["solution"] and row["problem"].strip() in solutions:
            row["solution"] = solutions[row["problem"].strip()]
            filled += 1
    return filled


def mine_hard(
    samples: list[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    max_correct: int = 0,
    min_samples: int = 20,
    timeout: float | None = None,
    solutions: str | os.PathLike[str] | None = None,
) -> list[Path]:
    """Mine hard problems from sample files and write them (``.jsonl`` or ``.parquet`` by suffix)."""
    out = Path(out)
    if out.suffix not in (".jsonl", ".parquet"):
        raise SparkleError(f"--out {out}: use a .jsonl or .parquet file name")
    rows = mine(collect_samples(list(samples)), max_correct, min_samples, timeout)
    if solutions is not None:
        log.info("filled %d reference solutions from %s", fill_solutions(rows, solutions), solutions)
    if out.suffix == ".parquet":
        if any(isinstance(r["answer"], list) for r in rows):
            rows = [
                {**r, "answer": r["answer"] if isinstance(r["answer"], list) else [r["answer"]]} for r in rows
            ]
        write_parquet(rows, out)
    else:
        write_jsonl(rows, out)
    log.info("wrote %s (%d hard problems)", out, len(rows))
    return [out]
