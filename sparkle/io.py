"""Atomic file output and JSON-lines helpers: an interrupted run never leaves a half-written file, and a
command that writes several files replaces them together (`atomic_files`)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from sparkle.errors import SparkleError


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if tmp_path.exists():  # mkstemp creates 0600; give the file the permissions a plain open() would
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp_path, 0o666 & ~umask)
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json_atomic(path: str | os.PathLike[str], obj: Any) -> None:
    write_text_atomic(path, json.dumps(obj, ensure_ascii=False, indent=2) + "\n")


def write_jsonl_atomic(path: str | os.PathLike[str], rows: Iterable[dict[str, Any]]) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False))
            f.write("\n")


def read_jsonl(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Read a JSON-lines file; a malformed line raises SparkleError naming the file and line."""
    path = Path(path)
    if not path.is_file():
        raise SparkleError(f"{path}: file not found")
    rows = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise SparkleError(
                    f"{path}, line {lineno}: not valid JSON ({e.msg}); fix or remove that line"
                ) from e
            if not isinstance(row, dict):
                raise SparkleError(f"{path}, line {lineno}: expected a JSON object, got {type(row).__name__}")
            rows.append(row)
    return rows


def check_output_dir(path: str | os.PathLike[str], option: str = "--out") -> Path:
    """Refuse, before any work, an output folder that cannot be written: a file, a path under a file, or a
    folder (or its nearest existing parent) this user may not write to."""
    target = Path(path).expanduser()
    option = f"{option} " if option else ""
    if target.exists() and not target.is_dir():
        raise SparkleError(
            f"{option}{target}: is a file, not a folder; pass a folder to write the outputs into"
        )
    existing = target
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if not existing.is_dir():
        raise SparkleError(
            f"{option}{target}: {existing} is a file, so no folder can be made under it; pick another path"
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise SparkleError(f"{option}{target}: {existing} is not writable; pick a folder you can write to")
    return target


def output_dir_arg(text: str) -> Path:
    """argparse type of an output-folder option: `check_output_dir` at parse time, before any work."""
    import argparse

    try:
        return check_output_dir(text, option="")
    except SparkleError as e:
        raise argparse.ArgumentTypeError(str(e).strip()) from e


_STAGING = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[^.]+\.files\.tmp$")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive, and not ours to touch
        return True
    return True


def _remove_stale_staging(parent: Path, name: str) -> None:
    """Staging folders of this output left by a killed run (its process is gone); never a live run's."""
    for entry in parent.iterdir() if parent.is_dir() else ():
        match = _STAGING.match(entry.name)
        if (
            match
            and match.group("name") == name
            and entry.is_dir()
            and not _pid_alive(int(match.group("pid")))
        ):
            shutil.rmtree(entry, ignore_errors=True)


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold SIGINT / SIGTERM back for the few renames of a commit (main thread only); they land right after."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "pthread_sigmask"):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _move_into(staging: Path, target: Path) -> None:
    for entry in sorted(staging.iterdir()):
        dest = target / entry.name
        if entry.is_dir() and dest.is_dir():
            _move_into(entry, dest)
        else:
            os.replace(entry, dest)


@contextlib.contextmanager
def atomic_files(out_dir: str | os.PathLike[str], owned: Iterable[str] = ()) -> Iterator[Path]:
    """Write several files that belong together: yield a staging folder beside ``out_dir``; when the block
    succeeds, its files replace their namesakes in ``out_dir`` together, and names listed in ``owned``
    that this run did not write are removed from ``out_dir`` (outputs of an earlier run that would no
    longer match). If the block fails, ``out_dir`` is left exactly as it was.

    A new ``out_dir`` appears in one rename; in an existing one the files are renamed one after another
    with SIGINT / SIGTERM held back, so Ctrl-C never leaves a mix of old and new files. Other files in
    ``out_dir`` are never touched. A staging folder left by a killed run is removed by the next run on the
    same output (only when the process that made it is gone).
    """
    target = check_output_dir(out_dir)
    parent = target.parent
    parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_staging(parent, target.name)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.{os.getpid()}.", suffix=".files.tmp", dir=parent))
    try:
        yield staging
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(staging, 0o777 & ~umask)  # mkdtemp makes 0700; a new out_dir gets what mkdir would give
        written = {p.name for p in staging.iterdir()}
        with _signals_deferred():
            if not target.exists():
                os.rename(staging, target)
            else:
                _move_into(staging, target)
                for name in set(owned) - written:
                    stale = target / name
                    if stale.is_file() or stale.is_symlink():
                        stale.unlink()
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
