"""`sparkle doctor`: will this node train and evaluate SPARKLE? One line per item, OK / WARN / FAIL with the fix.

Checks the Python version, torch and the CUDA version it was built for, the NVIDIA driver against what
that build needs, the GPUs (compute capability, memory), the engines (flash-attn, vLLM, verl, lm-eval:
versions and whether they import), Ray (version, a running cluster, its authentication mode), wandb and
Hugging Face credentials (present or not; values are never printed) and the free disk of the checkpoint
folder. Needs no GPU to run; exits 0 only when no item FAILs. The facts are gathered once
(:func:`gather`) and judged by pure functions (:func:`diagnose`), so every branch is testable with a
made-up GPU.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import json
import os
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sparkle.train.budget import (
    A100_80GB_GIB,
    CHECKPOINT_BYTES_PER_PARAM,
    FLASH_ATTN_INSTALL,
    GPU,
    KNOWN_PARAMETERS,
    SDPA_OVERRIDES,
    flash_attn_status,
    free_bytes,
    nvidia_smi,
)

# What the pinned GPU stack needs (pyproject.toml, extra `gpu`): torch 2.11.0 built for CUDA 13.0, vLLM 0.24.
PYTHON_RANGE = ((3, 10), (3, 12))
CUDA_MAJOR = 13
MIN_DRIVER = 580
MIN_CAPABILITY = (7, 5)
PINNED = {"torch": "2.11.0", "vllm": "0.24.0", "verl": "0.9.1", "lm_eval": "0.4.13"}
DISTRIBUTIONS = {"torch": "torch", "vllm": "vllm", "verl": "verl", "lm_eval": "lm-eval", "ray": "ray"}
GPU_INSTALL = "pip install -r verl/requirements-gpu.txt"
# a full run keeps this many Stage-1 checkpoints (configs/sparkle_grpo.yaml: trainer.max_actor_ckpt_to_keep)
KEPT_CHECKPOINTS = 3
RAY_TOKEN_FILE = Path.home() / ".ray" / "auth_token"
RAY_CLUSTER_FILE = Path("/tmp/ray/ray_current_cluster")


@dataclass
class Module:
    """An engine package: its installed version and whether it imports (and why not)."""

    version: str | None
    error: str | None = None


@dataclass
class Facts:
    """Everything doctor looks at, gathered once from this machine."""

    python: tuple[int, int, int]
    torch: Module
    torch_cuda: str | None
    cuda_usable: bool | None
    driver: str | None
    gpus: list[GPU]
    gpu_problem: str | None
    flash_attn: Module
    modules: dict[str, Module]
    ray_cluster: str | None
    ray_auth_mode: str | None
    ray_token: bool
    wandb: str | None
    hf: str | None
    checkpoint_dir: Path
    free_bytes: int | None
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class Item:
    """One line of the report."""

    status: str  # OK, WARN or FAIL
    name: str
    detail: str
    fix: str = ""

    def line(self) -> str:
        text = f"{self.status:<4}  {self.name:<14} {self.detail}"
        return text + (f"\n      {'':<14} fix: {self.fix}" if self.fix else "")


# ---------------------------------------------------------------- gathering (the only part that touches the machine)


def _module(name: str) -> Module:
    try:
        version = importlib.metadata.version(DISTRIBUTIONS.get(name, name))
    except importlib.metadata.PackageNotFoundError:
        return Module(None, "not installed")
    try:
        importlib.import_module(name)
    except Exception as e:  # any failure to import is what doctor reports
        first = str(e).splitlines()[0][:200] if str(e) else ""
        return Module(version, f"does not import ({type(e).__name__}: {first})")
    return Module(version)


def _wandb_credentials(env: dict[str, str]) -> str | None:
    if env.get("WANDB_API_KEY"):
        return "WANDB_API_KEY"
    if env.get("WANDB_MODE") == "offline":
        return "WANDB_MODE=offline"
    netrc = Path(env.get("NETRC", Path.home() / ".netrc"))
    try:
        if "api.wandb.ai" in netrc.read_text():
            return f"`wandb login` ({netrc})"
    except OSError:
        pass
    return None


def _hf_credentials(env: dict[str, str]) -> str | None:
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        if env.get(name):
            return name
    home = Path(env.get("HF_HOME") or Path.home() / ".cache" / "huggingface")
    token_file = Path(env.get("HF_TOKEN_PATH") or home / "token")
    if token_file.is_file() and token_file.read_text().strip():
        return f"`hf auth login` ({token_file})"
    return None


def gather(checkpoint_dir: str | os.PathLike[str] = "checkpoints", gpu_probe=nvidia_smi) -> Facts:
    """Collect the facts of this machine (``gpu_probe`` returns (driver, GPUs, problem); nvidia-smi)."""
    env = dict(os.environ)
    torch_module = _module("torch")
    torch_cuda, cuda_usable = None, None
    if torch_module.error is None:
        import torch

        torch_cuda = torch.version.cuda
        cuda_usable = bool(torch_cuda) and torch.cuda.is_available()
    driver, gpus, problem = gpu_probe()
    fa_version, fa_problem = flash_attn_status()
    flash = Module(fa_version, fa_problem)
    if fa_problem == "flash-attn is not installed":
        flash = Module(None, "not installed")
    modules = {name: _module(name) for name in ("vllm", "verl", "lm_eval", "ray")}
    cluster = env.get("RAY_ADDRESS") or (
        RAY_CLUSTER_FILE.read_text().strip() if RAY_CLUSTER_FILE.is_file() else None
    )
    token = (
        bool(env.get("RAY_AUTH_TOKEN")) or Path(env.get("RAY_AUTH_TOKEN_PATH") or RAY_TOKEN_FILE).is_file()
    )
    target, free = free_bytes(checkpoint_dir)
    return Facts(
        python=tuple(sys.version_info[:3]),
        torch=torch_module,
        torch_cuda=torch_cuda,
        cuda_usable=cuda_usable,
        driver=driver,
        gpus=gpus,
        gpu_problem=problem,
        flash_attn=flash,
        modules=modules,
        ray_cluster=cluster or None,
        ray_auth_mode=env.get("RAY_AUTH_MODE"),
        ray_token=token,
        wandb=_wandb_credentials(env),
        hf=_hf_credentials(env),
        checkpoint_dir=target,
        free_bytes=free,
    )


# ---------------------------------------------------------------- judging (pure functions of the facts)


def _major(version: str | None) -> int | None:
    try:
        return int(str(version).split(".")[0])
    except ValueError:
        return None


def check_python(f: Facts) -> Item:
    low, high = PYTHON_RANGE
    version = ".".join(map(str, f.python))
    if low <= f.python[:2] <= high:
        return Item("OK", "python", version)
    return Item(
        "FAIL",
        "python",
        f"{version}: the GPU stack supports Python 3.10-3.12",
        "create the environment with python3.12 -m venv .venv",
    )


def check_torch(f: Facts) -> Item:
    if f.torch.version is None or f.torch.error:
        return Item("FAIL", "torch", f"torch {f.torch.error}", GPU_INSTALL)
    if not f.torch_cuda:
        return Item(
            "FAIL",
            "torch",
            f"{f.torch.version} is a CPU build (no CUDA)",
            f"pip uninstall -y torch && {GPU_INSTALL} (torch {PINNED['torch']} built for CUDA 13)",
        )
    detail = f"{f.torch.version}, built for CUDA {f.torch_cuda}"
    if _major(f.torch_cuda) != CUDA_MAJOR:
        return Item(
            "FAIL",
            "torch",
            f"{detail}: vLLM 0.24's wheels are built for CUDA {CUDA_MAJOR}",
            f"pip uninstall -y torch && {GPU_INSTALL}",
        )
    if not f.torch.version.startswith(PINNED["torch"]):
        return Item("WARN", "torch", f"{detail}; the GPU stack pins {PINNED['torch']}", GPU_INSTALL)
    return Item("OK", "torch", detail)


def check_driver(f: Facts) -> Item:
    need = f"driver >= {MIN_DRIVER} (CUDA {CUDA_MAJOR})"
    if f.driver is None:
        return Item(
            "FAIL",
            "nvidia driver",
            f"{f.gpu_problem or 'not found'}; torch {PINNED['torch']}+cu130 needs {need}",
            f"install NVIDIA driver {MIN_DRIVER} or newer (e.g. the distribution's nvidia-driver-{MIN_DRIVER} "
            "package), reboot, check with nvidia-smi",
        )
    if (_major(f.driver) or 0) < MIN_DRIVER:
        return Item(
            "FAIL",
            "nvidia driver",
            f"{f.driver}: CUDA {CUDA_MAJOR} needs {need}",
            f"upgrade the NVIDIA driver to {MIN_DRIVER} or newer",
        )
    return Item("OK", "nvidia driver", f"{f.driver} (>= {MIN_DRIVER})")


def check_gpus(f: Facts) -> Item:
    if not f.gpus:
        return Item(
            "FAIL",
            "GPUs",
            f"none found ({f.gpu_problem or 'nvidia-smi lists none'}); training and vLLM evaluation need "
            f"NVIDIA GPUs of compute capability >= {MIN_CAPABILITY[0]}.{MIN_CAPABILITY[1]}",
            "run on a GPU node (the paper: 8 x A100-80GB); CPU machines can run `sparkle train check` only",
        )
    names = {}
    for gpu in f.gpus:
        names[f"{gpu.name} {gpu.memory_gib:.0f} GiB"] = (
            names.get(f"{gpu.name} {gpu.memory_gib:.0f} GiB", 0) + 1
        )
    detail = ", ".join(f"{n} x {name}" for name, n in names.items())
    old = [g for g in f.gpus if g.capability is not None and g.capability < MIN_CAPABILITY]
    if old:
        cap = old[0].capability
        return Item(
            "FAIL",
            "GPUs",
            f"{detail}: compute capability {cap[0]}.{cap[1]} < {MIN_CAPABILITY[0]}.{MIN_CAPABILITY[1]} "
            "(CUDA 13 dropped it)",
            "use GPUs of compute capability 7.5 or newer (T4, A100, L40, H100, ...)",
        )
    if f.cuda_usable is False and f.torch_cuda:
        return Item(
            "FAIL",
            "GPUs",
            f"{detail}, but torch.cuda.is_available() is False",
            "check CUDA_VISIBLE_DEVICES and that the driver matches the torch build (nvidia-smi)",
        )
    smallest = min(g.memory_gib for g in f.gpus)
    if smallest < A100_80GB_GIB - 1:
        return Item(
            "WARN",
            "GPUs",
            f"{detail}: less memory than the paper's A100-80GB",
            "run `sparkle train check STAGE` for the memory estimate on these GPUs "
            "(lower gpu_memory_utilization / use more GPUs)",
        )
    return Item("OK", "GPUs", detail)


def check_flash_attn(f: Facts) -> Item:
    if f.flash_attn.error is None and f.flash_attn.version:
        return Item("OK", "flash-attn", f.flash_attn.version)
    status = "WARN" if f.flash_attn.error == "not installed" else "FAIL"
    return Item(
        status,
        "flash-attn",
        f"{f.flash_attn.error}: verl's actor loads the model with flash_attention_2 by default",
        f"{FLASH_ATTN_INSTALL}; or train without it: --attn sdpa on the launch scripts "
        f"({' '.join(SDPA_OVERRIDES)})" + ("" if status == "WARN" else "; or pip uninstall -y flash-attn"),
    )


def check_module(f: Facts, name: str) -> Item:
    module = f.modules[name]
    label = DISTRIBUTIONS.get(name, name)
    pinned = PINNED.get(name)
    if module.version is None:
        return Item("FAIL", label, "not installed", GPU_INSTALL)
    if module.error:
        return Item("FAIL", label, f"{module.version} {module.error}", f"{GPU_INSTALL} (in a fresh venv)")
    if pinned and module.version != pinned:
        return Item("WARN", label, f"{module.version}; the GPU stack pins {pinned}", GPU_INSTALL)
    return Item("OK", label, module.version)


def check_ray(f: Facts) -> Item:
    ray = f.modules["ray"]
    if ray.version is None or ray.error:
        return Item("FAIL", "ray", f"ray {ray.error}", GPU_INSTALL)
    where = (
        f"cluster at {f.ray_cluster}" if f.ray_cluster else "no cluster running (one node: verl starts one)"
    )
    mode = f.ray_auth_mode
    detail = f"{ray.version}; {where}; RAY_AUTH_MODE={mode or 'unset'}"
    if mode is None and f.ray_token:
        return Item(
            "WARN",
            "ray",
            f"{detail}, but a token exists ({RAY_TOKEN_FILE}): `ray start --head` will switch token "
            "authentication on and worker nodes without the token cannot join",
            "multi-node: export RAY_AUTH_MODE=token on every node and RAY_AUTH_TOKEN=$(ray get-auth-token) "
            "from the head on the others, or RAY_AUTH_MODE=disabled everywhere on a private network",
        )
    if mode == "token" and not f.ray_token:
        return Item(
            "FAIL",
            "ray",
            f"{detail}, but no token (RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH or {RAY_TOKEN_FILE})",
            "on the head: ray get-auth-token --generate; on the others: export RAY_AUTH_TOKEN=<that token>",
        )
    return Item("OK", "ray", detail)


# (service, where the found credential is named, what its absence means, how to add one)
CREDENTIALS = (
    (
        "wandb",
        "credentials from",
        "no credentials: runs log to the console only",
        "export WANDB_API_KEY=... (or `wandb login`, or WANDB_MODE=offline)",
    ),
    (
        "hugging face",
        "token from",
        "no token: public models download anonymously (rate-limited); gated ones fail",
        "export HF_TOKEN=... (or `hf auth login`)",
    ),
)


def check_credentials(f: Facts) -> list[Item]:
    found = {"wandb": f.wandb, "hugging face": f.hf}
    return [
        Item("OK", name, f"{source} {found[name]}") if found[name] else Item("WARN", name, missing, fix)
        for name, source, missing, fix in CREDENTIALS
    ]


def check_disk(f: Facts) -> Item:
    one = KNOWN_PARAMETERS["Qwen/Qwen2.5-Math-7B"] * CHECKPOINT_BYTES_PER_PARAM
    need = KEPT_CHECKPOINTS * one
    if f.free_bytes is None:
        return Item("WARN", "disk", f"cannot read the free space of {f.checkpoint_dir}", "check the path")
    detail = (
        f"{f.free_bytes / 1e9:,.0f} GB free at {f.checkpoint_dir}; a 7B run keeps {KEPT_CHECKPOINTS} checkpoints "
        f"of ~{one / 1e9:.0f} GB = ~{need / 1e9:.0f} GB"
    )
    if f.free_bytes < one:
        return Item(
            "FAIL",
            "disk",
            detail + ": not even one fits",
            "point trainer.default_local_dir (doctor: --checkpoint-dir) at a larger disk",
        )
    if f.free_bytes < need:
        return Item(
            "WARN",
            "disk",
            detail,
            "free space, use a larger disk, or keep fewer: trainer.max_actor_ckpt_to_keep=1",
        )
    return Item("OK", "disk", detail)


def diagnose(f: Facts) -> list[Item]:
    """Every item of the report, in order."""
    return [
        check_python(f),
        check_torch(f),
        check_driver(f),
        check_gpus(f),
        check_flash_attn(f),
        check_module(f, "vllm"),
        check_module(f, "verl"),
        check_module(f, "lm_eval"),
        check_ray(f),
        *check_credentials(f),
        check_disk(f),
    ]


def ready(items: list[Item]) -> bool:
    return not any(item.status == "FAIL" for item in items)


# ---------------------------------------------------------------- command


def _doctor(args: argparse.Namespace) -> int:
    items = diagnose(gather(args.checkpoint_dir))
    if args.json:
        print(json.dumps([asdict(item) for item in items], indent=1))
    else:
        for item in items:
            print(item.line())
        fails = sum(item.status == "FAIL" for item in items)
        warns = sum(item.status == "WARN" for item in items)
        print(
            "ready: this node can train and evaluate" + (f" ({warns} warning(s))" if warns else "")
            if not fails
            else f"not ready: {fails} item(s) FAIL (fixes above)"
        )
    return 0 if ready(items) else 1


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `sparkle doctor`."""
    p = subparsers.add_parser(
        "doctor",
        help="check this node for training and vLLM evaluation (driver, GPUs, engines, Ray, disk); no GPU needed",
        description="One line per item, OK / WARN / FAIL with the fix; exit status 0 only when nothing FAILs.",
    )
    p.add_argument(
        "--checkpoint-dir",
        default="checkpoints",
        help="where the checkpoints will go (trainer.default_local_dir; default: checkpoints/)",
    )
    p.add_argument("--json", action="store_true", help="print the items as JSON")
    p.set_defaults(func=_doctor)
