"""The guarded worker process (``python -m sparkle.reward.worker PARENT_PID``): runs the named functions
of ``FUNCTIONS`` for its parent over stdin/stdout, one request at a time."""

from __future__ import annotations

import os
import pickle
import struct
import sys
import threading
import time

_HEADER = struct.Struct("<I")
# worker function name -> the module that defines it (what a production worker will run)
FUNCTIONS = {
    "sympy_equal_worker": "sparkle.reward.symbolic",
    "math_verify_worker": "sparkle.reward.mathverify",
    "math_verify_any_worker": "sparkle.reward.mathverify",
}
# Functions the test suite uses to exercise the guard (timeouts, crashes, replies); a worker serves them
# only when started with SPARKLE_REWARD_TEST_WORKERS=1 in its environment (tests/conftest.py sets it).
TEST_FUNCTIONS = {
    "sleep_worker": "sparkle.reward.symbolic",
    "echo_worker": "sparkle.reward.symbolic",
}
TEST_WORKERS_ENV = "SPARKLE_REWARD_TEST_WORKERS"


def allowed_functions(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The functions this worker serves: the production ones, plus the test ones when enabled."""
    environ = os.environ if environ is None else environ
    return {**FUNCTIONS, **TEST_FUNCTIONS} if environ.get(TEST_WORKERS_ENV) == "1" else dict(FUNCTIONS)


def _watch_parent(parent: int) -> None:
    while True:
        time.sleep(1.0)
        if os.getppid() != parent:
            os._exit(0)


def _read_exact(stream, n: int) -> bytes | None:
    buf = b""
    while len(buf) < n:
        chunk = stream.read(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def main() -> None:
    parent = int(sys.argv[1]) if len(sys.argv) > 1 else os.getppid()
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    limit = int(os.environ.get("SPARKLE_REWARD_WORKER_MEMORY", "0"))
    if limit > 0:
        try:
            import resource

            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        except (ImportError, ValueError, OSError):
            pass
    sys.setrecursionlimit(10_000)
    import importlib

    from sparkle.reward import mathverify, symbolic

    symbolic.warm_worker()
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    functions = allowed_functions()
    stdout.write(b"R")
    stdout.flush()
    # math-verify (and its LaTeX parser) loads while the worker waits for its first request; a request
    # that needs it meanwhile waits on the import lock, inside its own time limit
    mathverify.start_warming()
    while True:
        header = _read_exact(stdin, _HEADER.size)
        if header is None:
            return
        payload = _read_exact(stdin, _HEADER.unpack(header)[0])
        if payload is None:
            return
        try:
            name, args = pickle.loads(payload)
            if name not in functions:
                raise ValueError(f"not a worker function: {name}")
            reply = ("ok", getattr(importlib.import_module(functions[name]), name)(*args))
        except BaseException as e:  # noqa: BLE001 - report everything to the parent, keep serving
            reply = ("err", f"{type(e).__name__}: {e}"[:1000])
        out = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
        stdout.write(_HEADER.pack(len(out)) + out)
        stdout.flush()


if __name__ == "__main__":
    main()
