"""Speed of the SPARKLE reward on ../shared/bench/reward_corpus.jsonl (issue 3), as ratios measured in
one run on this machine:

1. ``spk_h`` / ``train`` policy vs calling ``math_verify.parse``/``verify`` directly (target ≥ 5×, p99 ≤ 10 ms);
2. the ``math_verify`` policy vs plain math-verify (target ≥ 5×, p99 ≤ 10 ms), ``--runs`` times in a row,
   with the median and the spread of the ratio;
3. two scoring processes vs one (target ≥ 1.7×; ``--skip-processes`` leaves it out);
4. hostile inputs, each in a fresh process (cold: the first call after import), timed from the call:
   every call returns within the time limit + 0.5 s.

Usage: ``python benchmarks/bench_reward.py [--corpus PATH] [--limit N] [--timeout S] [--runs K]``
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "bench" / "reward_corpus.jsonl"

HOSTILE = {
    "tower of powers (latex)": "5^{5^{5^{5^5}}}",
    "tower of powers (python)": "9**9**9**9",
    "tower of powers (caret)": "9^9^9^9",
    "huge power": "2**(2**100)",
    "huge factorial": "100000000!",
    "factorial of a power": "(10^10)!",
    "5,000 nested parentheses": "(" * 5000 + "1" + ")" * 5000,
    "5,000 nested braces": "{" * 5000 + "1" + "}" * 5000,
    "deep fractions": "\\frac{1}{" * 300 + "2" + "}" * 300,
    "100k-character sum": "1+" * 50000 + "1",
    "100k digits": "7" * 100000,
    "power tower of symbols": "x**x**x**x**x",
}


def _load(path: Path, limit: int | None) -> list[dict]:
    rows = [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]
    return rows[:limit] if limit else rows


def _plain_math_verify(rows: list[dict]) -> tuple[list[bool], float]:
    from math_verify import parse, verify

    from sparkle.reward.mathverify import math_verify_configs

    gold_config, pred_config = math_verify_configs()  # gold in $...$; prediction: last \boxed first
    verdicts = []
    start = time.perf_counter()
    for r in rows:
        gold = parse(f"${r['ground_truth']}$", gold_config)
        verdicts.append(bool(verify(gold, parse(r["response"], pred_config))))
    return verdicts, time.perf_counter() - start


def _spk_h(rows: list[dict]) -> tuple[list[float], float]:
    from sparkle.reward import compute_score

    latencies = []
    start = time.perf_counter()
    for r in rows:
        t = time.perf_counter()
        compute_score("bench", r["response"], r["ground_truth"], reward_type="spk_h", policy="train")
        latencies.append(time.perf_counter() - t)
    return latencies, time.perf_counter() - start


def _mv_policy(rows: list[dict]) -> tuple[list[bool], list[float], float]:
    from sparkle.reward import grade

    verdicts, latencies = [], []
    start = time.perf_counter()
    for r in rows:
        t = time.perf_counter()
        verdicts.append(grade(r["response"], r["ground_truth"], "math_verify").correct)
        latencies.append(time.perf_counter() - t)
    return verdicts, latencies, time.perf_counter() - start


def _fresh_verdict_cache() -> None:
    """Forget the verdicts of earlier runs, so every run pays for its math-verify calls."""
    from sparkle.reward import grading

    grading._VERDICTS.clear()


_ROWS: list[tuple[str, str]] = []


def _init_scorer(corpus: str, limit: int | None, repeat: int) -> None:
    """Each scoring process reads the corpus itself, so only row ranges cross the process boundary."""
    from sparkle.reward import compute_score
    from sparkle.reward.guard import default_pool

    _ROWS.extend((r["response"], r["ground_truth"]) for r in _load(Path(corpus), limit) * repeat)
    default_pool().prestart()
    compute_score("warm", "\\boxed{k+k+2}", "2k+2")  # first in-process + worker comparison


def _warm(_: int) -> int:
    return len(_ROWS)


def _score_range(bounds: tuple[int, int]) -> int:
    from sparkle.reward import compute_score

    for response, gt in _ROWS[bounds[0] : bounds[1]]:
        compute_score("bench", response, gt, reward_type="spk_h", policy="train")
    return bounds[1] - bounds[0]


def _processes(corpus: Path, limit: int | None, repeat: int, workers: int) -> tuple[int, float]:
    """Seconds for ``workers`` scoring processes to score the corpus ``repeat`` times (after warm-up)."""
    n = len(_load(corpus, limit)) * repeat
    ranges = [(i, min(n, i + 256)) for i in range(0, n, 256)]
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        workers, mp_context=ctx, initializer=_init_scorer, initargs=(str(corpus), limit, repeat)
    ) as ex:
        list(ex.map(_warm, range(workers * 4)))
        start = time.perf_counter()
        done = sum(ex.map(_score_range, ranges))
        return done, time.perf_counter() - start


_COLD_SCRIPT = """
import sys, time
from sparkle.reward import compute_score
answer, policy, limit = sys.argv[1], sys.argv[2], float(sys.argv[3])
start = time.perf_counter()
out = compute_score("bench", "<answer>\\\\boxed{" + answer + "}</answer>", "3", policy=policy, timeout=limit)
print(time.perf_counter() - start, out["timed_out"])
"""


def hostile_cold(answer: str, policy: str, timeout: float) -> tuple[float, bool]:
    """Seconds from the call to the answer of ``compute_score(..., timeout=timeout)`` in a fresh process
    (the first call after import), and whether it timed out."""
    out = subprocess.run(
        [sys.executable, "-c", _COLD_SCRIPT, answer, policy, str(timeout)],
        capture_output=True,
        text=True,
        timeout=timeout + 120,
        check=True,
    )
    seconds, timed_out = out.stdout.split()[-2:]
    return float(seconds), timed_out == "1.0"


def _hostile(timeout: float) -> list[tuple[str, str, float, bool]]:
    out = []
    for policy in ("train", "eval", "math_verify"):
        for name, answer in HOSTILE.items():
            seconds, timed_out = hostile_cold(answer, policy, timeout)
            out.append((policy, name, seconds, timed_out))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--limit", type=int, default=None, help="use the first N rows only")
    parser.add_argument("--timeout", type=float, default=2.0, help="time limit for the hostile inputs")
    parser.add_argument(
        "--runs", type=int, default=3, help="math_verify policy vs plain runs (median, spread)"
    )
    parser.add_argument("--skip-processes", action="store_true", help="leave out the 2-process measurement")
    parser.add_argument("--skip-hostile", action="store_true", help="leave out the hostile inputs")
    args = parser.parse_args()
    rows = _load(args.corpus, args.limit)
    n = len(rows)
    print(f"corpus: {args.corpus} ({n} responses)")

    from sparkle.reward.guard import default_pool

    default_pool().prestart()  # worker boot is not part of the steady state
    _spk_h(rows[:50])
    _mv_policy(rows[:20])

    mv_verdicts, mv_s = _plain_math_verify(rows)
    mv_rate = n / mv_s
    print(f"plain math_verify parse/verify : {mv_rate:8.1f} responses/s ({mv_s:.2f} s)")

    lat, spk_s = _spk_h(rows)
    spk_rate = n / spk_s
    lat_ms = sorted(x * 1000 for x in lat)
    p50, p99 = statistics.median(lat_ms), lat_ms[min(n - 1, int(0.99 * n))]
    print(
        f"spk_h, train policy            : {spk_rate:8.1f} responses/s  ratio {spk_rate / mv_rate:5.2f}x (target >= 5x)"
        f"  p50 {p50:.2f} ms  p99 {p99:.2f} ms (target <= 10 ms)  max {lat_ms[-1]:.1f} ms"
    )

    # Plain math-verify and the policy alternate on chunks of the corpus, so that both see the same load
    # of a shared machine; every run starts with an empty verdict cache.
    ratios, chunk = [], 256
    for run in range(max(1, args.runs)):
        _fresh_verdict_cache()
        plain_s = pol_s = 0.0
        mv_verdicts, pol_verdicts, pol_lat = [], [], []
        for i in range(0, n, chunk):
            v, sec = _plain_math_verify(rows[i : i + chunk])
            mv_verdicts += v
            plain_s += sec
            v, lat, sec = _mv_policy(rows[i : i + chunk])
            pol_verdicts += v
            pol_lat += lat
            pol_s += sec
        ratios.append(plain_s / pol_s)
        pol_ms = sorted(x * 1000 for x in pol_lat)
        same = sum(a == b for a, b in zip(pol_verdicts, mv_verdicts, strict=True))
        print(
            f"math_verify policy (run {run + 1})     : {n / pol_s:8.1f} responses/s vs plain {n / plain_s:.1f}"
            f"  ratio {ratios[-1]:5.2f}x (target >= 5x)  p99 {pol_ms[min(n - 1, int(0.99 * n))]:.2f} ms"
            f" (target <= 10 ms)  same verdicts {same}/{n} = {100 * same / n:.2f}%"
        )
    print(
        f"math_verify policy / plain     : median {statistics.median(ratios):.2f}x"
        f"  spread {min(ratios):.2f}-{max(ratios):.2f}x over {len(ratios)} runs"
    )

    if args.skip_processes:
        return _hostile_report(args)
    one_s = min(_processes(args.corpus, args.limit, 1, 1)[1] for _ in range(3))
    two_s = min(_processes(args.corpus, args.limit, 1, 2)[1] for _ in range(3))
    print(
        f"spk_h, 2 processes             : {n / two_s:8.1f} responses/s vs {n / one_s:.1f} with 1"
        f"  ratio {one_s / two_s:5.2f}x (target >= 1.7x)"
    )

    _hostile_report(args)


def _hostile_report(args: argparse.Namespace) -> None:
    if args.skip_hostile:
        return
    results = _hostile(args.timeout)
    worst = max(r[2] for r in results)
    for policy, name, seconds, timed_out in results:
        print(f"  hostile {policy:11s} {name:26s} {seconds:6.2f} s{'  (timed out)' if timed_out else ''}")
    print(
        f"hostile inputs (cold processes): worst {worst:.2f} s with a {args.timeout:.1f} s limit"
        f" (target <= {args.timeout + 0.5:.1f} s): {'OK' if worst <= args.timeout + 0.5 else 'OVER'}"
    )


if __name__ == "__main__":
    main()
