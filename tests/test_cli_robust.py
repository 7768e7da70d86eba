"""Bad input at the command line: one line naming what is wrong, exit status 2, nothing written.

Each case builds its inputs in a fresh folder, runs ``sparkle ...`` in-process, and checks the exit code,
a fragment of the one-line message on stderr, that no traceback was printed and that no file appeared.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from sparkle.cli import main

GOOD_ROW = {"response": "<think>x</think> \\boxed{2}", "ground_truth": "2"}
TRAIN = [{"problem": f"What is {i}+1?", "answer": str(i + 1)} for i in range(3)]
VAL = [{"id": "v1", "problem": "What is 1+1?", "answer": "2"}]


def _jsonl(path: Path, rows: list[dict]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def _bytes(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


def _fifo(path: Path) -> str:
    os.mkfifo(path)
    return str(path)


def _saved_dataset(path: Path, damaged: bool) -> str:
    import datasets

    datasets.DatasetDict({"train": datasets.Dataset.from_list(TRAIN)}).save_to_disk(str(path))
    if damaged:
        for arrow in path.rglob("*.arrow"):
            arrow.write_bytes(arrow.read_bytes()[:40])
    return str(path)


def _samples(path: Path) -> str:
    rows = [{"doc": {"problem": "P?", "answer": "1"}, "resps": [["\\boxed{1}"]]} for _ in range(3)]
    return _jsonl(path, rows)


# (id, argv builder given the case folder, expected exit code, fragment of the message)
CASES: list[tuple[str, Callable[[Path], list[str]], int, str]] = [
    (
        "score non-UTF-8 input",
        lambda d: ["score", _bytes(d / "in.jsonl", b'{"response": "\xff\xfe"}\n'), "-o", str(d / "o.jsonl")],
        2,
        "in.jsonl: not UTF-8 text",
    ),
    (
        "score empty input",
        lambda d: ["score", _bytes(d / "in.jsonl", b""), "-o", str(d / "o.jsonl")],
        2,
        "no rows (empty file)",
    ),
    (
        "score input is a folder",
        lambda d: ["score", str(d), "-o", str(d / "o.jsonl")],
        2,
        "is a folder, not a JSON-lines file",
    ),
    (
        "score missing input",
        lambda d: ["score", str(d / "nope.jsonl"), "-o", str(d / "o.jsonl")],
        2,
        "nope.jsonl: file not found",
    ),
    (
        "score --timeout 0",
        lambda d: ["score", _jsonl(d / "in.jsonl", [GOOD_ROW]), "-o", str(d / "o.jsonl"), "--timeout", "0"],
        2,
        "argument --timeout: '0' must be greater than 0",
    ),
    (
        "score --timeout nan",
        lambda d: ["score", _jsonl(d / "in.jsonl", [GOOD_ROW]), "-o", str(d / "o.jsonl"), "--timeout", "nan"],
        2,
        "is not a finite number",
    ),
    (
        "score output is a folder",
        lambda d: ["score", _jsonl(d / "in.jsonl", [GOOD_ROW]), "-o", str(d)],
        2,
        "is a folder, but a file is expected",
    ),
    (
        "score output under a file",
        lambda d: ["score", _jsonl(d / "in.jsonl", [GOOD_ROW]), "-o", str(d / "in.jsonl" / "o.jsonl")],
        2,
        "is a file, so nothing can be created under it",
    ),
    (
        "score output name too long",
        lambda d: ["score", _jsonl(d / "in.jsonl", [GOOD_ROW]), "-o", str(d / ("x" * 300 + ".jsonl"))],
        2,
        "is too long to exist",
    ),
    (
        "score output is a pipe",
        lambda d: ["score", _jsonl(d / "in.jsonl", [GOOD_ROW]), "-o", _fifo(d / "pipe.jsonl")],
        2,
        "is not a regular file (a device, pipe or socket)",
    ),
    (
        "data stage-one output is a file",
        lambda d: [
            "data",
            "stage-one",
            "--source",
            _jsonl(d / "t.jsonl", TRAIN),
            "--out",
            str(d / "t.jsonl"),
        ],
        2,
        "--out",
    ),
    (
        "data stage-one null answer",
        lambda d: [
            "data",
            "stage-one",
            "--source",
            _jsonl(d / "t.jsonl", [*TRAIN, {"problem": "Q?", "answer": None}]),
            "--val-source",
            _jsonl(d / "v.jsonl", VAL),
            "--out",
            str(d / "out"),
        ],
        2,
        "t.jsonl, row 4: field 'answer' is null",
    ),
    (
        "data stage-one non-UTF-8 .json source",
        lambda d: ["data", "stage-one", "--source", _bytes(d / "t.json", b"[\xff]"), "--out", str(d / "out")],
        2,
        "t.json: not UTF-8 text",
    ),
    (
        "data stage-one damaged save_to_disk folder",
        lambda d: ["data", "stage-one", "--source", _saved_dataset(d / "ds", True), "--out", str(d / "out")],
        2,
        "damaged dataset folder",
    ),
    (
        "data stage-one unknown split lists the splits",
        lambda d: [
            "data",
            "stage-one",
            "--source",
            _saved_dataset(d / "ds", False),
            "--split",
            "foo",
            "--out",
            str(d / "out"),
        ],
        2,
        "saved dataset has splits train ('foo' is not one of them)",
    ),
    (
        "data stage-two --mix-ratio nan",
        lambda d: ["data", "stage-two", "--variant", "mix", "--mix-ratio", "nan", "--out", str(d / "out")],
        2,
        "argument --mix-ratio: 'nan' is not a finite number",
    ),
    (
        "data stage-two --mix-ratio -1",
        lambda d: ["data", "stage-two", "--variant", "mix", "--mix-ratio=-1", "--out", str(d / "out")],
        2,
        "must be 0 or more",
    ),
    (
        "data stage-two offline without --source",
        lambda d: ["data", "stage-two", "--out", str(d / "out")],
        2,
        "not in the local cache; pass a local copy with --source PATH",
    ),
    (
        "eval run offline with a Hub id",
        lambda d: ["eval", "run", "--model", "someorg/not-cached", "--out", str(d / "out")],
        2,
        "not in the local cache; pass a local model folder",
    ),
    (
        "data benchmarks offline",
        lambda d: ["data", "benchmarks", "--only", "gsm8k", "--out", str(d / "out")],
        2,
        "not in the local cache",
    ),
    (
        "data mine-hard --min-samples above the samples",
        lambda d: [
            "data",
            "mine-hard",
            _samples(d / "s.jsonl"),
            "--min-samples",
            "5",
            "--out",
            str(d / "m.jsonl"),
        ],
        2,
        "the most any problem has is 3",
    ),
    (
        "train check override without =",
        lambda d: ["train", "check", "stage_one", "trainer.total_epochs=3", "actor_rollout_ref"],
        2,
        "override 'actor_rollout_ref': has no '='",
    ),
    (
        "unknown log level",
        lambda d: ["--log-level", "loud", "score", "x.jsonl", "-o", str(d / "o.jsonl")],
        2,
        "unknown log level 'loud'",
    ),
]


def _files(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if not p.is_dir()}


@pytest.mark.parametrize(("argv", "code", "fragment"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_one_line(argv, code: int, fragment: str, tmp_path: Path, capsys) -> None:
    args = argv(tmp_path)
    before = _files(tmp_path)
    try:
        status = main(args)
    except SystemExit as e:  # argparse refuses a value with SystemExit(2)
        status = e.code
    err = capsys.readouterr().err
    assert status == code, err
    assert fragment in err, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1, err
    if args[0] != "--log-level" and args[:2] != ["train", "check"]:
        group = " ".join(a for a in args[:2] if not a.startswith("-") and "/" not in a and "." not in a)
        assert (
            lines[0].startswith(f"sparkle {group}: error:")
            or lines[0].startswith("usage")
            or (f"sparkle {group}" in err)
        ), err
    assert _files(tmp_path) == before, "a bad input left a file behind"


def test_error_prefix_names_group_and_subcommand(tmp_path: Path, capsys) -> None:
    status = main(
        ["data", "stage-one", "--source", str(tmp_path / "none.jsonl"), "--out", str(tmp_path / "o")]
    )
    assert status == 2
    assert capsys.readouterr().err.startswith("sparkle data stage-one: error: ")


def test_log_level_any_case_and_malformed_rows_counted(tmp_path: Path, capsys) -> None:
    rows = [
        GOOD_ROW,
        {"response": "\\boxed{2}", "ground_truth": {"a": 1}},
        {"response": 42, "ground_truth": "2"},
        {"response": "\\boxed{2}", "ground_truth": ""},
    ]
    out = tmp_path / "o.jsonl"
    assert main(["--log-level", "DeBuG", "score", _jsonl(tmp_path / "in.jsonl", rows), "-o", str(out)]) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out.strip().splitlines()[-1])
    assert summary["malformed"] == 3 and summary["n"] == 4
    assert "3 of 4 responses were scored as wrong because their input is malformed" in captured.err
    written = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["malformed"] is None for r in written] == [True, False, False, False]
    assert [r["acc"] for r in written] == [1, 0, 0, 0]


def test_unexpected_bug_keeps_its_traceback() -> None:
    from sparkle.errors import run_command

    def buggy() -> int:
        raise ZeroDivisionError("a bug")

    with pytest.raises(ZeroDivisionError):
        run_command("sparkle x", buggy)


def test_interrupted_stage_one_leaves_a_matching_pair(tmp_path: Path) -> None:
    """SIGINT while `data stage-one` writes: exit 130 with one line; the parquet and the JSONL are the old
    pair or the new pair (same rows), complete, and no temporary is left."""
    import pyarrow.parquet as pq

    out = tmp_path / "out"
    val = _jsonl(tmp_path / "v.jsonl", VAL)
    small = _jsonl(tmp_path / "small.jsonl", TRAIN)
    big = _jsonl(
        tmp_path / "big.jsonl", [{"problem": f"Q{i}? " + "x" * 400, "answer": str(i)} for i in range(60000)]
    )
    assert main(["data", "stage-one", "--source", small, "--val-source", val, "--out", str(out)]) == 0
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    command = [sys.executable, "-m", "sparkle", "data", "stage-one", "--source", big, "--val-source", val]
    start = time.monotonic()
    subprocess.run([*command, "--out", str(tmp_path / "timing")], env=env, check=True, capture_output=True)
    whole = time.monotonic() - start
    codes = []
    for fraction in (0.35, 0.6, 0.8, 0.95):
        proc = subprocess.Popen(
            [*command, "--out", str(out)],
            env=env,
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
        )
        time.sleep(whole * fraction)
        proc.send_signal(signal.SIGINT)
        err = proc.communicate(timeout=120)[1]
        codes.append(proc.returncode)
        # -2: the signal came after the work, while the interpreter was already shutting down
        assert proc.returncode in (0, 130, -signal.SIGINT), err
        assert "Traceback" not in err, err
        if proc.returncode == 130:
            assert err.strip().splitlines()[-1] == "sparkle data stage-one: interrupted"
        parquet = pq.read_table(out / "sparkle_dsr40k.parquet").to_pylist()
        lines = (out / "sparkle_dsr40k.jsonl").read_text(encoding="utf-8").splitlines()
        assert len(parquet) == len(lines) in (len(TRAIN), 60000)
        assert json.loads(lines[-1])["extra_info"] == parquet[-1]["extra_info"]
        assert not [p.name for p in out.iterdir() if p.name.endswith(".tmp")]
    assert 130 in codes, (
        f"no run was interrupted mid-way (exit codes {codes}, a whole run takes {whole:.1f} s)"
    )


def test_stale_temporaries_are_cleaned_only_when_they_are_ours(tmp_path: Path) -> None:
    from sparkle.io import stale_temporaries, write_text_atomic

    target = tmp_path / "a.json"
    old = time.time() - 3600
    dead = tmp_path / ".a.json.999999999-abcd.tmp"  # no such pid: a killed writer
    legacy = tmp_path / ".a.json.k3j4h5.tmp"  # the name pattern before pids were added
    alive = tmp_path / f".a.json.{os.getppid()}-abcd.tmp"  # a running process: not ours to remove
    other = tmp_path / ".a.json.b.1234-x.tmp"  # the temporary of another file, "a.json.b"
    user = tmp_path / ".a.json.notes"  # a user's file
    for path in (dead, legacy, alive, other, user):
        path.write_text("x")
        os.utime(path, (old, old))
    fresh = tmp_path / ".a.json.999999998-new.tmp"  # written after this process started
    fresh.write_text("x")
    assert set(stale_temporaries(target)) == {dead, legacy}
    write_text_atomic(target, "{}\n")
    assert target.read_text() == "{}\n"
    assert not dead.exists() and not legacy.exists()
    assert alive.exists() and other.exists() and user.exists() and fresh.exists()


def test_output_check_table(tmp_path: Path) -> None:
    from sparkle.errors import SparkleError
    from sparkle.io import check_output_path

    (tmp_path / "f").write_text("x")
    (tmp_path / "d").mkdir()
    ok = [("d", "dir"), ("d/new.jsonl", "file"), ("new/deeper/x.jsonl", "file"), ("f", "file")]
    for rel, kind in ok:
        check_output_path(tmp_path / rel, kind)
    bad = [
        ("d", "file", "is a folder"),
        ("f", "dir", "is a file, but a folder"),
        ("f/x.jsonl", "file", "nothing can be created under it"),
        ("f/a/b", "dir", "nothing can be created under it"),
        ("x" * 256, "dir", "too long"),
    ]
    for rel, kind, fragment in bad:
        with pytest.raises(SparkleError, match=fragment):
            check_output_path(tmp_path / rel, kind)
    if os.geteuid() != 0:  # root writes anywhere; the check is exercised for other users
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o500)
        with pytest.raises(SparkleError, match="not writable"):
            check_output_path(ro / "x.jsonl", "file")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["f", "d"] + (["ro"] if os.geteuid() else []))


def test_offline_detection(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """HF_HUB_OFFLINE answers at once; without it a closed endpoint port is detected by a TCP probe."""
    from sparkle import hub
    from sparkle.errors import SparkleError

    with pytest.raises(SparkleError, match="switched off .*--source PATH"):
        hub.require_hub("org/none", "dataset")
    for name in (
        "HF_HUB_OFFLINE",
        "HF_DATASETS_OFFLINE",
        "TRANSFORMERS_OFFLINE",
        "HTTPS_PROXY",
        "https_proxy",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # discard port: nothing listens there
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(hub, "_hub_cache", lambda: tmp_path / "hub")
    assert hub.hub_reachable() is False
    with pytest.raises(SparkleError, match=r"127.0.0.1:9\) cannot be reached .* local model folder"):
        hub.require_hub("org/model", "model")
    # Cached: allowed, and the process switches the libraries to offline mode (no retries).
    (tmp_path / "hub" / "models--org--model" / "snapshots").mkdir(parents=True)
    hub.require_hub("org/model", "model")
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    model = tmp_path / "model"
    model.mkdir()
    with pytest.raises(SparkleError, match="no config.json in this model folder"):
        hub.require_hub_or_local(str(model), "model")
    (model / "config.json").write_text("{}")
    hub.require_hub_or_local(str(model), "model")  # a local model folder passes
    with pytest.raises(SparkleError, match="local model not found"):
        hub.require_hub_or_local(str(tmp_path / "missing"), "model")


def _parsers(parser, name="sparkle"):
    import argparse

    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from _parsers(sub, f"{name} {sub_name}")


def test_help_is_plain_text_and_shows_defaults() -> None:
    """Every command's help renders, without reStructuredText quoting; options of score and data all
    carry a description, and every option with a default shows it."""
    import argparse

    from sparkle.cli import build_parser

    for name, parser in _parsers(build_parser()):
        text = parser.format_help()
        assert "``" not in text and "§" not in text, name
        for action in parser._actions:
            if not action.option_strings or isinstance(action, argparse._HelpAction):
                continue
            shown = parser._get_formatter()._get_help_string(action)
            if action.default not in (None, False, True, [], "", argparse.SUPPRESS):
                assert "default" in shown.lower(), f"{name} {action.option_strings[0]}"
            if name.startswith(("sparkle score", "sparkle data")):
                assert action.help and not action.help.startswith("default: %("), (
                    f"{name} {action.option_strings[0]} has no description"
                )


def test_ctrl_c_stops_score_and_its_workers(tmp_path: Path) -> None:
    """SIGINT to the parent alone, mid-scoring with worker processes: exit 130 with one line, no worker
    traceback, no output, and no worker left running."""
    rows = [
        {"response": f"<think>x</think> \\boxed{{\\frac{{{i}}}{{{i + 1}}}}}", "ground_truth": f"{i}/{i + 2}"}
        for i in range(20000)
    ]
    src, out = _jsonl(tmp_path / "in.jsonl", rows), tmp_path / "out.jsonl"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen(
        [sys.executable, "-m", "sparkle", "score", src, "-o", str(out), "--workers", "2"],
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    time.sleep(8)
    children = [  # the scoring workers (multiprocessing's resource tracker ends on its own, later)
        pid
        for pid in subprocess.run(
            ["pgrep", "-P", str(proc.pid)], capture_output=True, text=True
        ).stdout.split()
        if "spawn_main" in Path(f"/proc/{pid}/cmdline").read_text(errors="replace")
    ]
    proc.send_signal(signal.SIGINT)
    err = proc.communicate(timeout=60)[1]
    assert proc.returncode == 130, err
    assert "Traceback" not in err, err
    assert err.strip().splitlines()[-1] == "sparkle score: interrupted"
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert children, "no worker had started; the test did not exercise them"
    for pid in children:  # the workers are gone (reaped by the parent before it exited)
        assert (
            not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text().lower()
        )


@pytest.mark.parametrize(
    ("exc", "fragment"),
    [
        (IsADirectoryError(21, "Is a directory", "/x/d"), "/x/d: is a folder where a file is expected"),
        (NotADirectoryError(20, "Not a directory", "/x/f/a"), "/x/f/a: part of this path is a file"),
        (PermissionError(13, "Permission denied", "/root/x"), "/root/x: permission denied"),
        (FileNotFoundError(2, "No such file"), "file or folder not found"),
        (OSError(28, "No space left on device", "/x/o"), "/x/o: No space left on device"),
    ],
)
def test_environment_errors_become_one_line(exc: BaseException, fragment: str, capsys) -> None:
    from sparkle.errors import run_command

    def fail() -> int:
        raise exc

    assert run_command("sparkle x y", fail) == 2
    err = capsys.readouterr().err
    assert err.startswith("sparkle x y: error: ") and fragment in err and err.count("\n") == 1


def test_yaml_and_decode_errors_become_one_line(capsys) -> None:
    import yaml

    from sparkle.errors import run_command

    def bad_yaml() -> int:
        return yaml.safe_load("a: [1, 2\n")

    def bad_bytes() -> int:
        return len(b"ok \xff".decode("utf-8"))

    assert run_command("sparkle train check", bad_yaml) == 2
    assert "malformed YAML (line 2, column 1)" in capsys.readouterr().err
    assert run_command("sparkle score", bad_bytes) == 2
    assert "not UTF-8 text" in capsys.readouterr().err
