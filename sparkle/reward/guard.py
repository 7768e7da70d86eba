"""The guarded worker pool: every symbolic comparison runs in a worker process under a hard time limit.

A worker that overruns is killed and replaced by pebble; the call then counts as "not equal" and bumps
a counter, it never raises or hangs. The pool starts lazily (spawn context, so it is safe from threads
and inside Ray actors), is re-created after a fork, and is shut down at interpreter exit.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import threading
from collections.abc import Callable
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

from sparkle.log import get_logger

log = get_logger(__name__)

DEFAULT_TIMEOUT = float(os.environ.get("SPARKLE_REWARD_TIMEOUT", "5.0"))
# Address-space cap of a worker (bytes): a tower of powers fails with MemoryError instead of swapping.
WORKER_MEMORY_LIMIT = int(os.environ.get("SPARKLE_REWARD_WORKER_MEMORY", str(4 * 1024**3)))


def _init_worker(memory_limit: int) -> None:
    if memory_limit > 0:
        try:
            import resource

            resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
        except (ImportError, ValueError, OSError):
            pass
    from sparkle.reward.symbolic import warm_worker

    warm_worker()


@dataclass
class GuardStats:
    """Counters of the guarded calls made by this process."""

    calls: int = 0
    timeouts: int = 0
    crashes: int = 0


class GuardedPool:
    """A lazily started pebble process pool whose calls return ``(value, timed_out)`` and never raise."""

    def __init__(self, workers: int = 1, context: str | None = None) -> None:
        self.workers = workers
        self.context = context or os.environ.get("SPARKLE_REWARD_MP_CONTEXT", "spawn")
        self.stats = GuardStats()
        self._pool = None
        self._pid = None
        self._lock = threading.Lock()

    def _get_pool(self):
        with self._lock:
            if self._pool is None or self._pid != os.getpid():
                from pebble import ProcessPool

                self._pool = ProcessPool(
                    max_workers=self.workers,
                    initializer=_init_worker,
                    initargs=(WORKER_MEMORY_LIMIT,),
                    context=multiprocessing.get_context(self.context),
                )
                self._pid = os.getpid()
            return self._pool

    def call(self, fn: Callable[..., Any], args: tuple, timeout: float | None = None, default: Any = False):
        """Run ``fn(*args)`` in a worker; on overrun kill the worker and return ``(default, True)``."""
        timeout = DEFAULT_TIMEOUT if timeout is None else float(timeout)
        self.stats.calls += 1
        try:
            future = self._get_pool().schedule(fn, args=args, timeout=timeout)
        except RuntimeError:  # the pool was stopped (interpreter exit or a broken pool): start afresh
            with self._lock:
                self._pool = None
            future = self._get_pool().schedule(fn, args=args, timeout=timeout)
        try:
            return future.result(), False
        except FutureTimeout:
            self.stats.timeouts += 1
            log.debug("symbolic comparison %s%r timed out after %.1fs", fn.__name__, args[:2], timeout)
            return default, True
        except Exception as e:  # the worker died (memory limit, recursion) or raised: "not equal"
            self.stats.crashes += 1
            log.debug("symbolic comparison %s crashed: %r", fn.__name__, e)
            return default, False

    def close(self) -> None:
        """Stop the workers (called at exit; the pool restarts on the next call)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None and self._pid == os.getpid():
            pool.stop()
            pool.join(timeout=5)


_default_pool: GuardedPool | None = None
_default_lock = threading.Lock()


def default_pool() -> GuardedPool:
    """The process-wide pool (one worker; ``SPARKLE_REWARD_WORKERS`` raises it for threaded callers)."""
    global _default_pool
    with _default_lock:
        if _default_pool is None:
            _default_pool = GuardedPool(workers=int(os.environ.get("SPARKLE_REWARD_WORKERS", "1")))
        return _default_pool


def guard_stats() -> GuardStats:
    """Counters of the process-wide pool (calls, timeouts, crashes)."""
    return default_pool().stats


@atexit.register
def _shutdown() -> None:
    if _default_pool is not None:
        _default_pool.close()
