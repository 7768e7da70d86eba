"""The guarded worker pool: time limits, worker replacement, crashes, threads, hostile inputs, no leaks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from sparkle.reward import grade
from sparkle.reward.guard import GuardedPool, shared_deadline


@pytest.fixture(scope="module")
def pool():
    p = GuardedPool(workers=2)
    p.prestart()
    yield p
    p.close()


def _worker_pids(p: GuardedPool) -> set[int]:
    return {w.proc.pid for w in p._idle} | ({p._standby.proc.pid} if p._standby else set())


@pytest.mark.timeout(60)
def test_overrun_is_killed_and_replaced(pool: GuardedPool) -> None:
    assert pool.call("echo_worker", ("hi",)) == ("hi", False)
    before = set(_worker_pids(pool))
    timeouts = pool.stats.timeouts
    start = time.monotonic()
    assert pool.call("sleep_worker", (30,), timeout=0.5) == (False, True)
    assert time.monotonic() - start < 5  # not the 30 s the call asked for
    assert pool.stats.timeouts == timeouts + 1
    killed = before - _worker_pids(pool)
    assert len(killed) == 1  # exactly one worker was replaced ...
    pid = killed.pop()
    assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text().lower()
    assert pool.call("echo_worker", (42,)) == (42, False)  # ... and the pool keeps serving


@pytest.mark.timeout(60)
def test_a_crashed_worker_counts_as_not_equal(pool: GuardedPool) -> None:
    crashes = pool.stats.crashes
    result: list = []
    t = threading.Thread(target=lambda: result.append(pool.call("sleep_worker", (30,), timeout=20)))
    t.start()
    deadline = time.monotonic() + 10
    while pool._busy == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)
    from sparkle.reward.guard import _all_pools

    busy = {int(p) for p in os.listdir("/proc") if p.isdigit()} & _children()
    victims = busy - _worker_pids(pool)
    for other in _all_pools:  # leave the process-wide pool's workers alone
        victims -= _worker_pids(other)
    assert victims, "no busy worker found"
    for pid in victims:
        os.kill(pid, signal.SIGKILL)
    t.join(30)
    assert result == [(False, False)]
    assert pool.stats.crashes == crashes + 1
    assert pool.call("echo_worker", ("again",)) == ("again", False)


def _children() -> set[int]:
    me = os.getpid()
    kids = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == me:
                kids.add(int(entry))
    return kids


HOSTILE = [
    # (policy, answer): each must return "not equal" within the limit, never raise or hang
    ("train", "9**9**9**9"),
    ("train", "2**(2**100)"),
    ("train", "100000000!"),
    ("train", "5^{5^{5^{5^5}}}"),
    ("train", "(" * 5000 + "1" + ")" * 5000),
    ("train", "1+" * 50000 + "1"),
    ("train", "\\frac{1}{" * 300 + "2" + "}" * 300),
    ("eval", "9**9**9**9"),
    ("eval", "7" * 100000),
    ("eval", "{" * 5000 + "2"),
    ("math_verify", "5^{5^{5^{5^5}}}"),
    ("math_verify", "(10^10)!"),
    ("math_verify", "(" * 5000 + "1" + ")" * 5000),
    ("math_verify", "\x00\x01\xff binary \\boxed{"),
    ("math_verify", "1" + ",000" * 30000),  # 90,001 digits: past Python's int-string limit
    ("eval", "1" + ",000" * 30000),
    ("train", "1" + "0" * 400 + ".5"),  # overflows a float
]


_COLD = """
import sys, time
from sparkle.reward import compute_score
policy, limit, answer = sys.argv[1], float(sys.argv[2]), sys.stdin.read()
start = time.monotonic()
out = compute_score("t", "<answer>\\\\boxed{" + answer + "}</answer>", "3", policy=policy, timeout=limit)
print(time.monotonic() - start, out["acc"])
"""


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("policy", "answer"), HOSTILE)
def test_hostile_answers_return_within_the_limit_cold(policy: str, answer: str) -> None:
    """Each hostile answer in a fresh process (the first call after import, workers not yet booted):
    ``compute_score(..., timeout=T)`` answers "not equal" within T + 0.5 s of the call."""
    limit = 1.0
    proc = subprocess.run(
        [sys.executable, "-c", _COLD, policy, str(limit)],
        input=answer,
        capture_output=True,
        text=True,
        timeout=60,  # the watchdog
        check=True,
    )
    elapsed, acc = proc.stdout.split()[-2:]
    assert float(acc) == 0.0
    assert float(elapsed) <= limit + 0.5


@pytest.mark.timeout(60)
def test_a_cold_call_counts_the_boot_against_its_limit() -> None:
    p = GuardedPool(workers=1)
    try:
        start = time.monotonic()
        value, timed_out = p.call("echo_worker", ("x",), timeout=0.05)  # far less than a worker's boot
        assert time.monotonic() - start < 0.05 + 0.5
        assert (value, timed_out) == (False, True)
        assert p._idle, "the booting worker is kept for the next call, not killed"
        assert p.call("echo_worker", ("y",), timeout=60) == ("y", False)
        assert p.stats.crashes == 0
    finally:
        p.close()


_HIGH_FD = """
import os, resource, sys
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
filler = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]  # push new pipes above fd 1024
from sparkle.reward.guard import GuardedPool, shared_deadline
p = GuardedPool(workers=1)
w = p._spawn()
p._idle.append(w)
print("fd", w.proc.stdout.fileno())
print("echo", p.call("echo_worker", ("x",), timeout=60))
print("overrun", p.call("sleep_worker", (30,), timeout=0.5))
print("after", p.call("echo_worker", (7,), timeout=60))
print("stats", p.stats.timeouts, p.stats.crashes)
"""


@pytest.mark.timeout(120)
def test_pipes_above_fd_1024_are_watched() -> None:
    import resource

    if resource.getrlimit(resource.RLIMIT_NOFILE)[1] < 1200:
        pytest.skip("the hard limit on open files is below 1200")
    out = subprocess.run(
        [sys.executable, "-c", _HIGH_FD], capture_output=True, text=True, timeout=100, check=True
    ).stdout
    lines = dict(line.split(" ", 1) for line in out.strip().splitlines())
    assert int(lines["fd"]) >= 1024
    assert lines["echo"] == "('x', False)"
    assert lines["overrun"] == "(False, True)"
    assert lines["after"] == "(7, False)"
    assert lines["stats"] == "1 0"


@pytest.mark.timeout(60)
def test_a_broken_pipe_watch_is_a_worker_failure_not_an_exception() -> None:
    p = GuardedPool(workers=1)
    try:
        p.prestart()
        worker = p._idle[0]
        os.close(worker.proc.stdout.fileno())  # the poller now watches a closed descriptor
        crashes = p.stats.crashes
        assert p.call("echo_worker", ("x",), timeout=5) == (False, False)
        assert p.stats.crashes == crashes + 1
        assert p.call("echo_worker", ("y",), timeout=60) == ("y", False)
    finally:
        p.close()


@pytest.mark.timeout(60)
def test_known_hostile_answer_reports_a_timeout() -> None:
    g = grade("\\boxed{100000000!}", "3", "train", timeout=0.5)  # seconds of work for sympy
    assert (g.correct, g.timed_out) == (False, True)


@pytest.mark.timeout(120)
def test_safe_from_threads() -> None:
    cases = [
        ("\\boxed{2\\sqrt{3}}", "\\sqrt{12}", True),
        ("\\boxed{k+k}", "2k", True),
        ("\\boxed{x+2}", "x+1", False),
    ]
    results: list[tuple[bool, bool]] = []
    lock = threading.Lock()

    def work(i: int) -> None:
        response, truth, expected = cases[i % len(cases)]
        # distinct strings per thread so the verdict cache does not answer for the workers
        # a generous limit: waiting for one of the two workers counts against it
        g = grade(response.replace("}", " }", 1) if i % 2 else response, truth, "train", timeout=60)
        with lock:
            results.append((g.correct, expected))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 12
    assert all(got == want for got, want in results)


@pytest.mark.timeout(120)
def test_no_worker_outlives_its_parent(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from sparkle.reward import grade\n"
        "from sparkle.reward.guard import default_pool\n"
        "grade('\\\\boxed{2\\\\sqrt{3}}', '\\\\sqrt{12}', 'train')\n"
        "p = default_pool()\n"
        "print(' '.join(str(w.proc.pid) for w in p._idle + [p._standby]), flush=True)\n"
        "if sys.argv[1] == 'hang':\n"
        "    import time; time.sleep(60)\n"
    )
    for mode in ("exit", "hang"):
        proc = subprocess.Popen([sys.executable, "-c", script, mode], stdout=subprocess.PIPE, text=True)
        pids = [int(x) for x in proc.stdout.readline().split()]
        assert pids
        if mode == "hang":
            proc.kill()  # SIGKILL: no atexit; workers notice the closed pipe / orphaning
        proc.wait(30)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_alive(p) for p in pids):
            time.sleep(0.1)
        assert not any(_alive(p) for p in pids), mode


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "zombie" not in status.lower()


@pytest.mark.timeout(60)
def test_a_shared_deadline_bounds_several_calls(pool: GuardedPool) -> None:
    start = time.monotonic()
    with shared_deadline(1.0):
        results = [pool.call("sleep_worker", (30,), timeout=1.0) for _ in range(3)]
    assert results == [(False, True)] * 3
    assert time.monotonic() - start < 1.0 + 2.0  # one limit in all (not three), with slack for the kills
    assert pool.call("echo_worker", ("z",)) == ("z", False)  # outside the block: the call's own limit


@pytest.mark.timeout(60)
def test_a_worker_that_died_while_idle_is_replaced_for_the_same_call() -> None:
    p = GuardedPool(workers=1)
    try:
        p.prestart()
        idle = p._idle[0]
        idle.proc.kill()
        idle.proc.wait(10)
        assert p.call("echo_worker", ("still",), timeout=60) == ("still", False)
        assert p.stats.crashes == 1  # counted, but the call was answered by another worker
    finally:
        p.close()
