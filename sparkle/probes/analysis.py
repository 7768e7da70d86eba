"""The three SPARKLE analyses on per-document correctness records (`sparkle.probes.records`).

For each model, benchmark (and ``all`` = every benchmark pooled) and difficulty level (and ``all``):

- ``avg@k`` of the vanilla, plan and knowledge conditions: mean over problems of the fraction of the k
  samples graded correct (`sparkle.evaluate.metrics.avg_at_k` per problem);
- ``delta`` of plan / knowledge: with minus without, on the problems present in both conditions (the
  pairs), next to ``paired_without`` and ``paired_with``: the two means over exactly those pairs, so
  ``delta = paired_with - paired_without`` always holds;
- ``subproblem_success``: a problem counts for sample j when every subproblem of its chain is right in
  sample j; mean over problems and samples. Its ``delta`` is success minus the original problems' avg@k
  over the pairs, with ``paired_without`` (original avg@k) and ``paired_with`` (success) beside it;
- ``position_{i}_accuracy``: accuracy of the i-th subproblem of the chains that have one (where chains break).

Every value comes with a percentile bootstrap confidence interval over problems; for deltas the bootstrap
resamples problems and keeps each problem's two measurements together (paired). A value from a single
problem has no interval, and values from fewer than `MIN_BOOTSTRAP_N` problems are flagged (`ProbeRow.note`).
The bootstrap resamples problems sorted by their id, and its seed comes from the row's key, so the result
does not depend on the order of the inputs. Values are percentages.
"""

from __future__ import annotations

import argparse
import math
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sparkle.errors import SparkleError
from sparkle.log import get_logger
from sparkle.registry import BENCHMARKS

if TYPE_CHECKING:  # numpy and the records module load on use: the CLI imports this module for its options
    import numpy as np

    from sparkle.probes.records import DocRecord

log = get_logger(__name__)

ALL = "all"
HINT_CONDITIONS = ("plan", "knowledge")
DEFAULT_BOOTSTRAP = 2000
DEFAULT_CONFIDENCE = 0.95
# Below this many problems a percentile bootstrap interval is too narrow (its coverage falls well short of
# the nominal level: it cannot see more spread than the few values show), so such rows are flagged.
MIN_BOOTSTRAP_N = 10
NOTE_SINGLE = "one problem: no interval"
NOTE_SMALL = f"fewer than {MIN_BOOTSTRAP_N} problems: interval too narrow to trust"
NOTE_OFF = "no interval (--bootstrap 0)"


@dataclass(frozen=True)
class ProbeRow:
    """One line of probes.csv. ``value`` / ``ci_low`` / ``ci_high`` are percentages; the interval is None
    where there is none (one problem, or no bootstrap)."""

    model: str
    benchmark: str
    condition: str
    level: str
    metric: str
    value: float
    ci_low: float | None
    ci_high: float | None
    n: int  # problems behind the value (for delta / paired_*: the pairs)

    @property
    def note(self) -> str:
        """Why the row has no interval, or why its interval needs care; "" for a normal row."""
        if self.n == 1:
            return NOTE_SINGLE
        if self.ci_low is None:
            return NOTE_OFF
        if self.n < MIN_BOOTSTRAP_N:
            return NOTE_SMALL
        return ""


def check_bootstrap(iterations: int) -> int:
    """The number of bootstrap resamples: 0 (no intervals) or more; anything else is refused."""
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 0:
        raise SparkleError(
            f"--bootstrap {iterations}: the number of bootstrap resamples must be a whole number ≥ 0 "
            f"(0: no intervals; default {DEFAULT_BOOTSTRAP})"
        )
    return iterations


def check_confidence(confidence: float) -> float:
    """The confidence level of the intervals: a fraction strictly between 0 and 1 (0.95 for 95 %)."""
    if not isinstance(confidence, (int, float)) or not math.isfinite(confidence) or not 0 < confidence < 1:
        raise SparkleError(
            f"--confidence {confidence}: the confidence level must lie strictly between 0 and 1 "
            f"(e.g. {DEFAULT_CONFIDENCE} for a 95% interval)"
        )
    return float(confidence)


def _option_type(text: str, parse, check, expected: str):
    """``check(parse(text))``, or the argparse error "<text> is not <expected>"."""
    try:
        return check(parse(text))
    except (ValueError, SparkleError) as e:
        raise argparse.ArgumentTypeError(f"{text!r} is not {expected}") from e


def bootstrap_arg(text: str) -> int:
    """argparse type of ``--bootstrap``."""
    expected = f"a number of resamples ≥ 0 (0: no intervals; default {DEFAULT_BOOTSTRAP})"
    return _option_type(text, int, check_bootstrap, expected)


def confidence_arg(text: str) -> float:
    """argparse type of ``--confidence``."""
    expected = f"a confidence level strictly between 0 and 1 (e.g. {DEFAULT_CONFIDENCE})"
    return _option_type(text, float, check_confidence, expected)


def confidence_label(confidence: float) -> str:
    """``0.95`` → ``95%``, ``0.975`` → ``97.5%``."""
    return f"{100 * confidence:.10g}%"


def bootstrap_mean_ci(
    values: np.ndarray | list[float],
    iterations: int = DEFAULT_BOOTSTRAP,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean of per-problem values (resampling problems with replacement).

    Pass per-problem differences to get the paired CI of a delta. There is no interval (NaN, NaN) for
    fewer than two values or no resamples: one problem says nothing about the spread. The result depends on
    the order of ``values``: pass them in a stable order (`analyze` sorts them by problem id)."""
    import numpy as np

    values = np.asarray(values, dtype=float)
    if values.size < 2 or iterations <= 0:
        return float("nan"), float("nan")
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


def _preference(record: DocRecord) -> tuple:
    """Which of two records of the same document is kept: the one lm-eval listed first (smallest doc_id),
    then the smaller correctness pattern, so the choice does not depend on the order of the inputs."""
    return (record.doc_id is None, record.doc_id or 0, record.correct, record.level or 0, record.total or 0)


def _index(records: Iterable[DocRecord]) -> dict[tuple[str, str, str], dict[str, _Problem]]:
    """(model, benchmark, condition) -> problem id -> the problem's correctness (or its chain)."""
    unique: dict[tuple, DocRecord] = {}
    duplicates = 0
    for r in records:
        key = (
            _model_name(r),
            r.benchmark,
            r.condition,
            r.problem_id,
            r.position if r.condition == "subproblem" else None,
        )
        kept = unique.get(key)
        if kept is not None:
            duplicates += 1
            if _preference(r) >= _preference(kept):
                continue
        unique[key] = r
    if duplicates:
        log.warning(
            "%d probe documents appear more than once; each is counted once (the copy lm-eval listed first)",
            duplicates,
        )
    table: dict[tuple[str, str, str], dict[str, _Problem]] = defaultdict(dict)
    for (model, benchmark, condition, pid, position), r in sorted(unique.items(), key=lambda kv: repr(kv[0])):
        problems = table[(model, benchmark, condition)]
        if condition == "subproblem":
            problem = problems.setdefault(pid, _Problem(r.level, chain={}, total=r.total))
            problem.chain[int(position or 0)] = r.correct
        else:
            problems[pid] = _Problem(r.level, r.correct)
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
    return max(lengths, key=lambda k: (lengths[k], k)) if lengths else 0


class _Builder:
    def __init__(self, iterations: int, confidence: float, seed: int):
        self.iterations, self.confidence, self.seed = iterations, confidence, seed
        self.rows: list[ProbeRow] = []

    def add(self, key: tuple[str, str, str, str, str], values: dict[str, float]) -> None:
        """One row from per-problem values; the bootstrap sees them sorted by problem id (order-free)."""
        if not values:
            return
        import numpy as np

        arr = np.asarray([values[pid] for pid in sorted(values)], dtype=float)
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
                None if math.isnan(low) else 100 * low,
                None if math.isnan(high) else 100 * high,
                arr.size,
            )
        )

    def add_paired(self, key: tuple[str, str, str, str], without: dict[str, float], with_: dict[str, float]):
        """``paired_without``, ``paired_with`` and ``delta`` over the problems present in both."""
        pairs = set(without) & set(with_)
        self.add((*key, "paired_without"), {p: without[p] for p in pairs})
        self.add((*key, "paired_with"), {p: with_[p] for p in pairs})
        self.add((*key, "delta"), {p: with_[p] - without[p] for p in pairs})


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
    """Every probes.csv row for ``records`` (see the module docstring), sorted by model, benchmark, level.

    The rows do not depend on the order of ``records``."""
    check_bootstrap(iterations)
    check_confidence(confidence)
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
            out.add((model, benchmark, "vanilla", level, avg), base)
            for condition in HINT_CONDITIONS:
                problems = scoped.get(condition, {}).get((benchmark, level), {})
                hinted = {pid: _accuracy(p.correct) for pid, p in problems.items()}
                out.add((model, benchmark, condition, level, avg), hinted)
                out.add_paired((model, benchmark, condition, level), base, hinted)
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
            out.add((model, benchmark, "subproblem", level, "subproblem_success"), success)
            out.add_paired((model, benchmark, "subproblem", level), base, success)
            longest = max((max(p.chain or {0: ()}) for p in chains.values()), default=0)
            for i in range(1, longest + 1):
                values = {
                    pid: _accuracy(p.chain[i])
                    for pid, p in chains.items()
                    if p.chain and i in p.chain and p.chain[i]
                }
                out.add((model, benchmark, "subproblem", level, f"position_{i}_accuracy"), values)
    return out.rows
