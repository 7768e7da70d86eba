"""Merging FSDP shards (`sparkle.checkpoints.consolidate`, and verl's merger) on real verl checkpoints written
by two gloo processes: FSDP1 and FSDP2 runs, uneven shards, plain-tensor shards of the 2025 fork and
replicated weights, each compared with the trained full weights."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import assert_weights

from sparkle.checkpoints import convert_checkpoint
from sparkle.errors import SparkleError

pytestmark = pytest.mark.slow


def test_training_step_changed_every_weight(fsdp_ckpt):
    # Guards the comparisons below: the merged weights must match the trained ones, not the initial ones.
    assert set(fsdp_ckpt.trained) == set(fsdp_ckpt.initial)
    assert all(
        not torch.equal(fsdp_ckpt.trained[k].bfloat16(), fsdp_ckpt.initial[k].bfloat16())
        for k in fsdp_ckpt.trained
    )


@pytest.mark.parametrize(("legacy", "merger"), [(False, "verl.model_merger"), (True, "sparkle")])
def test_fsdp1_checkpoint_in_both_layouts(fsdp_ckpt, tiny_model_dir, tmp_path, legacy, merger):
    source = fsdp_ckpt.fsdp1.legacy if legacy else fsdp_ckpt.fsdp1.step
    assert json.loads((fsdp_ckpt.fsdp1.actor / "fsdp_config.json").read_text())["FSDP_version"] == 1
    result = convert_checkpoint(source, tmp_path / "hf", base_model=str(tiny_model_dir) if legacy else None)
    assert result.merger == merger
    assert_weights(tmp_path / "hf", fsdp_ckpt.fsdp1.trained, torch.bfloat16)


@pytest.mark.parametrize(("legacy", "merger"), [(False, "verl.model_merger"), (True, "sparkle")])
def test_uneven_shards(fsdp_ckpt, tmp_path, legacy, merger):
    shard = torch.load(fsdp_ckpt.uneven.actor / "model_world_size_2_rank_1.pt", weights_only=False)
    assert (
        shard["model.embed_tokens.weight"].to_local().shape[0] * 2 + 1
        == shard["model.embed_tokens.weight"].shape[0]
    )
    source = fsdp_ckpt.uneven.legacy if legacy else fsdp_ckpt.uneven.step
    result = convert_checkpoint(
        source, tmp_path / "hf", base_model=str(fsdp_ckpt.uneven.base) if legacy else None
    )
    assert result.merger == merger
    assert_weights(tmp_path / "hf", fsdp_ckpt.uneven.trained, torch.bfloat16)


def _plain_shards(fsdp_ckpt, folder: Path, replicated: dict[str, list[torch.Tensor]] | None = None) -> Path:
    """2025-fork flavour: plain tensors, dim-0 pieces per rank; ``replicated`` keys get the given full copies."""
    actor = folder / "actor"
    actor.mkdir(parents=True)
    for rank in range(2):
        state = torch.load(fsdp_ckpt.actor / f"model_world_size_2_rank_{rank}.pt", weights_only=False)
        plain = {k: v.to_local().clone() for k, v in state.items()}
        for key, copies in (replicated or {}).items():
            plain[key] = copies[rank]
        torch.save(plain, actor / f"model_world_size_2_rank_{rank}.pt")
    return folder


def test_plain_tensor_shards_concatenate_and_replicas_are_kept_once(fsdp_ckpt, tiny_model_dir, tmp_path):
    norm = fsdp_ckpt.trained["model.norm.weight"]
    src = _plain_shards(fsdp_ckpt, tmp_path / "plain", {"model.norm.weight": [norm.clone(), norm.clone()]})
    out = tmp_path / "hf"
    convert_checkpoint(src, out, base_model=str(tiny_model_dir), dtype="fp32")
    assert_weights(out, fsdp_ckpt.trained, torch.float32)


def test_replicas_that_differ_are_refused(fsdp_ckpt, tiny_model_dir, tmp_path):
    norm = fsdp_ckpt.trained["model.norm.weight"]
    src = _plain_shards(fsdp_ckpt, tmp_path / "plain", {"model.norm.weight": [norm.clone(), norm + 1.0]})
    with pytest.raises(SparkleError, match=r"'model.norm.weight' should be replicated but rank 1 differs"):
        convert_checkpoint(src, tmp_path / "hf", base_model=str(tiny_model_dir))
    assert not (tmp_path / "hf").exists()
