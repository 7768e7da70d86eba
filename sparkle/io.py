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
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from sparkle.errors import SparkleError


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds."""
    target = Path(path)
    refuse_special_file(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_temporaries(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}-", suffix=".tmp", dir=target.parent)
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
    if path.is_dir():
        raise SparkleError(f"{path}: is a folder, not a JSON-lines file; pass the .jsonl file inside it")
    if not path.is_file():
        raise SparkleError(f"{path}: file not found; check the path")
    rows = []
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.readlines()
    except UnicodeDecodeError as e:
        raise SparkleError(
            f"{path}: not UTF-8 text (byte {e.object[e.start : e.start + 1]!r} at offset {e.start}); "
            "convert it to UTF-8 (e.g. iconv -t UTF-8) or pass the right file"
        ) from e
    for lineno, line in enumerate(lines, 1):
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


# ---------------------------------------------------------------------------------------------------------
# Stale temporaries: a process killed mid-write (SIGKILL, power loss) leaves ``.NAME.<pid>-XXXX.tmp`` (or,
# from older versions, ``.NAME.XXXX.tmp``) beside NAME. The next write of NAME removes them, but only
# those that are certainly nobody else's: written before this process started, by a process that is gone.

_PROCESS_START = time.time()
_TMP_PID = re.compile(r"^(\d+)-")


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except OSError:
        return False
    return True


def stale_temporaries(target: str | os.PathLike[str]) -> list[Path]:
    """Temporaries that ``atomic_path`` left beside ``target`` in a run that died before renaming them."""
    target = Path(target)
    prefix, suffix = f".{target.name}.", ".tmp"
    try:
        entries = list(os.scandir(target.parent))
    except OSError:
        return []
    stale = []
    for entry in entries:
        name = entry.name
        if not (name.startswith(prefix) and name.endswith(suffix)) or len(name) <= len(prefix) + len(suffix):
            continue
        middle = name[len(prefix) : -len(suffix)]
        if "." in middle:  # the temporary of another target whose name extends ours (".a.b.X.tmp")
            continue
        try:
            if not entry.is_file(follow_symlinks=False) or entry.stat().st_mtime >= _PROCESS_START:
                continue
        except OSError:
            continue
        owner = _TMP_PID.match(middle)
        if owner and _pid_alive(int(owner.group(1))):
            continue
        stale.append(Path(entry.path))
    return stale


def clean_stale_temporaries(target: str | os.PathLike[str]) -> list[Path]:
    """Remove the stale temporaries of ``target`` (see ``stale_temporaries``); returns what was removed."""
    removed = []
    for path in stale_temporaries(target):
        with contextlib.suppress(OSError):
            path.unlink()
            removed.append(path)
    return removed


# ---------------------------------------------------------------------------------------------------------
# Output paths are checked before the work starts, so a bad --out fails at once, not after an hour.

FILE_SUFFIXES = (".jsonl", ".json", ".parquet", ".csv", ".md", ".txt", ".yaml", ".yml", ".png", ".pdf")
OUTPUT_OPTIONS = {
    "out": "--out",
    "output": "--output",
    "output_path": "--output_path",
    "local_dir": "--local_dir",
}


def refuse_special_file(target: Path, option: str | None = None) -> None:
    """Refuse to replace a device, pipe, socket or folder (renaming onto ``/dev/full`` would destroy it)."""
    import stat

    from sparkle.errors import bad_input

    try:
        mode = os.stat(target).st_mode
    except OSError:
        return
    if not stat.S_ISREG(mode):
        what = "a folder" if stat.S_ISDIR(mode) else "not a regular file (a device, pipe or socket)"
        where = f"{option} {target}" if option else target
        raise bad_input(where, f"is {what}, but a file is to be written there", "pass a regular file path")


def check_output_path(path: str | os.PathLike[str], kind: str = "file", option: str = "output") -> Path:
    """Raise SparkleError unless ``path`` can be written as a ``kind`` ("file" or "dir"); creates nothing.

    Refused: a folder where a file is expected (and the reverse), a path under a file, a folder that is
    not writable, a name longer than the file system allows.
    """
    from sparkle.errors import bad_input

    if kind not in ("file", "dir"):
        raise ValueError(f"kind must be 'file' or 'dir', got {kind!r}")
    raw = os.fspath(path)
    if not str(raw).strip():
        raise bad_input(option, "empty path", "pass a path")
    target = Path(os.path.expanduser(raw))
    for part in target.parts:
        if len(os.fsencode(part)) > 255:
            raise bad_input(
                f"{option} {raw}", f"the name {part[:40]!r}... is too long to exist", "use a shorter name"
            )
    if target.exists():
        if kind == "file" and not target.is_dir():
            refuse_special_file(target, option)
        if kind == "file" and target.is_dir():
            raise bad_input(
                f"{option} {raw}",
                "is a folder, but a file is expected",
                "pass a file path such as DIR/out.jsonl",
            )
        if kind == "dir" and not target.is_dir():
            raise bad_input(f"{option} {raw}", "is a file, but a folder is expected", "pass a folder path")
    # The nearest existing ancestor must be a writable folder (the rest is created by the writer).
    probe = target if (kind == "dir" and target.is_dir()) else target.parent
    probe = Path(os.path.abspath(probe))
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise bad_input(
            f"{option} {raw}", f"{probe} is a file, so nothing can be created under it", "choose another path"
        )
    if not _can_create_in(probe):
        raise bad_input(
            f"{option} {raw}",
            f"folder {probe} is not writable",
            "choose a writable path or fix its permissions",
        )
    if kind == "file" and target.is_file() and not os.access(target, os.W_OK):
        raise bad_input(f"{option} {raw}", "file is read-only", "choose another path or make it writable")
    return target


def _can_create_in(folder: Path) -> bool:
    """Whether a file can be created in ``folder`` (tried for real: permissions alone miss read-only mounts)."""
    if not os.access(folder, os.W_OK | os.X_OK):
        return False
    try:
        fd, probe = tempfile.mkstemp(prefix=".sparkle-write-check-", dir=folder)
    except OSError:
        return False
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(probe)
    return True


def output_kind(path: str | os.PathLike[str]) -> str:
    """ "file" when the path names a file by its suffix (``out.jsonl``), else "dir"."""
    return "file" if str(path).lower().endswith(FILE_SUFFIXES) else "dir"


def check_outputs(args: Any) -> None:
    """Check every output option a parsed command line holds (``--out``, ``--output``...) before the work.

    A command states the kind with ``set_defaults(output_kinds={"out": "file"})``; otherwise a file is
    expected where the value has a file suffix (``.jsonl``, ``.parquet``...), a folder elsewhere.
    """
    kinds = getattr(args, "output_kinds", None) or {}
    for attr, option in OUTPUT_OPTIONS.items():
        value = getattr(args, attr, None)
        if isinstance(value, (str, os.PathLike)) and str(value):
            check_output_path(value, kinds.get(attr) or output_kind(value), option)


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold Ctrl-C (SIGINT) and SIGTERM back for a short block, such as renaming several finished files into
    place; a signal sent meanwhile takes effect when the block ends. Outside the main thread it does nothing."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


# ---------------------------------------------------------------------------------------------------------
# Several files that belong together (a report, a parquet + JSONL pair) are replaced together.


def check_output_dir(path: str | os.PathLike[str], option: str = "--out") -> Path:
    """Refuse, before any work, an output folder that cannot be written (``check_output_path``)."""
    return check_output_path(path, "dir", option or "output")


def output_dir_arg(text: str) -> Path:
    """argparse type of an output-folder option: `check_output_dir` at parse time, before any work."""
    import argparse

    try:
        return check_output_dir(text, option="")
    except SparkleError as e:
        raise argparse.ArgumentTypeError(str(e).strip()) from e


_STAGING = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[^.]+\.files\.tmp$")


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
        with signals_deferred():
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
