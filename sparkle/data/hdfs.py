"""Copy written data files to HDFS (the original data scripts' ``--hdfs_dir``) with the ``hdfs`` CLI.

No Python HDFS client is used: the copy runs ``hdfs dfs -mkdir -p DIR`` and then
``hdfs dfs -put -f FILE... DIR``, so it works wherever the Hadoop command line works. Without ``hdfs`` on
PATH the build stops before it starts, with one line saying what is needed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from sparkle.errors import SparkleError
from sparkle.log import get_logger

log = get_logger(__name__)

HDFS_COMMAND = "hdfs"


def hdfs_executable() -> str:
    """Path of the ``hdfs`` CLI on PATH; a SparkleError saying what to do when there is none."""
    found = shutil.which(HDFS_COMMAND)
    if not found:
        raise SparkleError(
            "--hdfs_dir: copying to HDFS needs the Hadoop `hdfs` command line on PATH, and there is none; "
            "install Hadoop (or put its bin/ folder on PATH), or drop --hdfs_dir and copy the files "
            "from the output folder yourself"
        )
    return found


def _run(argv: list[str]) -> None:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    except OSError as e:
        raise SparkleError(f"--hdfs_dir: could not run {argv[0]!r}: {e}") from None
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout or "").strip()[-2000:]
        raise SparkleError(
            f"--hdfs_dir: `hdfs {' '.join(argv[1:4])} ...` failed with exit status {proc.returncode}"
            + (f": {tail}" if tail else "")
            + "; the files are complete in the local output folder"
        )


def copy_to_hdfs(paths: Sequence[str | os.PathLike[str]], hdfs_dir: str) -> list[str]:
    """Create ``hdfs_dir`` and put every file into it (overwriting); returns the HDFS paths."""
    if not hdfs_dir or not hdfs_dir.strip():
        raise SparkleError("--hdfs_dir is empty; give an HDFS folder such as hdfs:///user/me/sparkle/data")
    hdfs = hdfs_executable()
    files = [str(Path(p)) for p in paths]
    target = hdfs_dir.rstrip("/") or "/"
    _run([hdfs, "dfs", "-mkdir", "-p", target])
    if files:
        _run([hdfs, "dfs", "-put", "-f", *files, target])
    copied = [f"{target.rstrip('/')}/{Path(f).name}" for f in files]
    for path in copied:
        log.info("copied to %s", path)
    return copied
