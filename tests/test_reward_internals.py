"""Reward internals: the bounded caches, one policy check for every entry point, and the worker's
allow-list (the guard-test functions are not served in production)."""

from __future__ import annotations

import pytest

from sparkle.errors import SparkleError
from sparkle.reward.lru import LRU
from sparkle.reward.worker import FUNCTIONS, TEST_FUNCTIONS, TEST_WORKERS_ENV, allowed_functions


def test_lru_keeps_the_most_recently_used_entries() -> None:
    cache = LRU(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # "a" is now the most recent
    cache.put("c", 3)  # evicts "b", the least recently used
    assert ("b" in cache, cache.get("a"), cache.get("c"), len(cache)) == (False, 1, 3, 2)
    assert cache.get("missing", "default") == "default"
    with pytest.raises(ValueError):
        LRU(0)


@pytest.mark.parametrize(
    "call",
    [
        lambda: __import__("sparkle.reward", fromlist=["x"]).grade("\\boxed{1}", "1", policy="strict"),
        lambda: __import__("sparkle.reward", fromlist=["x"]).answers_match("1", "1", policy="strict"),
        lambda: __import__("sparkle.reward", fromlist=["x"]).score_response(
            "\\boxed{1}", "1", policy="strict"
        ),
        lambda: __import__("sparkle.reward", fromlist=["x"]).compute_score(
            "x", "\\boxed{1}", "1", policy="strict"
        ),
    ],
    ids=["grade", "answers_match", "score_response", "compute_score"],
)
def test_every_entry_point_refuses_an_unknown_policy_the_same_way(call) -> None:
    with pytest.raises(
        SparkleError, match="unknown grading policy 'strict': use one of train, eval, math_verify"
    ):
        call()


def test_production_workers_serve_only_the_grading_functions() -> None:
    production = allowed_functions({})
    assert set(production) == set(FUNCTIONS) and not set(production) & set(TEST_FUNCTIONS)
    assert set(allowed_functions({TEST_WORKERS_ENV: "1"})) == set(FUNCTIONS) | set(TEST_FUNCTIONS)


def test_a_production_pool_refuses_a_test_function(monkeypatch: pytest.MonkeyPatch) -> None:
    from sparkle.reward.guard import GuardedPool

    monkeypatch.delenv(TEST_WORKERS_ENV)
    pool = GuardedPool(workers=1)
    try:
        value, timed_out = pool.call("echo_worker", ("hi",), timeout=60)
        assert (value, timed_out) != ("hi", False)  # the worker answered with an error, not the echo
    finally:
        pool.close()
