"""`sparkle download` names and offline behaviour; upload argument and token handling (no network here)."""

from __future__ import annotations

import pytest

from sparkle.checkpoints.hub import DOWNLOADS, HubRepo, download, resolve_download, upload_model, upload_token
from sparkle.cli import main as sparkle_main
from sparkle.errors import SparkleError
from sparkle.registry import DATASETS, MODELS


def test_download_table_is_the_registry():
    assert {n: r for n, r in DOWNLOADS.items() if r.repo_type == "model"} == {
        n: HubRepo(i, "model") for n, i in MODELS.items()
    }
    assert {n: r for n, r in DOWNLOADS.items() if r.repo_type == "dataset"} == {
        n: HubRepo(d.repo_id, "dataset") for n, d in DATASETS.items()
    }
    for name in (
        "stage1",
        "stage2-aug",
        "stage2-hard",
        "stage2-mix",
        "dsr40k",
        "hardmath",
        "sparkle_preview",
    ):
        assert name in DOWNLOADS


@pytest.mark.parametrize(
    ("name", "repo_type", "expected"),
    [
        ("stage2-aug", None, HubRepo(MODELS["stage2-aug"], "model")),
        ("Stage2_Aug", None, HubRepo(MODELS["stage2-aug"], "model")),
        ("stage1", "model", HubRepo(MODELS["stage1"], "model")),
        ("dsr40k", None, HubRepo(DATASETS["dsr40k"].repo_id, "dataset")),
        ("sparkle-preview", None, HubRepo(DATASETS["sparkle_preview"].repo_id, "dataset")),
        ("olympiad-bench", "dataset", HubRepo(DATASETS["olympiad_bench"].repo_id, "dataset")),
        ("someone/some-model", None, HubRepo("someone/some-model", "model")),
        ("someone/some-data", "dataset", HubRepo("someone/some-data", "dataset")),
    ],
)
def test_resolve_download(name, repo_type, expected):
    assert resolve_download(name, repo_type) == expected


@pytest.mark.parametrize(
    ("name", "repo_type", "message"),
    [
        ("stage3", None, r"unknown download name 'stage3'; use one of base, stage1, stage2-aug"),
        ("dsr40k", "model", r"'dsr40k' is a dataset \(sparkle-reasoning/dsr40k\), not a model"),
        ("stage1", "space", r"--repo-type 'space': use model or dataset"),
    ],
)
def test_resolve_download_errors(name, repo_type, message):
    with pytest.raises(SparkleError, match=message):
        resolve_download(name, repo_type)


def test_download_offline_is_a_clear_error(tmp_path):
    with pytest.raises(SparkleError) as info:
        download("hardmath", tmp_path / "hardmath")
    message = str(info.value)
    assert "cannot download 'hardmath' (dataset sparkle-reasoning/hardmath)" in message
    assert "HF_HUB_OFFLINE is set" in message and "partial downloads resume" in message


def test_download_cli(tmp_path, capsys):
    assert sparkle_main(["download", "--list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert f"stage2-aug\tmodel\t{MODELS['stage2-aug']}" in listed
    assert len(listed) == len(DOWNLOADS)

    # Every name is checked before anything is fetched; offline, the first fetch fails with exit status 2.
    assert sparkle_main(["download", "stage1", "nonsense", "--out", str(tmp_path)]) == 2
    assert "unknown download name 'nonsense'" in capsys.readouterr().err
    assert sparkle_main(["download", "stage2-mix", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith("sparkle download: error: cannot download 'stage2-mix' (model ")
        and MODELS["stage2-mix"] in err
    )
    assert not (tmp_path / "stage2-mix").exists()
    assert sparkle_main(["download"]) == 2
    assert "name what to download" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("bf16", "bfloat16"),
        ("BF16", "bfloat16"),
        ("bfloat16", "bfloat16"),
        ("fp16", "float16"),
        ("fp32", "float32"),
    ],
)
def test_output_dtype_names(name, expected):
    import torch

    from sparkle.checkpoints.convert import torch_dtype

    assert torch_dtype(name) == getattr(torch, expected)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--upload"], "--upload needs --repo_id ORG/NAME"),
        (["--repo_id", "me/model"], "--repo_id is only used with --upload"),
        (["--private"], "--private is only used with --upload"),
        # Checked before any conversion work: the checkpoint path does not even exist here.
        (["--upload", "--repo_id", "me/model"], "cannot upload: HF_HUB_OFFLINE is set"),
    ],
)
def test_convert_upload_arguments(tmp_path, capsys, extra, message):
    argv = [
        "convert",
        "--fsdp_path",
        str(tmp_path / "missing"),
        "--output_path",
        str(tmp_path / "out"),
        *extra,
    ]
    assert sparkle_main(argv) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.fixture
def online_without_login(monkeypatch, tmp_path):
    """Hub traffic allowed, no HF_TOKEN and no stored login, and an endpoint that refuses connections."""
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no_token"))
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")
    for var in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_OIDC_RESOURCE"):
        monkeypatch.delenv(var, raising=False)


def test_upload_needs_a_token_from_the_environment(online_without_login, monkeypatch):
    with pytest.raises(SparkleError, match="no Hugging Face token; export HF_TOKEN"):
        upload_token()
    monkeypatch.setenv("HF_TOKEN", "hf_fromtheenvironment")
    assert upload_token() == "hf_fromtheenvironment"


def test_failed_upload_names_the_repo_and_never_the_token(online_without_login, tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    secret = "hf_verysecretvalue123"
    with pytest.raises(SparkleError) as info:
        upload_model(folder, "me/sparkle-test", token=secret)
    message = str(info.value)
    assert "upload of" in message and "me/sparkle-test" in message and "hf upload me/sparkle-test" in message
    assert secret not in message and secret not in repr(info.value.__cause__)
