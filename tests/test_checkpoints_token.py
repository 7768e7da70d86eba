"""``--hf_token`` of the converter (both script locations): moved into HF_TOKEN, never logged or in argv."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sparkle.checkpoints.cli import argv_without_token, fsdp2hf_main

REPO = Path(__file__).resolve().parents[1]
TOKEN = "hf_FAKEtoken0123456789"

ARGV_CASES = [
    (["py", "x.py", "--hf_token", TOKEN, "--upload"], ["py", "x.py", "--upload"]),
    (["py", "x.py", "--hf-token", TOKEN], ["py", "x.py"]),
    (["py", "x.py", f"--hf_token={TOKEN}", "--private"], ["py", "x.py", "--private"]),
    # argparse accepts unambiguous abbreviations; they are removed as well.
    (["py", "-m", "sparkle", "convert", "--hf_tok", TOKEN], ["py", "-m", "sparkle", "convert"]),
    (["py", "x.py", "--output_path", "out"], ["py", "x.py", "--output_path", "out"]),
]


@pytest.mark.parametrize(("argv", "expected"), ARGV_CASES)
def test_argv_without_token(argv: list[str], expected: list[str]) -> None:
    assert argv_without_token(argv, TOKEN) == expected


def test_in_process_token_goes_to_the_environment(tmp_path, monkeypatch, caplog, capsys) -> None:
    monkeypatch.setenv("HF_TOKEN", "")  # restored (unset) afterwards
    monkeypatch.delenv("HF_TOKEN")
    argv = [
        "--fsdp_path",
        str(tmp_path / "missing"),
        "--output_path",
        str(tmp_path / "hf"),
        "--hf_token",
        TOKEN,
    ]
    assert fsdp2hf_main(argv) == 2
    assert os.environ["HF_TOKEN"] == TOKEN  # where the upload reads it (sparkle.checkpoints.hub.upload_token)
    captured = capsys.readouterr()
    assert TOKEN not in captured.out + captured.err + caplog.text
    assert "export HF_TOKEN instead" in caplog.text
    assert not (tmp_path / "hf").exists()


def test_empty_token_is_rejected(tmp_path, capsys) -> None:
    argv = ["--fsdp_path", str(tmp_path), "--output_path", str(tmp_path / "hf"), "--hf_token", " "]
    assert fsdp2hf_main(argv) == 2
    assert "--hf_token is empty; export HF_TOKEN" in capsys.readouterr().err


# Imported at every interpreter start (PYTHONPATH): records each program image's command line and whether
# HF_TOKEN is set, so the test sees the restart without the token deterministically.
SITECUSTOMIZE = """
import json, os, sys
with open(os.environ["ARGV_RECORD"], "a", encoding="utf-8") as f:
    cmdline = open("/proc/self/cmdline", "rb").read().decode("utf-8", "replace").rstrip("\\0").split("\\0")
    f.write(json.dumps({"pid": os.getpid(), "cmdline": cmdline, "hf_token": os.environ.get("HF_TOKEN")}) + "\\n")
"""


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs /proc")
@pytest.mark.parametrize("script", ["eval/fsdp2hf.py", "scripts/eval/fsdp2hf.py"])
def test_script_restarts_without_the_token(tmp_path: Path, script: str) -> None:
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    record = tmp_path / "argv.jsonl"
    env = {k: v for k, v in os.environ.items() if k != "HF_TOKEN"}
    env["PYTHONPATH"] = os.pathsep.join([str(hook), str(REPO), env.get("PYTHONPATH", "")])
    env["ARGV_RECORD"] = str(record)
    cmd = [sys.executable, str(REPO / script), "--fsdp_path", str(tmp_path / "missing")]
    cmd += ["--output_path", str(tmp_path / "hf"), "--upload", "--repo_id", "me/model", "--hf_token", TOKEN]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert TOKEN not in proc.stdout + proc.stderr
    assert "export HF_TOKEN instead" in proc.stderr and "fsdp2hf.py: error:" in proc.stderr
    starts = [json.loads(line) for line in record.read_text(encoding="utf-8").splitlines()]
    # The command as typed (unavoidably with the token), then the same process restarted without it.
    assert len(starts) == 2 and starts[0]["pid"] == starts[1]["pid"]
    assert TOKEN in starts[0]["cmdline"] and starts[0]["hf_token"] is None
    assert not any(TOKEN in arg for arg in starts[1]["cmdline"]) and starts[1]["hf_token"] == TOKEN
    assert starts[1]["cmdline"][-2:] == ["--repo_id", "me/model"]


@pytest.mark.parametrize("script", ["eval/fsdp2hf.py", "scripts/eval/fsdp2hf.py"])
def test_both_script_locations_show_the_original_flags(script: str) -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    proc = subprocess.run(
        [sys.executable, str(REPO / script), "--help"], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0
    for flag in (
        "--fsdp_path",
        "--base_model",
        "--output_path",
        "--upload",
        "--repo_id",
        "--hf_token",
        "--private",
    ):
        assert flag in proc.stdout, flag
