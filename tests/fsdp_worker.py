"""Write a real verl FSDP2 checkpoint on CPU: launched by the checkpoint tests with torchrun.

Usage: torchrun --nproc_per_node=2 tests/fsdp_worker.py MODEL_DIR OUT_DIR

Each rank loads the model, shards it with FSDP2 (one ``fully_shard`` per decoder layer and one for the
root) over a gloo process group, takes one AdamW step, and saves through verl's own
``FSDPCheckpointManager`` into ``OUT_DIR/global_step_1/actor``. Rank 0 also writes the trained full
weights (fp32) to ``OUT_DIR/trained_full.pt`` so a test can compare a conversion tensor by tensor.
The same is then done with FSDP1 (wrapped per decoder layer, with a device mesh, like the 2025 verl
fork) into ``OUT_DIR/fsdp1/``, and with FSDP2 on a copy of the model with an odd vocabulary (uneven
shards; the copy is ``OUT_DIR/uneven_base``) into ``OUT_DIR/uneven/``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

CHECKPOINT_CONFIG = {
    "save_contents": ["model", "optimizer", "extra"],
    "load_contents": ["model", "optimizer", "extra"],
    "async_save": False,
}


def train_and_save(model_dir: str, out_dir: Path, fsdp_version: int, mesh) -> None:
    """Shard a fresh copy of the model, take one AdamW step, save with verl, and dump the full weights."""
    import torch
    import torch.distributed as dist
    from omegaconf import OmegaConf
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from verl.utils.checkpoint.fsdp_checkpoint_manager import FSDPCheckpointManager

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    if fsdp_version == 2:
        from torch.distributed.fsdp import fully_shard

        for layer in model.model.layers:
            fully_shard(layer, mesh=mesh)
        fully_shard(model, mesh=mesh)
    else:  # FSDP1 with a device mesh, as the 2025 verl fork wrapped the actor
        from torch.distributed.fsdp import FullyShardedDataParallel
        from torch.distributed.fsdp.wrap import ModuleWrapPolicy

        layer_class = type(model.model.layers[0])
        model = FullyShardedDataParallel(
            model,
            device_mesh=mesh,
            auto_wrap_policy=ModuleWrapPolicy({layer_class}),
            device_id=torch.device("cpu"),
        )

    # A large learning rate so every trained weight differs visibly from its initial value.
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    ids = tokenizer(["What is 2x + 3 = 7? The answer is \\boxed{2}."] * 2, return_tensors="pt").input_ids
    model(input_ids=ids, labels=ids).loss.backward()
    optimizer.step()
    optimizer.zero_grad()

    manager = FSDPCheckpointManager(
        model=model,
        optimizer=optimizer,
        lr_scheduler=None,
        processing_class=tokenizer,
        checkpoint_config=OmegaConf.create(CHECKPOINT_CONFIG),
    )
    manager.save_checkpoint(local_path=str(out_dir / "global_step_1" / "actor"), global_step=1)

    if fsdp_version == 2:
        state = model.state_dict()
    else:
        from torch.distributed.fsdp import ShardedStateDictConfig, StateDictType

        with FullyShardedDataParallel.state_dict_type(
            model, StateDictType.SHARDED_STATE_DICT, ShardedStateDictConfig()
        ):
            state = model.state_dict()
    full = {key: value.full_tensor().detach().clone() for key, value in state.items()}
    if dist.get_rank() == 0:
        torch.save(full, out_dir / "trained_full.pt")
    dist.barrier()


def main(model_dir: str, out_dir: str) -> None:
    import torch.distributed as dist
    from torch.distributed.device_mesh import init_device_mesh

    dist.init_process_group("gloo")
    mesh = init_device_mesh("cpu", (dist.get_world_size(),), mesh_dim_names=("fsdp",))
    train_and_save(model_dir, Path(out_dir), 2, mesh)
    train_and_save(model_dir, Path(out_dir) / "fsdp1", 1, mesh)

    # Uneven shards: an odd vocabulary (485 rows) splits 243 / 242 across the two ranks.
    uneven_base = Path(out_dir) / "uneven_base"
    if dist.get_rank() == 0:
        write_odd_vocab_model(model_dir, uneven_base)
    dist.barrier()
    train_and_save(str(uneven_base), Path(out_dir) / "uneven", 2, mesh)
    dist.destroy_process_group()


def write_odd_vocab_model(model_dir: str, out: Path) -> None:
    """Copy of the model with one more (odd-numbered) vocabulary row, saved with its tokenizer."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    vocab = model.config.vocab_size + 1 if model.config.vocab_size % 2 == 0 else model.config.vocab_size
    model.resize_token_embeddings(vocab, mean_resizing=False)
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(model_dir).save_pretrained(out)


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main(sys.argv[1], sys.argv[2])
