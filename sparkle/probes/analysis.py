"""The three SPARKLE analyses on per-document correctness records (`sparkle.probes.records`).

For each model, benchmark (and ``all`` = every benchmark pooled) and difficulty level (and ``all``):

- ``avg@k`` of the vanilla, plan and knowledge conditions: mean over problems of the fraction of the k
  samples graded correct (`sparkle.evaluate.metrics.avg_at_k` per problem);
- ``delta`` of plan / knowledge: with minus without, on the problems present in both conditions;
- ``subproblem_success``: a problem counts for sample j when every subproblem of its chain is right in
  sample j; mean over problems and samples. Its ``delta`` is success minus the original problems' avg@k;
- ``position_{i}_accuracy``: accuracy of the i-th subproblem of the chains that have one (where chains break).

Every value comes with a percentile bootstrap confidence interval over problems; for deltas the bootstrap
resamples problems and keeps each problem's two measurements together (paired). Values are percentages.
"""

from __future__ import annotations

import zlib
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from sparkle.log import get_logger
from sparkle.probes.records import DocRecord
from sparkle.registry import BENCHMARKS

log = get_logger(__name__)

ALL = "all"
HINT_CONDITIONS = ("plan", "knowledge")
DEFAULT_BOOTSTRAP = 2000
DEFAULT_CONFIDENCE = 0.95


@dataclass(frozen=True)
class ProbeRow:
    """One line of probes.csv. ``value`` / ``ci_low`` / ``ci_high`` are percentages."""

    model: str
    benchmark: str
    condition: str
    level: str
    metric: str
    value: float
    ci_low: float
    ci_high: float
    n: int  # problems behind the value


def bootstrap_mean_ci(
    values: np.ndarray,
    iterations: int = DEFAULT_BOOTSTRAP,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean of per-problem values (resampling problems with replacement).

    Pass per-problem differences to get the paired CI of a delta."""
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        return float("nan"), float("nan")
    if values.size == 1 or iterations <= 0:
        mean = float(values.mean())
        return mean, mean
    rng = np.random.default_rng(seed)
    means = np.empty(iterations)
    chunk = max(1, 2_000_000 // values.size)
    for start in range(0, iterations, chunk):
        stop = min(iterations, start + chunk)
        idx = rng.integers(0, values.size, size=(stop - start, values.size))
        means[start:stop] = values[idx].mean(axis=1)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [alpha, 1.0 - alpha])
    return float(low), float(high)


@dataclass
class _Problem:
    level: int | None
    correct: tuple[bool, ...] = ()
    chain: dict[int, tuple[bool, ...]] | None = None
    total: int | None = None


def _model_name(record: DocRecord) -> str:
    return record.model if record.family == "sparkle" else f"{record.model} [{record.family}]"


def _index(records: Iterable[DocRecord]) -> dict[tuple[str, str, str], dict[str, _Problem]]:
    """(model, benchmark, condition) -> problem id -> the problem's correctness (or its chain)."""
    table: dict[tuple[str, str, str], dict[str, _Problem]] = defaultdict(dict)
    duplicates = 0
    for r in records:
        problems = table[(_model_name(r), r.benchmark, r.condition)]
        if r.condition == "subproblem":
            problem = problems.setdefault(r.problem_id, _Problem(r.level, chain={}, total=r.total))
            if r.position in problem.chain:
                duplicates += 1
            problem.chain[int(r.position or 0)] = r.correct
        else:
            duplicates += r.problem_id in problems
            problems[r.problem_id] = _Problem(r.level, r.correct)
    if duplicates:
        log.warning("%d probe documents appear more than once; the last one read is used", duplicates)
    return table


def _accuracy(correct: tuple[bool, ...]) -> float:
    from sparkle.evaluate.metrics import avg_at_k

    return float(avg_at_k(list(correct)))


def _complete_chain(problem: _Problem) -> list[tuple[bool, ...]] | None:
    chain = problem.chain or {}
    total = problem.total or len(chain)
    if total == 0 or sorted(chain) != list(range(1, total + 1)):
        return None
    return [chain[i] for i in range(1, total + 1)]


def _chain_success(chain: list[tuple[bool, ...]]) -> float:
    k = min(len(c) for c in chain)
    if k == 0:
        return 0.0
    return sum(all(c[j] for c in chain) for j in range(k)) / k


def _k_of(problems: dict[str, _Problem]) -> int:
    lengths = Counter(len(p.correct) for p in problems.values() if p.correct)
    for p in problems.values():
        for c in (p.chain or {}).values():
            lengths[len(c)] += 1
    return lengths.most_common(1)[0][0] if lengths else 0


class _Builder:
    def __init__(self, iterations: int, confidence: float, seed: int):
        self.iterations, self.confidence, self.seed = iterations, confidence, seed
        self.rows: list[ProbeRow] = []

    def add(self, key: tuple[str, str, str, str, str], values: list[float]) -> None:
        if not values:
            return
        arr = np.asarray(values, dtype=float)
        seed = zlib.crc32("|".join(key).encode()) ^ self.seed
        low, high = bootstrap_mean_ci(arr, self.iterations, self.confidence, seed)
        model, benchmark, condition, level, metric = key
        self.rows.append(
            ProbeRow(
                model,
                benchmark,
                condition,
                level,
                metric,
                100 * float(arr.mean()),
                100 * low,
                100 * high,
                arr.size,
            )
        )


def _scopes(problems_by_bench: dict[str, dict[str, _Problem]]) -> dict[tuple[str, str], dict[str, _Problem]]:
    """(benchmark or all, level or all) -> the problems in that scope (ids prefixed by benchmark when pooled)."""
    scopes: dict[tuple[str, str], dict[str, _Problem]] = defaultdict(dict)
    for benchmark, problems in problems_by_bench.items():
        for pid, problem in problems.items():
            levels = [ALL] + ([str(problem.level)] if problem.level is not None else [])
            for level in levels:
                scopes[(benchmark, level)][pid] = problem
                scopes[(ALL, level)][f"{benchmark}/{pid}"] = problem
    return scopes


def _level_order(level: str) -> tuple[int, int]:
    return (0, 0) if level == ALL else (1, int(level))


def _bench_order(benchmark: str) -> int:
    return BENCHMARKS.index(benchmark) if benchmark in BENCHMARKS else len(BENCHMARKS)


def analyze(
    records: Iterable[DocRecord],
    iterations: int = DEFAULT_BOOTSTRAP,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = 0,
) -> list[ProbeRow]:
    """Every probes.csv row for ``records`` (see the module docstring), sorted by model, benchmark, level."""
    table = _index(records)
    by_model: dict[str, dict[str, dict[str, dict[str, _Problem]]]] = defaultdict(lambda: defaultdict(dict))
    for (model, benchmark, condition), problems in table.items():
        by_model[model][condition][benchmark] = problems
    out = _Builder(iterations, confidence, seed)
    for model in sorted(by_model):
        conditions = by_model[model]
        k = max((_k_of(p) for c in conditions.values() for p in c.values()), default=0)
        avg = f"avg@{k}"
        scoped = {condition: _scopes(benches) for condition, benches in conditions.items()}
        keys = sorted(
            {key for s in scoped.values() for key in s},
            key=lambda x: (_bench_order(x[0]), _level_order(x[1])),
        )
        for benchmark, level in keys:
            vanilla = scoped.get("vanilla", {}).get((benchmark, level), {})
            base = {pid: _accuracy(p.correct) for pid, p in vanilla.items()}
            out.add((model, benchmark, "vanilla", level, avg), list(base.values()))
            for condition in HINT_CONDITIONS:
                problems = scoped.get(condition, {}).get((benchmark, level), {})
                hinted = {pid: _accuracy(p.correct) for pid, p in problems.items()}
                out.add((model, benchmark, condition, level, avg), list(hinted.values()))
                paired = sorted(set(hinted) & set(base))
                out.add((model, benchmark, condition, level, "delta"), [hinted[p] - base[p] for p in paired])
            chains = scoped.get("subproblem", {}).get((benchmark, level), {})
            complete = {pid: c for pid, p in chains.items() if (c := _complete_chain(p)) is not None}
            if len(complete) < len(chains):
                log.warning(
                    "%s %s level %s: %d of %d subproblem chains are incomplete and left out of subproblem_success",
                    model,
                    benchmark,
                    level,
                    len(chains) - len(complete),
                    len(chains),
                )
            success = {pid: _chain_success(chain) for pid, chain in complete.items()}
            out.add((model, benchmark, "subproblem", level, "subproblem_success"), list(success.values()))
            paired = sorted(set(success) & set(base))
            out.add((model, benchmark, "subproblem", level, "delta"), [success[p] - base[p] for p in paired])
            longest = max((max(p.chain or {0: ()}) for p in chains.values()), default=0)
            for i in range(1, longest + 1):
                values = [
                    _accuracy(p.chain[i]) for p in chains.values() if p.chain and i in p.chain and p.chain[i]
                ]
                out.add((model, benchmark, "subproblem", level, f"position_{i}_accuracy"), values)
    return out.rows
