"""The project's one exception type for errors a user can cause, the helper that words them, and the
entry-point wrapper that turns them (and environment problems) into one line and exit status 2."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any


class SparkleError(Exception):
    """A problem with the user's input or environment.

    The message names the file, row or key at fault and says what to do; the CLI prints it on one
    line and exits with status 2 instead of showing a traceback.
    """


def bad_input(
    where: Any,
    problem: str,
    fix: str,
    *,
    row: int | None = None,
    key: str | None = None,
) -> SparkleError:
    """Build the error for one bad input: ``WHERE[, row N][, field 'K']: PROBLEM; FIX``.

    ``where`` is the file, folder, option or value at fault; ``row`` is 1-based; ``fix`` says what to
    do. Every user-facing message about a bad file or value goes through here so none forgets a part.
    """
    place = str(where)
    if row is not None:
        place += f", row {row}"
    if key is not None:
        place += f", field {key!r}"
    problem = problem.strip().rstrip(".;")
    fix = fix.strip().rstrip(".")
    return SparkleError(f"{place}: {problem}; {fix}" if fix else f"{place}: {problem}")


def _first_line(text: object, limit: int = 300) -> str:
    lines = str(text).strip().splitlines()
    return lines[0][:limit] if lines else ""


def _path_of(exc: OSError) -> str:
    if exc.filename is None:
        return ""
    return os.fsdecode(exc.filename)


def _where(exc: OSError) -> str:
    path = _path_of(exc)
    return f"{path}: " if path else ""


def describe_environment_error(exc: BaseException) -> str | None:
    """One line for an input or environment problem that escaped as a library exception, else None.

    Covers files that cannot be read as text, paths that are a folder / not a folder / missing /
    not permitted / on a full or read-only disk, malformed YAML, and a damaged dataset folder. Anything
    else is a bug and keeps its traceback (``None``).
    """
    import errno

    if isinstance(exc, UnicodeDecodeError):
        return (
            f"an input file is not UTF-8 text (byte {exc.object[exc.start : exc.start + 1]!r} at offset "
            f"{exc.start}); convert it to UTF-8 (e.g. iconv -t UTF-8) or pass the right file"
        )
    if isinstance(exc, IsADirectoryError):
        return f"{_where(exc)}is a folder where a file is expected; pass a file path"
    if isinstance(exc, NotADirectoryError):
        return f"{_where(exc)}part of this path is a file, not a folder; choose another path"
    if isinstance(exc, PermissionError):
        return f"{_where(exc)}permission denied; choose a path you can read/write or fix its permissions"
    if isinstance(exc, FileNotFoundError):
        return f"{_where(exc)}file or folder not found; check the path"
    if isinstance(exc, OSError) and exc.errno in (
        errno.ENOSPC,
        errno.EROFS,
        errno.ENAMETOOLONG,
        errno.EDQUOT,
        errno.ELOOP,
    ):
        return f"{_where(exc)}{exc.strerror or exc}; choose another path or free space"
    mod = type(exc).__module__ or ""
    if mod.startswith("yaml"):
        mark = getattr(exc, "problem_mark", None)
        at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        return f"malformed YAML{at}: {_first_line(getattr(exc, 'problem', None) or exc)}; fix the file"
    if mod.startswith("datasets") or mod.startswith("pyarrow"):
        return (
            f"could not read a dataset ({type(exc).__name__}: {_first_line(exc)}); the folder or file "
            "is damaged or not a dataset: regenerate it or pass a .jsonl/.json/.parquet file"
        )
    return None


def run_command(prog: str, func: Callable[[], int | None]) -> int:
    """Call an entry point's body: SparkleError and environment problems become one line and exit 2,
    Ctrl-C becomes one line and exit 130; any other exception (a bug) keeps its traceback."""
    try:
        return int(func() or 0)
    except SparkleError as e:
        print(f"{prog}: error: {_one_line(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except Exception as e:
        message = describe_environment_error(e)
        if message is None:
            raise
        print(f"{prog}: error: {message}", file=sys.stderr)
        return 2


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split("\n")).strip()
