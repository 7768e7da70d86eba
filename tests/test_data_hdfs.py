"""``--hdfs_dir`` on the data commands and scripts: copy with the ``hdfs`` CLI, or a clear error without it.

A fake ``hdfs`` (a small Python script put first on PATH) records its arguments and performs ``-mkdir -p``
and ``-put -f`` on a local folder standing for HDFS, so both branches run for real.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from sparkle.cli import main

REPO = Path(__file__).resolve().parents[1]

FAKE_HDFS = """#!{python}
import json, os, shutil, sys
args = sys.argv[1:]
with open(os.environ["FAKE_HDFS_LOG"], "a", encoding="utf-8") as log:
    log.write(json.dumps(args) + "\\n")
if os.environ.get("FAKE_HDFS_FAIL"):
    print("mkdir: Permission denied: user=me, access=WRITE", file=sys.stderr)
    sys.exit(1)
root = os.environ["FAKE_HDFS_ROOT"]
def local(path):
    return os.path.join(root, path.split("://", 1)[-1].lstrip("/"))
assert args[0] == "dfs", args
if args[1:3] == ["-mkdir", "-p"]:
    os.makedirs(local(args[3]), exist_ok=True)
elif args[1:3] == ["-put", "-f"]:
    *files, target = args[3:]
    assert os.path.isdir(local(target)), "put into a missing folder"
    for f in files:
        shutil.copyfile(f, os.path.join(local(target), os.path.basename(f)))
else:
    sys.exit(2)
"""

TRAIN = [{"problem": "What is 2+3?", "answer": "5"}, {"problem": "What is 2+4?", "answer": 6}]
VAL = [{"id": "v1", "problem": "What is 1+1?", "answer": "2"}]
STAGE_ONE_FILES = [
    "sparkle_dsr40k.parquet",
    "sparkle_dsr40k.jsonl",
    "sparkle_aime2024.parquet",
    "sparkle_aime2024.jsonl",
]


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture()
def inputs(tmp_path: Path) -> tuple[Path, Path]:
    return _jsonl(tmp_path / "train.jsonl", TRAIN), _jsonl(tmp_path / "val.jsonl", VAL)


@pytest.fixture()
def fake_hdfs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """A fake ``hdfs`` first on PATH; returns its log file and the folder that stands for HDFS."""
    bin_dir, root, log = tmp_path / "bin", tmp_path / "hdfs_root", tmp_path / "hdfs.log"
    bin_dir.mkdir()
    root.mkdir()
    script = bin_dir / "hdfs"
    script.write_text(FAKE_HDFS.format(python=sys.executable), encoding="utf-8")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("FAKE_HDFS_LOG", str(log))
    monkeypatch.setenv("FAKE_HDFS_ROOT", str(root))
    monkeypatch.delenv("FAKE_HDFS_FAIL", raising=False)
    return {"log": log, "root": root}


def _calls(log: Path) -> list[list[str]]:
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]


def _stage_one_argv(inputs: tuple[Path, Path], out: Path, *extra: str) -> list[str]:
    train, val = inputs
    return ["data", "stage-one", "--source", str(train), "--val-source", str(val), "--out", str(out), *extra]


@pytest.mark.parametrize("spelling", ["--hdfs-dir", "--hdfs_dir"])
def test_cli_copies_written_files_with_the_hdfs_cli(inputs, fake_hdfs, tmp_path, capsys, spelling) -> None:
    out = tmp_path / "out"
    assert main(_stage_one_argv(inputs, out, spelling, "hdfs:///user/me/sparkle/")) == 0
    calls = _calls(fake_hdfs["log"])
    assert calls[0] == ["dfs", "-mkdir", "-p", "hdfs:///user/me/sparkle"]
    assert calls[1][:3] == ["dfs", "-put", "-f"] and calls[1][-1] == "hdfs:///user/me/sparkle"
    assert sorted(Path(f).name for f in calls[1][3:-1]) == sorted(STAGE_ONE_FILES)
    assert len(calls) == 2
    copied = fake_hdfs["root"] / "user" / "me" / "sparkle"
    for name in STAGE_ONE_FILES:
        assert (copied / name).read_bytes() == (out / name).read_bytes(), name
    printed = capsys.readouterr().out.splitlines()
    assert [line for line in printed if line.startswith("hdfs://")] == [
        f"hdfs:///user/me/sparkle/{name}" for name in STAGE_ONE_FILES
    ]


def test_without_hdfs_cli_fails_before_building(inputs, tmp_path, monkeypatch, capsys) -> None:
    empty = tmp_path / "empty_bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    out = tmp_path / "out"
    assert main(_stage_one_argv(inputs, out, "--hdfs_dir", "/user/me/sparkle")) == 2
    err = capsys.readouterr().err
    assert "copying to HDFS needs the Hadoop `hdfs` command line on PATH" in err
    assert "Traceback" not in err
    assert not out.exists()  # nothing was built


def test_failing_hdfs_is_one_error_and_keeps_local_files(
    inputs, fake_hdfs, tmp_path, monkeypatch, capsys
) -> None:
    monkeypatch.setenv("FAKE_HDFS_FAIL", "1")
    out = tmp_path / "out"
    assert main(_stage_one_argv(inputs, out, "--hdfs-dir", "/user/me/sparkle")) == 2
    err = capsys.readouterr().err
    assert "`hdfs dfs -mkdir -p ...` failed with exit status 1: mkdir: Permission denied" in err
    assert "the files are complete in the local output folder" in err
    assert sorted(p.name for p in out.iterdir()) == sorted(STAGE_ONE_FILES)


def test_every_data_command_and_script_takes_hdfs_dir() -> None:
    import argparse

    from sparkle.data.cli import register

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    for command in ("stage-one", "stage-two", "benchmarks", "probes", "mine-hard"):
        extra = ["s.jsonl"] if command == "mine-hard" else []
        args = parser.parse_args(["data", command, *extra, "--hdfs_dir", "/d"])
        assert args.hdfs_dir == "/d", command
    for script in sorted((REPO / "scripts" / "data").glob("*.py")):
        proc = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True)
        assert proc.returncode == 0 and "--hdfs_dir" in proc.stdout, script.name


@pytest.mark.parametrize("with_hdfs", [True, False])
def test_original_script_hdfs_dir(inputs, fake_hdfs, tmp_path, with_hdfs: bool) -> None:
    """`python scripts/data/prepare_stage_one_data.py --local_dir D --hdfs_dir H`, both branches."""
    train, val = inputs
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    if not with_hdfs:
        env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if p != str(tmp_path / "bin"))
    out = tmp_path / "local"
    cmd = [
        sys.executable,
        str(REPO / "scripts" / "data" / "prepare_stage_one_data.py"),
        "--local_dir",
        str(out),
    ]
    cmd += ["--source", str(train), "--val_source", str(val), "--hdfs_dir", "/data/sparkle"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    if with_hdfs:
        assert proc.returncode == 0, proc.stderr[-2000:]
        for name in STAGE_ONE_FILES:
            assert (fake_hdfs["root"] / "data" / "sparkle" / name).read_bytes() == (out / name).read_bytes()
    else:
        assert proc.returncode == 2
        assert (
            "needs the Hadoop `hdfs` command line on PATH" in proc.stderr and "Traceback" not in proc.stderr
        )
        assert not out.exists()
