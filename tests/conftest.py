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


# --- Shared fakes for lm-eval runs: a scripted / replaying model and the samples writer ---

LM_EVAL_DATE = "2026-01-01T00-00-00.000000"  # the timestamp lm-eval puts in its file names


def scripted_lm(respond):
    """An lm-eval ``LM`` whose ``generate_until`` answers each request with ``respond(context, kwargs)``;
    log-likelihood requests fail (the tasks under test only generate). lm-eval is imported on first use."""
    from lm_eval.api.model import LM

    class ScriptedLM(LM):
        def generate_until(self, requests, disable_tqdm: bool = False):
            return [respond(*request.args) for request in requests]

        def loglikelihood(self, requests, disable_tqdm: bool = False):
            raise NotImplementedError

        def loglikelihood_rolling(self, requests, disable_tqdm: bool = False):
            raise NotImplementedError

    return ScriptedLM()


def replay_lm(outputs: dict[str, list[str]]):
    """An lm-eval ``LM`` that returns the stored responses of each prompt in order; an unknown prompt fails
    the test. ``lm.calls`` counts the requests per prompt, ``lm.kwargs`` holds their generation kwargs."""
    from collections import Counter

    calls: Counter[str] = Counter()
    kwargs_seen: list[dict] = []

    def respond(context: str, kwargs: dict) -> str:
        assert context in outputs, f"unexpected prompt:\n{context}"
        kwargs_seen.append(dict(kwargs))
        response = outputs[context][calls[context]]
        calls[context] += 1
        return response

    lm = scripted_lm(respond)
    lm.calls, lm.kwargs = calls, kwargs_seen
    return lm


def write_samples(folder: Path, task: str, rows: list[dict], date: str = LM_EVAL_DATE) -> Path:
    """``rows`` as lm-eval's ``samples_<task>_<date>.jsonl`` in ``folder`` (created); returns the file."""
    import json

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"samples_{task}_{date}.jsonl"
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, default=str) + "\n")
    return path


# --- Probe fixtures over the shared probe data of tests/probe_cases.py ---


@pytest.fixture()
def preview_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data folder holding sparkle_preview.jsonl with the four annotated problems; $SPARKLE_DATA_DIR set."""
    import json

    from probe_cases import preview_rows

    from sparkle.probes import tasks

    data = tmp_path / "data"
    data.mkdir()
    with open(data / "sparkle_preview.jsonl", "w", encoding="utf-8") as f:
        for row in preview_rows():
            f.write(json.dumps(row) + "\n")
    monkeypatch.setenv("SPARKLE_DATA_DIR", str(data))
    tasks._problems.cache_clear()
    return data


@pytest.fixture()
def replay_run(preview_dir: Path, repo_root: Path, tmp_path: Path) -> tuple[Path, dict, object]:
    """The eight probe tasks of the two fixture benchmarks, replayed through lm-eval; samples written as
    lm-eval writes them (``<out>/<model>/samples_<task>_<time>.jsonl``)."""
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager
    from probe_cases import TASKS, replay_outputs

    manager = TaskManager(
        include_path=[str(repo_root / "eval" / "tasks" / "sparkle_probes")], include_defaults=False
    )
    lm = replay_lm(replay_outputs())
    results = simple_evaluate(
        model=lm, tasks=TASKS, task_manager=manager, log_samples=True, bootstrap_iters=0
    )
    out = tmp_path / "lm_eval_out" / "replay-model"
    for task, samples in results["samples"].items():
        write_samples(out, task, samples)
    return out, results, lm


# --- FSDP checkpoints written by two gloo processes, shared by the test_checkpoints_* files ---


def offline_env() -> dict[str, str]:
    """The environment for a subprocess: offline Hub, one thread, this repository first on PYTHONPATH."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", OMP_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def _fsdp_checkpoint(folder: Path, tmp_path_factory: pytest.TempPathFactory):
    import shutil
    from types import SimpleNamespace

    import torch

    step = folder / "global_step_1"
    legacy = tmp_path_factory.mktemp("legacy") / "global_step_1"
    shutil.copytree(step, legacy)
    shutil.rmtree(legacy / "actor" / "huggingface")
    (legacy / "actor" / "fsdp_config.json").unlink()
    return SimpleNamespace(
        step=step, actor=step / "actor", legacy=legacy, trained=torch.load(folder / "trained_full.pt")
    )


@pytest.fixture(scope="session")
def fsdp_ckpt(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """An FSDP2 verl checkpoint after one AdamW step, its trained full weights, and a shards-only copy.

    ``fsdp_ckpt.fsdp1`` holds the same for an FSDP1-wrapped run (what the 2025 verl fork trained with),
    ``fsdp_ckpt.uneven`` one whose shards are uneven; written once (tests/fsdp_worker.py under torchrun).
    """
    import subprocess
    import sys

    from safetensors.torch import load_file

    root = tmp_path_factory.mktemp("fsdp_ckpt")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(REPO_ROOT / "tests" / "fsdp_worker.py"), str(tiny_model_dir), str(root)]  # fmt: skip
    proc = subprocess.run(cmd, env=offline_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    ckpt = _fsdp_checkpoint(root, tmp_path_factory)
    ckpt.fsdp1 = _fsdp_checkpoint(root / "fsdp1", tmp_path_factory)
    ckpt.uneven = _fsdp_checkpoint(root / "uneven", tmp_path_factory)
    ckpt.uneven.base = root / "uneven_base"
    ckpt.initial = load_file(str(tiny_model_dir / "model.safetensors"))
    return ckpt


def assert_weights(out: Path, trained: dict, dtype) -> None:
    """The model.safetensors in ``out`` holds exactly ``trained``, cast to ``dtype``."""
    import torch
    from safetensors.torch import load_file

    merged = load_file(str(out / "model.safetensors"))
    assert set(merged) == set(trained)
    for key, value in trained.items():
        assert merged[key].dtype == dtype, key
        assert torch.equal(merged[key], value.to(dtype)), key


def copy_checkpoint(ckpt, tmp_path: Path, legacy: bool = False) -> Path:
    """A copy of the checkpoint's global_step_1 (today's layout, or the shards-only one) to doctor."""
    import shutil

    dst = tmp_path / "global_step_1"
    shutil.copytree(ckpt.legacy if legacy else ckpt.step, dst)
    return dst


def assert_conversion_fails(source: Path, kwargs: dict, tmp_path: Path, message: str) -> None:
    """Converting ``source`` raises a SparkleError matching ``message`` and leaves nothing in the output's
    folder (nothing half-written, no staging folder)."""
    from sparkle.checkpoints import convert_checkpoint
    from sparkle.errors import SparkleError

    out_parent = tmp_path / "outputs"
    out_parent.mkdir()
    with pytest.raises(SparkleError, match=message):
        convert_checkpoint(source, out_parent / "hf", **kwargs)
    assert list(out_parent.iterdir()) == []
