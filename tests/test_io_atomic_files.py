"""`sparkle.io.atomic_files`: several files replace their old versions together or not at all (also when
interrupted by SIGINT), other files stay, stale staging folders of dead runs are cleaned; and
`check_output_dir` refuses unusable output folders."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sparkle.errors import SparkleError
from sparkle.io import atomic_files, check_output_dir


def _files(folder: Path) -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(folder.iterdir())}


def test_new_folder_appears_whole(tmp_path: Path):
    out = tmp_path / "a" / "report"
    with atomic_files(out) as staging:
        (staging / "x.csv").write_text("x", encoding="utf-8")
        (staging / "y.md").write_text("y", encoding="utf-8")
        assert not out.exists()
    assert _files(out) == {"x.csv": "x", "y.md": "y"}
    assert oct(out.stat().st_mode & 0o777) != oct(0o700)  # not mkdtemp's private mode
    assert [p.name for p in out.parent.iterdir()] == ["report"]


def test_existing_folder_replaced_together_and_stale_owned_files_removed(tmp_path: Path):
    out = tmp_path / "report"
    out.mkdir()
    for name, text in (("x.csv", "old"), ("curve.png", "old"), ("mine.txt", "user")):
        (out / name).write_text(text, encoding="utf-8")
    with atomic_files(out, owned=("x.csv", "curve.png", "y.md")) as staging:
        (staging / "x.csv").write_text("new", encoding="utf-8")
        (staging / "y.md").write_text("new", encoding="utf-8")
    assert _files(out) == {"mine.txt": "user", "x.csv": "new", "y.md": "new"}


def test_failure_leaves_everything_as_it_was(tmp_path: Path):
    out = tmp_path / "report"
    out.mkdir()
    (out / "x.csv").write_text("old", encoding="utf-8")
    with pytest.raises(RuntimeError), atomic_files(out, owned=("x.csv",)) as staging:
        (staging / "x.csv").write_text("new", encoding="utf-8")
        raise RuntimeError("plot failed")
    assert _files(out) == {"x.csv": "old"}
    assert [p.name for p in tmp_path.iterdir()] == ["report"]


def test_sigint_while_writing_leaves_the_old_files(tmp_path: Path):
    """A real SIGINT after the first of two files: the old pair stays, nothing half-written, no leftovers."""
    out = tmp_path / "report"
    out.mkdir()
    (out / "a.txt").write_text("old a", encoding="utf-8")
    (out / "b.txt").write_text("old b", encoding="utf-8")
    script = textwrap.dedent(
        f"""
        import os, signal
        from pathlib import Path
        from sparkle.io import atomic_files
        with atomic_files({str(out)!r}) as staging:
            (staging / "a.txt").write_text("new a")
            os.kill(os.getpid(), signal.SIGINT)
            (staging / "b.txt").write_text("new b")
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "KeyboardInterrupt" in proc.stderr
    assert _files(out) == {"a.txt": "old a", "b.txt": "old b"}
    assert [p.name for p in tmp_path.iterdir()] == ["report"]


def test_stale_staging_of_a_dead_run_is_removed_but_not_a_live_one(tmp_path: Path):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead_pid = int(dead.stdout)
    stale = tmp_path / f".report.{dead_pid}.abc123.files.tmp"
    live = tmp_path / f".report.{os.getpid()}.zzz999.files.tmp"  # this process: alive
    other = tmp_path / f".other.{dead_pid}.abc123.files.tmp"  # another output's: not ours
    for folder in (stale, live, other):
        folder.mkdir()
    with atomic_files(tmp_path / "report") as staging:
        (staging / "x").write_text("x", encoding="utf-8")
    assert not stale.exists() and live.exists() and other.exists()


def test_check_output_dir(tmp_path: Path):
    assert check_output_dir(tmp_path / "new" / "deeper") == tmp_path / "new" / "deeper"
    a_file = tmp_path / "f"
    a_file.write_text("x", encoding="utf-8")
    with pytest.raises(SparkleError, match="is a file"):
        check_output_dir(a_file)
    with pytest.raises(SparkleError, match="nothing can be created under it"):
        check_output_dir(a_file / "sub")
    if os.geteuid() != 0:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        with pytest.raises(SparkleError, match="not writable"):
            check_output_dir(locked / "out")
        locked.chmod(0o700)
