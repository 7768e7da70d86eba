"""``sparkle score``: batch scoring of JSONL files (or lm-eval ``samples_*.jsonl``) outside verl.

Writes every input row plus ``score``, ``acc``, ``format_ok``, ``extracted``, ``timed_out`` (lists when a
row holds several responses, as lm-eval samples with repeats do), and prints a one-line JSON summary as
the last line of stdout. ``--compare train,math_verify`` grades every response under two policies and
reports where they disagree.
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from sparkle.errors import SparkleError
from sparkle.prompts import PSS_MARKER

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
    p.add_argument("--reward-type", default="spk_h", choices=REWARD_TYPES)
    p.add_argument("--policy", default="train", choices=POLICIES)
    p.add_argument("--response-field", default="response", help="field with the response (dots go deeper)")
    p.add_argument("--answer-field", default="ground_truth", help="field with the ground truth (str or list)")
    p.add_argument("--prompt-field", default="prompt", help="field with the prompt (PSS rows are told by it)")
    p.add_argument("--level-field", default="thinking_level", help="field with the PSS thinking level")
    p.add_argument("--workers", type=int, default=1, help="scoring processes (default 1)")
    p.add_argument("--timeout", type=float, default=None, help="seconds per symbolic comparison (default 5)")
    p.add_argument(
        "--compare", default=None, help="two policies, e.g. train,math_verify: audit disagreements"
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


def _row_jobs(
    row: dict, lineno: int, path: Path, args: argparse.Namespace
) -> tuple[list[str], Any, int, bool]:
    """(responses, ground truth, thinking level, is a multi-response row) for one input row."""
    lm_eval = "resps" in row and args.response_field not in row
    if lm_eval:
        resps = row.get("resps") or []
        responses = [r for group in resps for r in (group if isinstance(group, list) else [group])]
        truth = _get(row, args.answer_field)
        if truth is None:
            truth = row.get("target")
            if truth is None and isinstance(row.get("doc"), dict):
                truth = row["doc"].get("answer")
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
    multi = lm_eval or isinstance(_get(row, args.response_field), list)
    return [str(r) for r in responses], truth, level, multi


def _score_chunk(
    jobs: list[tuple], reward_type: str, policies: list[str], timeout: float | None
) -> list[dict]:
    from sparkle.reward.scores import score_response

    out = []
    for response, truth, level in jobs:
        res: dict[str, Any] = {}
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


def run(args: argparse.Namespace) -> int:
    from sparkle.io import read_jsonl, write_jsonl_atomic
    from sparkle.progress import track
    from sparkle.reward.grading import POLICIES

    path = Path(args.input)
    rows = read_jsonl(path)
    policies = [args.policy]
    if args.compare:
        policies = [p.strip() for p in args.compare.split(",") if p.strip()]
        if len(policies) != 2 or any(p not in POLICIES for p in policies):
            raise SparkleError(
                f"--compare takes two of {', '.join(POLICIES)} separated by a comma, got {args.compare!r}"
            )
    if args.workers < 1:
        raise SparkleError("--workers must be at least 1")
    jobs, owners, multi = [], [], []
    for lineno, row in enumerate(rows, 1):
        responses, truth, level, is_multi = _row_jobs(row, lineno, path, args)
        multi.append(is_multi)
        for r in responses:
            jobs.append((r, truth, level))
            owners.append(lineno - 1)
    chunks = [jobs[i : i + CHUNK] for i in range(0, len(jobs), CHUNK)]
    start = time.perf_counter()
    results: list[dict] = []
    if args.workers == 1:
        for chunk in track(chunks, "scoring", total=len(chunks)):
            results.extend(_score_chunk(chunk, args.reward_type, policies, args.timeout))
    else:
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=args.workers, mp_context=ctx) as ex:
            futures = [ex.submit(_score_chunk, c, args.reward_type, policies, args.timeout) for c in chunks]
            for fut in track(futures, "scoring", total=len(futures)):
                results.extend(fut.result())
    seconds = time.perf_counter() - start
    keys = ["score", "acc", "format_ok", "extracted", "timed_out"] + (
        [f"acc_{p}" for p in policies] if args.compare else []
    )
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
    write_jsonl_atomic(args.output, out_rows)
    n = len(results)
    summary: dict[str, Any] = {
        "n": n,
        "mean_score": round(sum(r["score"] for r in results) / n, 6) if n else 0.0,
        "accuracy": round(sum(r["acc"] for r in results) / n, 6) if n else 0.0,
        "format_rate": round(sum(r["format_ok"] for r in results) / n, 6) if n else 0.0,
        "timeouts": sum(int(r["timed_out"]) for r in results),
        "seconds": round(seconds, 3),
    }
    if args.compare:
        a, b = policies
        only_a = sum(1 for r in results if r[f"acc_{a}"] and not r[f"acc_{b}"])
        only_b = sum(1 for r in results if r[f"acc_{b}"] and not r[f"acc_{a}"])
        summary["compare"] = {
            "policies": policies,
            "agree": n - only_a - only_b,
            f"only_{a}": only_a,
            f"only_{b}": only_b,
        }
    print(json.dumps(summary))
    return 0
