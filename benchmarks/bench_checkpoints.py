"""Time and peak memory of `sparkle convert` on a real verl FSDP2 checkpoint of a mid-sized Qwen2.

Writes one checkpoint with tests/fsdp_worker.py under torchrun (2 gloo processes, one AdamW step,
verl's FSDPCheckpointManager), then converts it, each conversion in its own process so its peak RSS is
its own:

- reference: today's layout to bf16 through verl's own ``model_merger`` (what sparkle convert runs);
- sparkle's merger on the shards-only (2025) copy, to bf16 and to fp32.

Prints seconds (the whole conversion call: merge, write, load-back check), peak RSS (and the peak of a
process that only imports the libraries) and the time ratio to the reference. No targets: this
documents the cost.

    .venv/bin/python benchmarks/bench_checkpoints.py [--hidden 1024] [--layers 8] [--vocab 32000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

BASELINE = """
import json, resource
import transformers, safetensors.torch, verl.model_merger.fsdp_model_merger
print(json.dumps({"peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

CONVERT = """
import json, resource, sys, time
from sparkle.checkpoints import convert_checkpoint
start = time.perf_counter()
result = convert_checkpoint(sys.argv[1], sys.argv[2], base_model=sys.argv[3] or None, dtype=sys.argv[4])
print(json.dumps({"seconds": time.perf_counter() - start, "merger": result.merger,
                  "params": result.num_parameters,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def build_model(folder: Path, hidden: int, layers: int, vocab: int) -> int:
    """The tiny tokenizer with a randomly initialised Qwen2 of the requested size; returns its parameter count."""
    import torch
    from transformers import AutoConfig, Qwen2ForCausalLM

    from sparkle.tiny import build_tiny_model

    build_tiny_model(folder)
    config = AutoConfig.from_pretrained(folder)
    config.update(
        {
            "hidden_size": hidden,
            "intermediate_size": hidden * 11 // 4,
            "num_hidden_layers": layers,
            "num_attention_heads": hidden // 64,
            "num_key_value_heads": max(1, hidden // 512),
            "vocab_size": vocab,
        }
    )
    config.layer_types = ["full_attention"] * layers
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(config)
    for stale in folder.glob("model*.safetensors*"):
        stale.unlink()
    model.save_pretrained(folder)
    return sum(p.numel() for p in model.parameters())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=1024)
    parser.add_argument("--layers", type=int, default=8)
    parser.add_argument("--vocab", type=int, default=32000)
    args = parser.parse_args()

    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", OMP_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    with tempfile.TemporaryDirectory(prefix="bench_ckpt_") as tmp:
        work = Path(tmp)
        params = build_model(work / "model", args.hidden, args.layers, args.vocab)
        print(f"model: {params / 1e6:.1f}M parameters ({params * 4 / 2**20:.0f} MiB fp32)")

        start = time.perf_counter()
        worker = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
        worker += [str(REPO / "tests" / "fsdp_worker.py"), str(work / "model"), str(work / "run")]
        subprocess.run(worker, env=env, check=True, capture_output=True)
        print(f"torchrun: FSDP2 + FSDP1 checkpoints written in {time.perf_counter() - start:.1f} s")

        step = work / "run" / "global_step_1"
        legacy = work / "legacy" / "global_step_1"
        shutil.copytree(step, legacy, ignore=shutil.ignore_patterns("huggingface", "fsdp_config.json"))
        runs = [
            ("verl.model_merger bf16 (reference)", step, "", "bf16"),
            ("sparkle merger bf16 (2025 layout)", legacy, str(work / "model"), "bf16"),
            ("sparkle merger fp32 (2025 layout)", legacy, str(work / "model"), "fp32"),
        ]
        proc = subprocess.run(
            [sys.executable, "-c", BASELINE], env=env, check=True, capture_output=True, text=True
        )
        baseline = json.loads(proc.stdout.strip().splitlines()[-1])["peak_mb"]
        print(
            f"peak RSS of a process that only imports torch, transformers and verl's merger: {baseline:.0f} MiB"
        )
        reference = None
        print(f"{'conversion':38} {'seconds':>8} {'peak RSS MiB':>13} {'time ratio':>11}")
        for i, (label, source, base, dtype) in enumerate(runs):
            cmd = [sys.executable, "-c", CONVERT, str(source), str(work / f"out{i}"), base, dtype]
            proc = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
            stats = json.loads(proc.stdout.strip().splitlines()[-1])
            reference = reference or stats["seconds"]
            ratio = stats["seconds"] / reference
            print(f"{label:38} {stats['seconds']:8.2f} {stats['peak_mb']:13.0f} {ratio:11.2f}")


if __name__ == "__main__":
    main()
