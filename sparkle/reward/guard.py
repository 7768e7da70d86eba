"""The guarded worker pool: every symbolic comparison runs in a worker process under a hard time limit.

Workers are plain ``python -m sparkle.reward.worker`` subprocesses talking length-prefixed pickles over
pipes, so they never re-import the caller's ``__main__`` (unlike multiprocessing's spawn/forkserver),
work the same from threads, Ray actors and forked children, and can be killed at any moment. A worker
that overruns is killed and replaced by a standby worker that is already booted, so the next call does
not pay the start-up (about 0.5 s of sympy imports); the overrun counts as "not equal" plus a counter,
never an exception or a hang. Workers exit with their parent (EOF on stdin, or a parent-pid watchdog)
and are killed at interpreter exit.

The time limit of a call counts from the moment it is made: waiting for a free worker and, on a cold
process, waiting for a worker to finish booting are part of it. A call that runs out of time while its
worker is still booting leaves that worker alive (it is computing nothing) for the next call. Pipes are
watched with ``select.poll`` (no limit on descriptor numbers, unlike ``select.select``); any failure of
the poller counts as a worker failure.
"""

from __future__ import annotations

import atexit
import contextlib
import contextvars
import os
import pickle
import select
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sparkle.log import get_logger

log = get_logger(__name__)

DEFAULT_TIMEOUT = float(os.environ.get("SPARKLE_REWARD_TIMEOUT", "5.0"))
# Address-space cap of a worker (bytes): a tower of powers fails with MemoryError instead of swapping.
WORKER_MEMORY_LIMIT = int(os.environ.get("SPARKLE_REWARD_WORKER_MEMORY", str(4 * 1024**3)))
BOOT_TIMEOUT = 120.0
_HEADER = struct.Struct("<I")
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


# The deadline (time.monotonic()) shared by every guarded call inside one ``shared_deadline`` block.
_SHARED_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "sparkle_deadline", default=None
)


@contextlib.contextmanager
def shared_deadline(timeout: float | None):
    """Give every guarded call made inside the block one common deadline, ``timeout`` seconds from now,
    so that a grading that needs several symbolic comparisons (several ground truths, the elements of a
    tuple) still answers within ``timeout`` (plus the overhead) in all. ``None``: the default limit."""
    outer = _SHARED_DEADLINE.get()
    mine = time.monotonic() + (DEFAULT_TIMEOUT if timeout is None else max(0.0, float(timeout)))
    token = _SHARED_DEADLINE.set(mine if outer is None else min(outer, mine))
    try:
        yield
    finally:
        _SHARED_DEADLINE.reset(token)


class WorkerError(RuntimeError):
    """A worker died or answered garbage (counted as a crash; the call reports "not equal")."""


class WorkerGone(WorkerError):
    """The worker had died before it got the request (e.g. killed while idle): the call tries another."""


def _wait_readable(fd: int, deadline: float) -> None:
    """Block until ``fd`` is readable (or closed) or ``deadline`` passes (TimeoutError).

    ``poll`` works for any descriptor number; a poller failure is reported as a WorkerError."""
    try:
        poller = select.poll()
        poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            if poller.poll(max(1, int(remaining * 1000 + 0.999))):
                return
    except TimeoutError:
        raise
    except (OSError, ValueError, OverflowError) as e:
        raise WorkerError(f"cannot watch the worker pipe (fd {fd}): {e}") from e


def _read_exact(fd: int, n: int, deadline: float | None) -> bytes:
    chunks, got = [], 0
    while got < n:
        if deadline is not None:
            _wait_readable(fd, deadline)
        try:
            chunk = os.read(fd, n - got)
        except OSError as e:
            raise WorkerError(f"cannot read the worker pipe: {e}") from e
        if not chunk:
            raise WorkerError("worker closed its pipe")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


class _Worker:
    """One worker subprocess."""

    def __init__(self) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_ROOT, env.get("PYTHONPATH")) if p)
        env["SPARKLE_REWARD_WORKER_MEMORY"] = str(WORKER_MEMORY_LIMIT)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sparkle.reward.worker", str(os.getpid())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            close_fds=True,
        )
        self.ready = False

    def wait_ready(self, deadline: float | None = None) -> None:
        """Wait for the boot signal (TimeoutError past ``deadline``; the worker is then still booting)."""
        if not self.ready:
            limit = time.monotonic() + BOOT_TIMEOUT
            if (
                _read_exact(self.proc.stdout.fileno(), 1, limit if deadline is None else min(deadline, limit))
                != b"R"
            ):
                raise WorkerError("worker failed to start")
            self.ready = True

    def call(self, name: str, args: tuple, deadline: float) -> Any:
        payload = pickle.dumps((name, args), protocol=pickle.HIGHEST_PROTOCOL)
        if self.proc.poll() is not None:
            raise WorkerGone(f"worker exited with {self.proc.returncode}")
        try:
            self.proc.stdin.write(_HEADER.pack(len(payload)) + payload)
            self.proc.stdin.flush()
        except (OSError, ValueError) as e:  # ValueError: the pipe object is already closed
            raise WorkerGone(f"worker pipe broken: {e}") from e
        fd = self.proc.stdout.fileno()
        (size,) = _HEADER.unpack(_read_exact(fd, _HEADER.size, deadline))
        status, value = pickle.loads(_read_exact(fd, size, deadline))
        if status != "ok":
            raise WorkerError(value)
        return value

    def kill(self) -> None:
        try:
            self.proc.kill()
        except OSError:
            pass
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


@dataclass
class GuardStats:
    """Counters of the guarded calls made through one pool."""

    calls: int = 0
    timeouts: int = 0
    crashes: int = 0
    workers_started: int = 0


class GuardedPool:
    """Up to ``workers`` busy workers plus one booted standby; ``call`` returns ``(value, timed_out)``."""

    def __init__(self, workers: int = 1) -> None:
        self.workers = max(1, int(workers))
        self.stats = GuardStats()
        self._idle: list[_Worker] = []
        self._standby: _Worker | None = None
        self._busy = 0
        self._pid = os.getpid()
        self._cond = threading.Condition()

    def _spawn(self) -> _Worker:
        self.stats.workers_started += 1
        return _Worker()

    def _check_fork(self) -> None:
        if self._pid != os.getpid():  # a forked child must not share its parent's pipes
            self._idle, self._standby, self._busy, self._pid = [], None, 0, os.getpid()
            self._cond = threading.Condition()

    def _acquire(self, deadline: float) -> _Worker:
        with self._cond:
            while not self._idle and self._busy >= self.workers:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError
                self._cond.wait(remaining)
            self._busy += 1
            if self._idle:
                return self._idle.pop()
            if self._standby is not None:
                worker, self._standby = self._standby, self._spawn()
                return worker
        try:
            worker = self._spawn()
            with self._cond:  # keep a booted spare, so a killed worker is replaced at once
                if self._standby is None:
                    self._standby = self._spawn()
            return worker
        except OSError:
            with self._cond:
                self._busy -= 1
                self._cond.notify()
            raise

    def _release(self, worker: _Worker | None) -> None:
        with self._cond:
            self._busy -= 1
            if worker is not None:
                self._idle.append(worker)
            elif self._standby is None:
                self._standby = self._spawn()
            self._cond.notify()

    def _discard(self, worker: _Worker) -> None:
        """Kill a worker that timed out, crashed or was interrupted; a fresh one stands by instead."""
        worker.kill()
        self._release(None)

    def call(
        self, name: str, args: tuple, timeout: float | None = None, default: Any = False
    ) -> tuple[Any, bool]:
        """Run the worker function ``name`` (see ``sparkle.reward.worker.FUNCTIONS``) on ``args`` in a worker,
        answering within ``timeout`` seconds of this call (waiting for a worker included).

        Returns ``(value, False)``, or ``(default, True)`` when the worker overran (it is then killed
        and replaced), or ``(default, False)`` when the worker crashed.
        """
        start = time.monotonic()
        timeout = DEFAULT_TIMEOUT if timeout is None else float(timeout)
        deadline = start + max(0.0, timeout)
        shared = _SHARED_DEADLINE.get()
        if shared is not None:
            deadline = min(deadline, shared)
        self._check_fork()
        self.stats.calls += 1
        for attempt in range(3):
            result = self._attempt(name, args, deadline, timeout, default, retry=attempt < 2)
            if result is not None:
                return result
        return default, False

    def _attempt(
        self, name: str, args: tuple, deadline: float, timeout: float, default: Any, retry: bool
    ) -> tuple[Any, bool] | None:
        """One try of ``call``; None when the worker turned out dead before it got the request."""
        try:
            worker = self._acquire(deadline)
        except TimeoutError:
            self.stats.timeouts += 1
            return default, True
        except OSError as e:
            self.stats.crashes += 1
            log.warning("cannot start a reward worker: %s", e)
            return default, False
        try:
            worker.wait_ready(deadline)
        except TimeoutError:  # still booting: nothing hostile runs in it, keep it for the next call
            self.stats.timeouts += 1
            self._release(worker)
            return default, True
        except (WorkerError, EOFError) as e:
            self.stats.crashes += 1
            log.warning("a reward worker failed to start: %s", e)
            self._discard(worker)
            return default, False
        except BaseException:
            self._discard(worker)
            raise
        try:
            value = worker.call(name, args, deadline)
        except TimeoutError:
            self.stats.timeouts += 1
            log.debug(
                "%s%r timed out after %.1fs; worker replaced",
                name,
                tuple(a[:80] for a in args if isinstance(a, str)),
                timeout,
            )
            self._discard(worker)
            return default, True
        except WorkerGone as e:
            self.stats.crashes += 1
            log.debug("a reward worker had died while idle: %s", e)
            self._discard(worker)
            if retry:
                return None
            return default, False
        except (WorkerError, EOFError, pickle.UnpicklingError, OSError, ValueError) as e:
            self.stats.crashes += 1  # any failure to talk to the worker is the worker's failure
            log.debug("%s crashed in its worker: %s", name, e)
            self._discard(worker)
            return default, False
        except BaseException:
            self._discard(worker)
            raise
        self._release(worker)
        return value, False

    def start_early(self) -> None:
        """Spawn an idle worker and the standby now without waiting for them to boot (a no-op when the
        pool already has workers), so that a cold process's first guarded call finds them (nearly) ready."""
        self._check_fork()
        with self._cond:
            if self._idle or self._busy or self._standby is not None:
                return
            try:
                self._idle.append(self._spawn())
                self._standby = self._spawn()
            except OSError as e:
                log.warning("cannot start a reward worker: %s", e)

    def prestart(self) -> None:
        """Boot an idle worker and the standby now, so that no later call waits for the imports."""
        self._check_fork()
        with self._cond:
            fresh = [] if self._idle or self._busy else [self._spawn()]
            if self._standby is None:
                self._standby = self._spawn()
            standby = self._standby
        for worker in [*fresh, standby]:
            worker.wait_ready()
        with self._cond:
            self._idle.extend(fresh)
            self._cond.notify()

    def close(self) -> None:
        """Kill every worker of this pool (the pool starts new ones on the next call)."""
        with self._cond:
            workers = list(self._idle) + ([self._standby] if self._standby else [])
            self._idle, self._standby = [], None
        if self._pid == os.getpid():
            for w in workers:
                w.kill()


_default_pool: GuardedPool | None = None
_default_lock = threading.Lock()
_all_pools: list[GuardedPool] = []


def default_pool() -> GuardedPool:
    """The process-wide pool (``SPARKLE_REWARD_WORKERS`` busy workers, default 2, plus a standby)."""
    global _default_pool
    with _default_lock:
        if _default_pool is None:
            _default_pool = GuardedPool(workers=int(os.environ.get("SPARKLE_REWARD_WORKERS", "2")))
            _all_pools.append(_default_pool)
        return _default_pool


def guard_stats() -> GuardStats:
    """Counters of the process-wide pool (calls, timeouts, crashes, workers started)."""
    return default_pool().stats


@atexit.register
def _shutdown() -> None:
    for pool in _all_pools:
        pool.close()
