"""Write a real verl FSDP2 checkpoint on CPU: launched by the checkpoint tests with torchrun.

Usage: torchrun --nproc_per_node=2 tests/fsdp_worker.py MODEL_DIR OUT_DIR

Each rank loads the model, shards it with FSDP2 (one ``fully_shard`` per decoder layer and one for the
root) over a gloo process group, takes one AdamW step, and saves through verl's own
``FSDPCheckpointManager`` into ``OUT_DIR/global_step_1/actor``. Rank 0 also writes the trained full
weights (fp32) to ``OUT_DIR/trained_full.pt`` so a test can compare a conversion tensor by tensor.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def main(model_dir: str, out_dir: str) -> None:
    import torch
    import torch.distributed as dist
    from omegaconf import OmegaConf
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from verl.utils.checkpoint.fsdp_checkpoint_manager import FSDPCheckpointManager

    dist.init_process_group("gloo")
    rank = dist.get_rank()
    mesh = init_device_mesh("cpu", (dist.get_world_size(),), mesh_dim_names=("fsdp",))

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    for layer in model.model.layers:
        fully_shard(layer, mesh=mesh)
    fully_shard(model, mesh=mesh)

    # A large learning rate so every trained weight differs visibly from its initial value.
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    ids = tokenizer(["What is 2x + 3 = 7? The answer is \\boxed{2}."] * 2, return_tensors="pt").input_ids
    loss = model(input_ids=ids, labels=ids).loss
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()

    manager = FSDPCheckpointManager(
        model=model,
        optimizer=optimizer,
        lr_scheduler=None,
        processing_class=tokenizer,
        checkpoint_config=OmegaConf.create(
            {
                "save_contents": ["model", "optimizer", "extra"],
                "load_contents": ["model", "optimizer", "extra"],
                "async_save": False,
            }
        ),
    )
    actor_dir = Path(out_dir) / "global_step_1" / "actor"
    manager.save_checkpoint(local_path=str(actor_dir), global_step=1)

    full = {key: value.full_tensor().detach().clone() for key, value in model.state_dict().items()}
    if rank == 0:
        torch.save(full, Path(out_dir) / "trained_full.pt")
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main(sys.argv[1], sys.argv[2])
