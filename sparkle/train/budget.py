"""Resource arithmetic of a GRPO run: steps, checkpoints and their disk, GPU memory, attention kernels.

One home for the numbers `sparkle train check`, `sparkle train launch` and `sparkle doctor` print:

- a verl FSDP checkpoint with optimizer state holds, per parameter, the fp32 weight and Adam's two fp32
  moments: 12 bytes (Qwen2.5-Math-7B: 7.62e9 parameters, about 91 GB a checkpoint);
- verl saves every ``trainer.save_freq`` steps and at the last step, and keeps the last
  ``trainer.max_actor_ckpt_to_keep`` (null keeps all);
- vLLM 0.24 (V1 engine) reads ``rollout.gpu_memory_utilization`` as a fraction of the whole GPU, while the
  paper's verl gave vLLM that fraction of the memory left after the actor had loaded;
- verl's actor loads the model with ``flash_attention_2`` unless
  ``actor_rollout_ref.model.override_config.attn_implementation`` says otherwise, and its remove-padding
  path packs sequences without an attention mask, which only flash-attn's variable-length kernel handles.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import math
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

GIB = 1024**3
# bytes a parameter takes in a verl FSDP checkpoint with optimizer state (fp32 weight + 2 fp32 Adam moments)
CHECKPOINT_BYTES_PER_PARAM = 12
# Qwen2.5-Math-7B (the paper's base model): used when its config.json is not on this machine
KNOWN_PARAMETERS = {"Qwen/Qwen2.5-Math-7B": 7_615_630_848}
# what torch reports as the total memory of the paper's GPU, an A100-80GB
A100_80GB_GIB = 79.3
# the paper's verl: vLLM got this fraction of the memory left after the actor loaded
PAPER_FRACTION_OF_FREE = 0.8
# CUDA context, NCCL buffers and allocator slack per GPU (an estimate), at vLLM start and during rollout
CONTEXT_GIB = 1.0
ROLLOUT_OVERHEAD_GIB = 1.5
# warn when the estimated rollout peak takes more than this share of the GPU
MEMORY_WARN_SHARE = 0.95

SDPA_OVERRIDES = (
    "+actor_rollout_ref.model.override_config.attn_implementation=sdpa",
    "actor_rollout_ref.model.use_remove_padding=false",
)
SDPA_COST = (
    "the same model and loss, but the actor and reference compute on padded micro-batches, so their "
    "forward/backward passes are slower and use more memory"
)
FLASH_ATTN_INSTALL = (
    "pip install ninja && MAX_JOBS=8 pip install flash-attn --no-build-isolation (compiles against the "
    "installed torch 2.11; needs the CUDA 13 toolkit's nvcc), or a prebuilt wheel matching torch 2.11, "
    "CUDA 13 and your Python, if one is published"
)


# ---------------------------------------------------------------- attention kernels


def flash_attn_status() -> tuple[str | None, str | None]:
    """(version, problem): the installed flash-attn version when it imports, else None and why not."""
    try:
        version = importlib.metadata.version("flash-attn")
    except importlib.metadata.PackageNotFoundError:
        version = None
    try:
        importlib.import_module("flash_attn")
    except ImportError as e:
        if version is None:
            return None, "flash-attn is not installed"
        return None, f"flash-attn {version} is installed but does not import ({str(e).splitlines()[0][:200]})"
    except Exception as e:  # a broken build can fail with OSError/RuntimeError as well
        return None, f"flash-attn {version} does not import ({type(e).__name__}: {str(e)[:200]})"
    return version or "unknown", None


def attn_implementation(cfg) -> str:
    """The attention implementation verl's actor will load the model with."""
    override = cfg.actor_rollout_ref.model.get("override_config") or {}
    return str(override.get("attn_implementation", "flash_attention_2"))


def attention_problem(cfg, status: tuple[str | None, str | None] | None = None) -> str | None:
    """A one-line message when the config needs flash-attn and it does not import here, else None."""
    if attn_implementation(cfg) != "flash_attention_2":
        return None
    version, problem = status if status is not None else flash_attn_status()
    if version is not None:
        return None
    return (
        f"{problem}, but verl's actor loads the model with attn_implementation=flash_attention_2 and "
        f"would stop at start-up. Install it ({FLASH_ATTN_INSTALL}), or train with the sdpa fallback: "
        f"{' '.join(SDPA_OVERRIDES)} (launch scripts: --attn sdpa; cost: {SDPA_COST})"
    )


# ---------------------------------------------------------------- model size


def count_parameters(model_path: str | None) -> int | None:
    """Parameters of the model at ``model_path`` (a local folder or a cached Hub id), counted on the meta
    device from its config.json without loading weights; None when its config is not on this machine."""
    if not model_path:
        return None
    config_file = Path(model_path).expanduser() / "config.json"
    if not config_file.is_file():
        try:
            from huggingface_hub import try_to_load_from_cache

            cached = try_to_load_from_cache(model_path, "config.json")
        except Exception:
            cached = None
        if not isinstance(cached, str):
            return KNOWN_PARAMETERS.get(model_path)
        config_file = Path(cached)
    try:
        import torch
        from transformers import AutoConfig, AutoModelForCausalLM

        config = AutoConfig.from_pretrained(str(config_file.parent))
        with torch.device("meta"):
            model = AutoModelForCausalLM.from_config(config)
        return int(sum(p.numel() for p in model.parameters()))
    except Exception:
        return KNOWN_PARAMETERS.get(model_path)


# ---------------------------------------------------------------- disk


@dataclass
class DiskPlan:
    """Checkpoints a run writes and the disk they need next to the free space of their folder."""

    steps: int
    save_freq: int
    saves: int
    keep: int | None
    kept: int
    checkpoint_bytes: int | None
    target: Path
    free_bytes: int | None

    @property
    def needed_bytes(self) -> int | None:
        return None if self.checkpoint_bytes is None else self.kept * self.checkpoint_bytes

    def fits(self) -> bool | None:
        if self.needed_bytes is None or self.free_bytes is None:
            return None
        return self.needed_bytes <= self.free_bytes

    def line(self) -> str:
        keep = (
            "all kept (trainer.max_actor_ckpt_to_keep=null)"
            if self.keep is None
            else f"last {self.keep} kept"
        )
        if self.saves == 0:
            return f"no checkpoints (trainer.save_freq={self.save_freq})"
        size = (
            "size unknown" if self.checkpoint_bytes is None else f"~{self.checkpoint_bytes / 1e9:.0f} GB each"
        )
        need = "" if self.needed_bytes is None else f", need ~{self.needed_bytes / 1e9:,.0f} GB"
        free = "free space unknown" if self.free_bytes is None else f"{self.free_bytes / 1e9:,.0f} GB free"
        return f"{self.saves} saves (every {self.save_freq} steps + the last), {keep}, {size}{need}; {free} at {self.target}"


def free_bytes(path: str | os.PathLike[str]) -> tuple[Path, int | None]:
    """Free bytes on the file system that holds ``path`` (its nearest existing parent)."""
    target = Path(path).expanduser().absolute()
    probe = target
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        return target, shutil.disk_usage(probe).free
    except OSError:
        return target, None


def disk_plan(cfg, total_steps: int, parameters: int | None) -> DiskPlan:
    """How many checkpoints the run saves and keeps, and what they take, from the composed config."""
    trainer = cfg.trainer
    save_freq = int(trainer.save_freq)
    if save_freq > 0 and total_steps > 0:
        saves = total_steps // save_freq + (1 if total_steps % save_freq else 0)
    else:
        saves = 0
    keep = trainer.get("max_actor_ckpt_to_keep")
    keep = None if keep is None else int(keep)
    kept = saves if keep is None else min(saves, keep)
    size = None if parameters is None else parameters * CHECKPOINT_BYTES_PER_PARAM
    target, free = free_bytes(str(trainer.default_local_dir))
    return DiskPlan(total_steps, save_freq, saves, keep, kept, size, target, free)


# ---------------------------------------------------------------- GPU memory


@dataclass
class GPU:
    """One GPU as the driver reports it."""

    name: str
    memory_gib: float
    capability: tuple[int, int] | None = None


def nvidia_smi() -> tuple[str | None, list[GPU], str | None]:
    """(driver version, GPUs, problem) from ``nvidia-smi``; no CUDA context is created."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None, [], "nvidia-smi is not on PATH (no NVIDIA driver on this machine)"
    try:
        out = subprocess.run(
            [
                exe,
                "--query-gpu=driver_version,name,memory.total,compute_cap",
                "--format=csv,noheader,nounits",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, [], f"nvidia-smi failed: {e}"
    if out.returncode != 0:
        return None, [], f"nvidia-smi failed: {(out.stderr or out.stdout).strip()[:200]}"
    return parse_nvidia_smi(out.stdout)


def parse_nvidia_smi(text: str) -> tuple[str | None, list[GPU], str | None]:
    """Parse ``driver_version, name, memory.total [MiB], compute_cap`` CSV lines."""
    driver, gpus = None, []
    for line in text.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 3:
            continue
        driver = parts[0]
        try:
            memory = float(parts[2]) / 1024
        except ValueError:
            continue
        capability = None
        if len(parts) > 3 and re.fullmatch(r"\d+\.\d+", parts[3]):
            major, minor = parts[3].split(".")
            capability = (int(major), int(minor))
        gpus.append(GPU(parts[1], memory, capability))
    if not gpus:
        return driver, [], "nvidia-smi lists no GPU"
    return driver, gpus, None


@dataclass
class MemoryPlan:
    """Per-GPU memory of the rollout phase: vLLM's share plus what the FSDP actor keeps resident."""

    gpu_gib: float
    gpu_source: str
    utilization: float
    parameters: int
    world_size: int
    tp: int
    param_offload: bool
    optimizer_offload: bool

    @property
    def shard_gib(self) -> float:
        return self.parameters * 4 / self.world_size / GIB

    @property
    def vllm_gib(self) -> float:
        return self.utilization * self.gpu_gib

    @property
    def resident_at_start_gib(self) -> float:
        return (0.0 if self.param_offload else self.shard_gib) + CONTEXT_GIB

    @property
    def rollout_peak_gib(self) -> float:
        actor = (0.0 if self.param_offload else self.shard_gib) + (
            0.0 if self.optimizer_offload else 2 * self.shard_gib
        )
        return self.vllm_gib + actor + ROLLOUT_OVERHEAD_GIB

    @property
    def weights_gib(self) -> float:
        return self.parameters * 2 / self.tp / GIB

    @property
    def paper_utilization(self) -> float:
        """The value that gives vLLM the paper's budget on this GPU (0.8 of what the actor left free)."""
        return PAPER_FRACTION_OF_FREE * (self.gpu_gib - self.resident_at_start_gib) / self.gpu_gib

    def problems(self) -> list[str]:
        out = []
        free_at_start = self.gpu_gib - self.resident_at_start_gib
        if self.vllm_gib > free_at_start:
            out.append(
                f"vLLM asks for {self.vllm_gib:.1f} GiB (gpu_memory_utilization={self.utilization:g} of "
                f"{self.gpu_gib:.1f} GiB) but only ~{free_at_start:.1f} GiB are free once the actor has loaded: "
                f"vLLM will refuse to start; use actor_rollout_ref.rollout.gpu_memory_utilization="
                f"{math.floor(self.paper_utilization * 100) / 100:g}"
            )
        elif self.rollout_peak_gib > MEMORY_WARN_SHARE * self.gpu_gib:
            out.append(
                f"estimated rollout peak {self.rollout_peak_gib:.1f} GiB of {self.gpu_gib:.1f} GiB per GPU "
                f"({self.rollout_peak_gib / self.gpu_gib:.0%}): close to out-of-memory; the paper's budget on this "
                f"GPU is actor_rollout_ref.rollout.gpu_memory_utilization="
                f"{math.floor(self.paper_utilization * 100) / 100:g}"
            )
        if self.vllm_gib < self.weights_gib + 2:
            out.append(
                f"vLLM's {self.vllm_gib:.1f} GiB barely hold the model's bf16 weights ({self.weights_gib:.1f} GiB "
                f"at tensor parallel {self.tp}): no room for the KV cache; raise gpu_memory_utilization or "
                "actor_rollout_ref.rollout.tensor_model_parallel_size"
            )
        return out

    def line(self) -> str:
        return (
            f"GPU {self.gpu_gib:.1f} GiB ({self.gpu_source}): vLLM {self.vllm_gib:.1f} GiB "
            f"(gpu_memory_utilization={self.utilization:g}; the paper's budget here: "
            f"{self.paper_utilization:.2f}) + actor {self.rollout_peak_gib - self.vllm_gib - ROLLOUT_OVERHEAD_GIB:.1f}"
            f" GiB + {ROLLOUT_OVERHEAD_GIB:g} GiB overhead = ~{self.rollout_peak_gib:.1f} GiB at rollout "
            f"({self.rollout_peak_gib / self.gpu_gib:.0%})"
        )


def detect_gpu_memory() -> tuple[float | None, str]:
    """(memory of the smallest GPU here in GiB, where the number comes from); None without a GPU."""
    _, gpus, _ = nvidia_smi()
    if gpus:
        smallest = min(gpus, key=lambda g: g.memory_gib)
        return smallest.memory_gib, f"{smallest.name}, found here"
    return None, "no GPU found here"


def memory_plan(cfg, parameters: int, gpu_gib: float | None = None, source: str = "") -> MemoryPlan:
    """The rollout-phase memory estimate for the composed config on a GPU of ``gpu_gib`` GiB
    (default: the GPU found here, else the paper's A100-80GB)."""
    if gpu_gib is None:
        gpu_gib, source = detect_gpu_memory()
        if gpu_gib is None:
            gpu_gib, source = A100_80GB_GIB, "assumed: the paper's A100-80GB; no GPU found here"
    actor = cfg.actor_rollout_ref.actor
    fsdp = actor.get("fsdp_config") or {}
    return MemoryPlan(
        gpu_gib=float(gpu_gib),
        gpu_source=source or "given",
        utilization=float(cfg.actor_rollout_ref.rollout.gpu_memory_utilization),
        parameters=int(parameters),
        world_size=int(cfg.trainer.nnodes) * int(cfg.trainer.n_gpus_per_node),
        tp=int(cfg.actor_rollout_ref.rollout.tensor_model_parallel_size),
        param_offload=bool(fsdp.get("param_offload", False)),
        optimizer_offload=bool(fsdp.get("optimizer_offload", False)),
    )
