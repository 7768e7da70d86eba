"""`sparkle doctor`: runs on this CPU machine (GPU items FAIL with their fix, exit 1), and every branch of
each check with the real check functions; only what cannot exist here (a GPU, a driver, a CUDA torch) is
made up in the facts."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from sparkle.doctor import Facts, Item, Module, diagnose, gather, ready
from sparkle.train.budget import GPU, parse_nvidia_smi

A100 = GPU("NVIDIA A100-SXM4-80GB", 79.3, (8, 0))


def ready_node(tmp_path: Path, **changes) -> Facts:
    """The facts of a node that is ready (8 x A100-80GB, driver 580, the pinned stack, credentials)."""
    facts = Facts(
        python=(3, 11, 9),
        torch=Module("2.11.0+cu130"),
        torch_cuda="13.0",
        cuda_usable=True,
        driver="580.65.06",
        gpus=[A100] * 8,
        gpu_problem=None,
        flash_attn=Module("2.8.3"),
        modules={
            "vllm": Module("0.24.0"),
            "verl": Module("0.9.1"),
            "lm_eval": Module("0.4.13"),
            "ray": Module("2.60.0"),
        },
        ray_cluster=None,
        ray_auth_mode=None,
        ray_token=False,
        wandb="WANDB_API_KEY",
        hf="HF_TOKEN",
        checkpoint_dir=tmp_path,
        free_bytes=2 * 10**12,
    )
    return dataclasses.replace(facts, **changes)


def by_name(items: list[Item]) -> dict[str, Item]:
    return {item.name: item for item in items}


def test_doctor_on_this_cpu_machine(tmp_path: Path) -> None:
    """The real command: GPU items FAIL with a fix, the rest is reported, exit status 1."""
    result = subprocess.run(
        [sys.executable, "-m", "sparkle", "doctor", "--checkpoint-dir", str(tmp_path / "ckpt")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1, result.stderr
    out = result.stdout
    for name in ("python", "torch", "nvidia driver", "GPUs", "flash-attn", "vllm", "verl", "lm-eval", "ray"):
        assert any(line[6:].startswith(name) for line in out.splitlines()), name
    lines = {
        line[6:20].strip(): line[:4].strip()
        for line in out.splitlines()
        if line[:4] in ("OK  ", "WARN", "FAIL")
    }
    assert lines["GPUs"] == "FAIL" and lines["nvidia driver"] == "FAIL"
    assert lines["python"] == "OK" and lines["verl"] == "OK"
    assert "fix: install NVIDIA driver 580" in out
    assert out.strip().splitlines()[-1].startswith("not ready:")


def test_gathered_facts_of_this_machine(tmp_path: Path) -> None:
    facts = gather(tmp_path / "absent" / "ckpt")
    assert facts.gpus == [] and facts.driver is None
    assert facts.modules["verl"].version == "0.9.1" and facts.modules["verl"].error is None
    assert facts.checkpoint_dir == (tmp_path / "absent" / "ckpt").absolute()
    assert facts.free_bytes and facts.free_bytes > 0
    items = by_name(diagnose(facts))
    assert items["GPUs"].status == "FAIL" and "GPU node" in items["GPUs"].fix


def test_a_ready_node_passes(tmp_path: Path) -> None:
    items = diagnose(ready_node(tmp_path))
    assert [i.status for i in items] == ["OK"] * len(items), [i.line() for i in items if i.status != "OK"]
    assert ready(items)


# (field changes, item, expected status, text in detail or fix)
CASES = [
    ({"python": (3, 13, 0)}, "python", "FAIL", "3.10-3.12"),
    ({"python": (3, 9, 18)}, "python", "FAIL", "3.10-3.12"),
    ({"torch": Module(None, "not installed")}, "torch", "FAIL", "requirements-gpu.txt"),
    ({"torch_cuda": None, "torch": Module("2.13.0+cpu")}, "torch", "FAIL", "CPU build"),
    ({"torch_cuda": "12.8", "torch": Module("2.11.0+cu128")}, "torch", "FAIL", "CUDA 13"),
    ({"torch": Module("2.12.0+cu130")}, "torch", "WARN", "pins 2.11.0"),
    ({"driver": None, "gpu_problem": "nvidia-smi is not on PATH"}, "nvidia driver", "FAIL", "580"),
    ({"driver": "570.124.06"}, "nvidia driver", "FAIL", "upgrade"),
    ({"driver": "590.10"}, "nvidia driver", "OK", "590.10"),
    ({"gpus": []}, "GPUs", "FAIL", "none found"),
    ({"gpus": [GPU("Tesla V100-SXM2-32GB", 31.7, (7, 0))]}, "GPUs", "FAIL", "compute capability 7.0"),
    ({"gpus": [GPU("NVIDIA L40S", 44.4, (8, 9))] * 8}, "GPUs", "WARN", "8 x NVIDIA L40S 44 GiB"),
    ({"gpus": [GPU("NVIDIA H100 80GB HBM3", 79.6, (9, 0))] * 8}, "GPUs", "OK", "8 x NVIDIA H100"),
    ({"cuda_usable": False}, "GPUs", "FAIL", "CUDA_VISIBLE_DEVICES"),
    ({"flash_attn": Module(None, "not installed")}, "flash-attn", "WARN", "--attn sdpa"),
    (
        {"flash_attn": Module(None, "flash-attn 2.8.3 is installed but does not import (undefined symbol)")},
        "flash-attn",
        "FAIL",
        "pip uninstall -y flash-attn",
    ),
    ({"ray_auth_mode": None, "ray_token": True}, "ray", "WARN", "RAY_AUTH_MODE=token"),
    ({"ray_auth_mode": "token", "ray_token": False}, "ray", "FAIL", "get-auth-token"),
    ({"ray_auth_mode": "token", "ray_token": True}, "ray", "OK", "RAY_AUTH_MODE=token"),
    ({"ray_auth_mode": "disabled", "ray_cluster": "10.0.0.1:6379"}, "ray", "OK", "cluster at 10.0.0.1:6379"),
    ({"wandb": None}, "wandb", "WARN", "WANDB_API_KEY"),
    ({"hf": None}, "hugging face", "WARN", "HF_TOKEN"),
    ({"free_bytes": 50 * 10**9}, "disk", "FAIL", "not even one"),
    ({"free_bytes": 200 * 10**9}, "disk", "WARN", "max_actor_ckpt_to_keep=1"),
    ({"free_bytes": None}, "disk", "WARN", "cannot read"),
]


@pytest.mark.parametrize(
    ("changes", "name", "status", "text"), CASES, ids=[f"{c[1]}-{c[2]}-{i}" for i, c in enumerate(CASES)]
)
def test_each_branch(changes: dict, name: str, status: str, text: str, tmp_path: Path) -> None:
    items = by_name(diagnose(ready_node(tmp_path, **changes)))
    item = items[name]
    assert item.status == status, item.line()
    assert text in item.detail + " " + item.fix
    if status != "OK":
        assert item.fix, "every WARN/FAIL names its fix"
    assert ready(list(items.values())) == (status != "FAIL")


@pytest.mark.parametrize(
    ("module", "version", "error", "status"),
    [
        ("vllm", None, "not installed", "FAIL"),
        ("vllm", "0.24.0", "does not import (ImportError: libcudart.so.13)", "FAIL"),
        ("vllm", "0.23.0", None, "WARN"),
        ("verl", "0.9.0", None, "WARN"),
        ("lm_eval", None, "not installed", "FAIL"),
        ("ray", None, "not installed", "FAIL"),
    ],
)
def test_engine_modules(module: str, version, error, status: str, tmp_path: Path) -> None:
    facts = ready_node(tmp_path)
    facts.modules[module] = Module(version, error)
    label = {"lm_eval": "lm-eval"}.get(module, module)
    assert by_name(diagnose(facts))[label].status == status


def test_the_real_module_probe_sees_a_broken_import(tmp_path: Path, monkeypatch) -> None:
    """An installed package whose import fails is reported as such, with the error."""
    from sparkle import doctor

    broken = tmp_path / "verl"
    broken.mkdir()
    (broken / "__init__.py").write_text("raise ImportError('libcuda.so.1: cannot open shared object file')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in [m for m in sys.modules if m == "verl" or m.startswith("verl.")]:
        monkeypatch.delitem(sys.modules, name)
    module = doctor._module("verl")
    assert module.version == "0.9.1"
    assert "does not import" in module.error and "libcuda.so.1" in module.error


def test_nvidia_smi_output_is_parsed() -> None:
    text = "580.65.06, NVIDIA A100-SXM4-80GB, 81920, 8.0\n580.65.06, NVIDIA A100-SXM4-80GB, 81920, 8.0\n"
    driver, gpus, problem = parse_nvidia_smi(text)
    assert (driver, problem) == ("580.65.06", None)
    assert gpus == [GPU("NVIDIA A100-SXM4-80GB", 80.0, (8, 0))] * 2
    assert parse_nvidia_smi("")[2] == "nvidia-smi lists no GPU"
    # a made-up GPU probe goes through the real gather()
    facts = gather(".", gpu_probe=lambda: parse_nvidia_smi(text))
    assert by_name(diagnose(facts))["nvidia driver"].status == "OK"


def test_doctor_is_listed_in_sparkle_help() -> None:
    from sparkle.cli import build_parser

    assert "doctor" in build_parser().format_help()
