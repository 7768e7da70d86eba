"""`sparkle score`: batch scoring of JSONL files (or lm-eval samples_*.jsonl) outside verl.

Writes every input row plus score, acc, format_ok, extracted, timed_out and malformed (lists when a row
holds several responses, as lm-eval samples with repeats do), and prints a one-line JSON summary as the
last line of stdout. A response that is not a string, or a ground truth that is empty or not a string or
number, is scored as wrong and counted as malformed (the reason is in the row's malformed field).
--compare train,math_verify grades every response under two policies and reports where they disagree.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from sparkle.argtypes import positive_float, positive_int
from sparkle.errors import SparkleError, bad_input
from sparkle.prompts import PSS_MARKER
from sparkle.samples import sample_answers, sample_responses

CHUNK = 64


def register(subparsers: argparse._SubParsersAction) -> None:
    from sparkle.reward.grading import POLICIES
    from sparkle.reward.scores import REWARD_TYPES

    p = subparsers.add_parser(
        "score",
        help="score responses in a JSONL file with the SPARKLE reward",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("input", help="JSONL file: one response per row, or an lm-eval samples_*.jsonl file")
    p.add_argument("--output", "-o", required=True, help="output JSONL (input rows + scores, input order)")
    p.add_argument(
        "--reward-type",
        default="spk_h",
        choices=REWARD_TYPES,
        help="reward to compute: spk_h (hard format check, the training reward), spk_h_aug (same, with the "
        "augmented-prompt format check), spk_s (soft), spk_g (granular) or val (accuracy only); "
        "default spk_h",
    )
    p.add_argument(
        "--policy",
        default="train",
        choices=POLICIES,
        help="how answers are compared: train (the training grader), eval (the benchmark grader) or "
        "math_verify; default train",
    )
    p.add_argument(
        "--response-field",
        default="response",
        help="field with the response (dots go deeper; default: response)",
    )
    p.add_argument(
        "--answer-field",
        default="ground_truth",
        help="field with the ground truth, a string or a list (default: ground_truth)",
    )
    p.add_argument(
        "--prompt-field",
        default="prompt",
        help="field with the prompt; PSS rows are told by it (default: prompt)",
    )
    p.add_argument(
        "--level-field",
        default="thinking_level",
        help="field with the PSS thinking level (default: thinking_level)",
    )
    p.add_argument("--workers", type=positive_int, default=1, help="scoring processes (default 1)")
    p.add_argument(
        "--timeout",
        type=positive_float,
        default=None,
        help="seconds per symbolic comparison, above 0 (default 5)",
    )
    p.add_argument(
        "--compare",
        default=None,
        help="two policies, e.g. train,math_verify: audit disagreements (default: off)",
    )
    p.set_defaults(func=run, output_kinds={"output": "file"})


def _get(row: dict, path: str) -> Any:
    cur: Any = row
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur


def _prompt_text(prompt: Any) -> str:
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, list):  # chat messages: the last user turn carries the SPARKLE prompt
        for msg in reversed(prompt):
            if isinstance(msg, dict) and msg.get("role") == "user":
                return str(msg.get("content", ""))
    return ""


def malformed_reason(response: Any, truth: Any) -> str | None:
    """Why a (response, ground truth) pair cannot be graded right (it is scored as wrong), or None."""
    if not isinstance(response, str):
        return f"response is {type(response).__name__}, not a string"
    answers = truth if isinstance(truth, list) else [truth]
    if not answers:
        return "ground truth is an empty list"
    for answer in answers:
        if isinstance(answer, bool) or not isinstance(answer, (str, int, float)):
            return f"ground truth is {type(answer).__name__}, not a string or number"
        if isinstance(answer, str) and not answer.strip():
            return "ground truth is empty"
    return None


def _responses_and_truth(row: dict, lineno: int, path: Path, args: argparse.Namespace):
    """(responses, ground truth, is an lm-eval samples row) for one input row."""
    lm_eval = "resps" in row and args.response_field not in row
    if lm_eval:
        responses = sample_responses(row, f"{path}, line {lineno}")
        truth = _get(row, args.answer_field)
        if truth is None:
            truth = sample_answers(row) or None
    else:
        response = _get(row, args.response_field)
        if response is None:
            raise SparkleError(
                f"{path}, line {lineno}: no field {args.response_field!r}; pass --response-field NAME"
            )
        responses = response if isinstance(response, list) else [response]
        truth = _get(row, args.answer_field)
        if truth is None and isinstance(_get(row, "reward_model"), dict):
            truth = row["reward_model"].get("ground_truth")
    if truth is None:
        raise SparkleError(f"{path}, line {lineno}: no field {args.answer_field!r}; pass --answer-field NAME")
    if isinstance(truth, str) and truth.startswith("[") and lm_eval:
        try:
            truth = json.loads(truth)
        except json.JSONDecodeError:
            pass
    return responses, truth, lm_eval


def _thinking_level(row: dict, lineno: int, path: Path, args: argparse.Namespace) -> int:
    """The row's PSS thinking level (0 when it has none); at least 1 when its prompt is a PSS prompt."""
    level = _get(row, args.level_field)
    if level is None:
        level = _get(row, "extra_info.thinking_level")
    try:
        level = int(level) if level is not None else 0
    except (TypeError, ValueError) as e:
        raise SparkleError(
            f"{path}, line {lineno}: {args.level_field!r} is not an integer ({level!r})"
        ) from e
    if PSS_MARKER in _prompt_text(_get(row, args.prompt_field)):
        level = max(level, 1)
    return level


def _row_jobs(
    row: dict, lineno: int, path: Path, args: argparse.Namespace
) -> tuple[list[str], Any, int, bool]:
    """(responses, ground truth, thinking level, is a multi-response row) for one input row."""
    responses, truth, lm_eval = _responses_and_truth(row, lineno, path, args)
    level = _thinking_level(row, lineno, path, args)
    multi = lm_eval or isinstance(_get(row, args.response_field), list)
    return list(responses), truth, level, multi


def _score_chunk(
    jobs: list[tuple], reward_type: str, policies: list[str], timeout: float | None
) -> list[dict]:
    from sparkle.reward.scores import score_response

    out = []
    for response, truth, level in jobs:
        res: dict[str, Any] = {"malformed": malformed_reason(response, truth)}
        for i, policy in enumerate(policies):
            s = score_response(response, truth, reward_type, policy, thinking_level=level, timeout=timeout)
            if i == 0:
                res.update(
                    score=s.score,
                    acc=int(s.correct),
                    format_ok=s.format_ok,
                    extracted=s.extracted,
                    timed_out=s.timed_out,
                )
            res[f"acc_{policy}"] = int(s.correct)
        out.append(res)
    return out


def _ignore_sigint() -> None:
    """Pool initializer: Ctrl-C is the parent's to handle (the workers would each print a traceback)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _stop_pool(ex: ProcessPoolExecutor) -> None:
    """Cancel what is queued and end the worker processes at once (no waiting for running chunks)."""
    processes = list((getattr(ex, "_processes", None) or {}).values())
    ex.shutdown(wait=False, cancel_futures=True)
    for proc in processes:
        if proc.is_alive():
            proc.terminate()
    for proc in processes:
        proc.join(timeout=1)
    # Let the executor's manager thread close its wake-up pipe now: at interpreter exit concurrent.futures
    # wakes every such thread, and one closing the pipe at that moment prints a "Bad file descriptor" trace.
    manager = getattr(ex, "_executor_manager_thread", None)
    if manager is not None:
        manager.join(timeout=2)


def _policies(args: argparse.Namespace) -> list[str]:
    """The policies to grade under: --policy, or the two of --compare."""
    from sparkle.reward.grading import POLICIES

    if not args.compare:
        return [args.policy]
    policies = [p.strip() for p in args.compare.split(",") if p.strip()]
    if len(policies) != 2 or any(p not in POLICIES for p in policies):
        raise SparkleError(
            f"--compare takes two of {', '.join(POLICIES)} separated by a comma, got {args.compare!r}"
        )
    return policies


def _check_args(args: argparse.Namespace) -> None:
    if args.timeout is not None and not (math.isfinite(args.timeout) and args.timeout > 0):
        raise bad_input(
            f"--timeout {args.timeout}", "must be a positive number of seconds", "pass e.g. --timeout 5"
        )
    if args.workers < 1:
        raise SparkleError("--workers must be at least 1")


def _score_chunks(chunks: list[list[tuple]], args: argparse.Namespace, policies: list[str]) -> list[dict]:
    """Score every chunk, in this process (--workers 1) or in a pool of processes, results in input order."""
    from sparkle.progress import track

    results: list[dict] = []
    if args.workers == 1:
        for chunk in track(chunks, "scoring", total=len(chunks)):
            results.extend(_score_chunk(chunk, args.reward_type, policies, args.timeout))
        return results
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    ex = ProcessPoolExecutor(max_workers=args.workers, mp_context=ctx, initializer=_ignore_sigint)
    try:
        futures = [ex.submit(_score_chunk, c, args.reward_type, policies, args.timeout) for c in chunks]
        for fut in track(futures, "scoring", total=len(futures)):
            results.extend(fut.result())
    except BaseException:  # Ctrl-C or a failure: stop the workers now instead of finishing the queue
        _stop_pool(ex)
        raise
    ex.shutdown(wait=True)
    return results


def _merge_rows(
    rows: list[dict], owners: list[int], multi: list[bool], results: list[dict], keys: list[str]
) -> list[dict]:
    """Each input row with its scores: lists for a multi-response row, single values otherwise."""
    per_row: list[dict[str, list]] = [{k: [] for k in keys} for _ in rows]
    for owner, res in zip(owners, results, strict=True):
        for k in keys:
            per_row[owner][k].append(res[k])
    out_rows = []
    for row, vals, is_multi in zip(rows, per_row, multi, strict=True):
        merged = dict(row)
        for k in keys:
            merged[k] = vals[k] if is_multi else (vals[k][0] if vals[k] else None)
        out_rows.append(merged)
    return out_rows


def _summary(results: list[dict], policies: list[str], compare: bool, seconds: float) -> dict[str, Any]:
    """The one-line JSON summary: rates over all responses, and the disagreements under --compare."""
    n = len(results)
    summary: dict[str, Any] = {
        "n": n,
        "mean_score": round(sum(r["score"] for r in results) / n, 6) if n else 0.0,
        "accuracy": round(sum(r["acc"] for r in results) / n, 6) if n else 0.0,
        "format_rate": round(sum(r["format_ok"] for r in results) / n, 6) if n else 0.0,
        "timeouts": sum(int(r["timed_out"]) for r in results),
        "malformed": sum(1 for r in results if r["malformed"]),
        "seconds": round(seconds, 3),
    }
    if compare:
        a, b = policies
        only_a = sum(1 for r in results if r[f"acc_{a}"] and not r[f"acc_{b}"])
        only_b = sum(1 for r in results if r[f"acc_{b}"] and not r[f"acc_{a}"])
        summary["compare"] = {
            "policies": policies,
            "agree": n - only_a - only_b,
            f"only_{a}": only_a,
            f"only_{b}": only_b,
        }
    return summary


def _warn_malformed(path: Path, owners: list[int], results: list[dict]) -> None:
    bad = [(owner, r["malformed"]) for owner, r in zip(owners, results, strict=True) if r["malformed"]]
    if bad:
        import sys

        line, reason = bad[0]
        print(
            f"sparkle score: warning: {len(bad)} of {len(results)} responses were scored as wrong because their "
            f"input is malformed (first: {path}, line {line + 1}: {reason}); see the 'malformed' field of each row",
            file=sys.stderr,
        )


def run(args: argparse.Namespace) -> int:
    from sparkle.io import read_jsonl, write_jsonl_atomic

    path = Path(args.input)
    _check_args(args)
    rows = read_jsonl(path)
    if not rows:
        raise bad_input(path, "no rows (empty file)", "check the path, or write the responses first")
    policies = _policies(args)
    jobs, owners, multi = [], [], []
    for lineno, row in enumerate(rows, 1):
        responses, truth, level, is_multi = _row_jobs(row, lineno, path, args)
        multi.append(is_multi)
        for r in responses:
            jobs.append((r, truth, level))
            owners.append(lineno - 1)
    chunks = [jobs[i : i + CHUNK] for i in range(0, len(jobs), CHUNK)]
    start = time.perf_counter()
    results = _score_chunks(chunks, args, policies)
    seconds = time.perf_counter() - start
    keys = ["score", "acc", "format_ok", "extracted", "timed_out", "malformed"] + (
        [f"acc_{p}" for p in policies] if args.compare else []
    )
    write_jsonl_atomic(args.output, _merge_rows(rows, owners, multi, results, keys))
    print(json.dumps(_summary(results, policies, bool(args.compare), seconds)))
    _warn_malformed(path, owners, results)
    return 0
