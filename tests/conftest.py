"""Shared test infrastructure: offline mode, the tiny offline model, and the ../shared data folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sparkle.paths import repo_root, shared_dir

# No network in tests: a Hub lookup must fail at once instead of retrying.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("WANDB_MODE", "disabled")
# reward workers also serve the guard-test functions (sleep_worker, echo_worker); production workers do not
os.environ["SPARKLE_REWARD_TEST_WORKERS"] = "1"

REPO_ROOT = repo_root()
SHARED_DIR = shared_dir()  # $SPARKLE_SHARED_DIR, else ../shared beside the repository


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer Qwen2 causal LM + byte-level BPE tokenizer with a Qwen-style chat template, built offline."""
    from sparkle.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny_model"))


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_model_dir: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """../shared beside the repository (the benchmarks and conformance data); skips when absent."""
    if not SHARED_DIR.is_dir():
        pytest.skip(f"{SHARED_DIR} is absent")
    return SHARED_DIR


@pytest.fixture(scope="session")
def shared_data(shared_dir: Path) -> Path:
    path = shared_dir / "data"
    if not path.is_dir():
        pytest.skip(f"{path} is absent")
    return path


@pytest.fixture(scope="session")
def shared_bench(shared_dir: Path) -> Path:
    path = shared_dir / "bench"
    if not path.is_dir():
        pytest.skip(f"{path} is absent")
    return path
