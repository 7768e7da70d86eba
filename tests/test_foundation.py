"""The package's ground rules: the real verl wins over the repo's verl/ folder, the CLI and helpers work."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from sparkle.errors import SparkleError
from sparkle.io import atomic_path, read_jsonl, write_jsonl_atomic


def test_verl_folder_is_not_a_package(repo_root):
    assert not (repo_root / "verl" / "__init__.py").exists()
    assert not any(p.suffix == ".py" for p in (repo_root / "verl").rglob("*")), (
        "verl/ must hold no Python source"
    )


@pytest.mark.slow
def test_import_verl_from_repo_root_is_the_installed_package(repo_root):
    code = "import json, os, verl, sparkle; print(json.dumps([os.path.dirname(verl.__file__), verl.__version__]))"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=repo_root, capture_output=True, text=True, check=True
    )
    (found,) = [line for line in out.stdout.splitlines() if line.startswith('["')]
    location, version = json.loads(found)
    assert "site-packages" in location and not location.startswith(str(repo_root / "verl"))
    assert version == "0.9.1"


def test_cli_help_lists_commands(repo_root):
    out = subprocess.run(
        [sys.executable, "-m", "sparkle", "--help"], cwd=repo_root, capture_output=True, text=True
    )
    assert out.returncode == 0
    assert "usage: sparkle" in out.stdout
    listed = {line.split()[0] for line in out.stdout.splitlines() if line.startswith("    ") and line.split()}
    expected = {
        "data",
        "score",
        "train",
        "probe",
        "eval",
        "report",
        "rescore",
        "convert",
        "download",
        "pipeline",
        "demo",
    }
    assert expected <= listed, expected - listed


def test_tiny_model_round_trip(tiny_model_dir, tiny_tokenizer):
    from transformers import AutoModelForCausalLM

    text = tiny_tokenizer.apply_chat_template(
        [{"role": "user", "content": "1+1?"}], tokenize=False, add_generation_prompt=True
    )
    assert text.endswith("<|im_start|>assistant\n") and "You are a helpful assistant." in text
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    ids = tiny_tokenizer(text, return_tensors="pt").input_ids
    out = model.generate(ids, max_new_tokens=4, do_sample=False)
    assert out.shape[1] <= ids.shape[1] + 4
    assert tiny_tokenizer.decode(ids[0]) == text  # byte-level BPE is lossless


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.jsonl"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []
    write_jsonl_atomic(target, [{"a": 1}])
    assert read_jsonl(target) == [{"a": 1}]


def test_read_jsonl_names_file_and_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"a": 1}\n{oops\n')
    with pytest.raises(SparkleError, match=r"bad.jsonl, line 2"):
        read_jsonl(bad)


def test_atomic_output_gets_ordinary_permissions(tmp_path):
    import os

    umask = os.umask(0o022)
    try:
        write_jsonl_atomic(tmp_path / "a.jsonl", [{"a": 1}])
    finally:
        os.umask(umask)
    assert (tmp_path / "a.jsonl").stat().st_mode & 0o777 == 0o644


PREVIEW_ROW = {
    "problem": "What is 1 + 1?",
    "planning": "1. Add.",
    "knowledge": "Addition.",
    "augmented_problem": "Add 1 and 1.",
}


@pytest.mark.parametrize(
    ("condition", "family", "contains"),
    [
        ("vanilla", "sparkle", ("User: What is 1 + 1? Assistant:",)),
        ("plan", "sparkle", ("What is 1 + 1?", "planning skeleton", "1. Add.")),
        ("knowledge", "srl", ("What is 1 + 1?", "reference knowledge base", "Addition.", "\\boxed{}")),
        ("subproblem", "sparkle", ("User: Add 1 and 1. Assistant:",)),
    ],
)
def test_probe_prompt_uses_the_fields_of_its_condition(condition, family, contains):
    from sparkle.prompts import probe_prompt

    prompt = probe_prompt(condition, PREVIEW_ROW, family)
    assert all(part in prompt for part in contains), prompt


@pytest.mark.parametrize(
    ("condition", "row", "family", "message"),
    [
        (
            "hints",
            PREVIEW_ROW,
            "sparkle",
            "unknown probe condition 'hints': use one of vanilla, plan, knowledge, subproblem",
        ),
        ("plan", PREVIEW_ROW, "qwen", "unknown prompt family 'qwen': use one of sparkle, srl"),
        ("plan", {"problem": "x"}, "sparkle", "condition 'plan' needs the row's planning text"),
        ("subproblem", {"problem": "x"}, "srl", "needs the row's augmented_problem text.*keys problem"),
        ("vanilla", {"problem": None}, "sparkle", "needs the row's problem text"),
    ],
)
def test_probe_prompt_bad_input_is_a_sparkle_error(condition, row, family, message):
    from sparkle.prompts import probe_prompt

    with pytest.raises(SparkleError, match=message):
        probe_prompt(condition, row, family)


def test_repository_and_shared_folders(repo_root, tmp_path, monkeypatch):
    from sparkle.paths import repo_root as package_repo_root
    from sparkle.paths import shared_dir

    assert package_repo_root() == repo_root and (repo_root / "configs" / "stage_one.yaml").is_file()
    monkeypatch.delenv("SPARKLE_SHARED_DIR", raising=False)
    assert shared_dir() == repo_root.parent / "shared"
    monkeypatch.setenv("SPARKLE_SHARED_DIR", str(tmp_path))
    assert shared_dir() == tmp_path


@pytest.mark.parametrize(
    ("text", "hub"),
    [
        ("Qwen/Qwen2.5-Math-7B", True),
        ("sparkle-reasoning/SparkleRL-7B-Stage1", True),
        ("models/stage1_hf", True),  # the id's shape, and no such folder here
        ("./models/stage1_hf", False),
        ("/abs/model", False),
        ("~/model/x", False),
        ("not-a-hub-id", False),
        ("a/b/c", False),
        ("org/na me", False),
    ],
)
def test_is_hub_id(text, hub):
    from sparkle.paths import is_hub_id

    assert is_hub_id(text) is hub
    # model loaders also take a bare name; everything else is the same rule
    assert is_hub_id(text, bare_names=True) is (hub or text == "not-a-hub-id")


def test_an_existing_folder_is_not_a_hub_id(tmp_path, monkeypatch):
    from sparkle.paths import is_hub_id

    monkeypatch.chdir(tmp_path)
    (tmp_path / "org" / "name").mkdir(parents=True)
    assert not is_hub_id("org/name")
