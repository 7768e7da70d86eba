"""Checkpoint discovery (`sparkle.checkpoints.layout`) on real verl checkpoints written by two gloo processes
(FSDP2): both layouts are recognised from the step and the actor folder, and a doctored shard set is refused
with the fault named and nothing written."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import assert_conversion_fails, copy_checkpoint

from sparkle.checkpoints import find_checkpoint

pytestmark = pytest.mark.slow


def test_layouts_are_recognised_from_step_and_actor_folders(fsdp_ckpt):
    for path in (fsdp_ckpt.step, fsdp_ckpt.actor):
        layout = find_checkpoint(path)
        assert layout.actor_dir == fsdp_ckpt.actor
        assert (layout.kind, layout.world_size) == ("verl", 2)
        assert [p.name for p in layout.shard_paths] == [f"model_world_size_2_rank_{r}.pt" for r in (0, 1)]
        assert layout.hf_dir == fsdp_ckpt.actor / "huggingface"
    legacy = find_checkpoint(fsdp_ckpt.legacy)
    assert (legacy.kind, legacy.hf_dir, legacy.fsdp_config) == ("shards-only", None, None)


# --- refused shard sets: each builds a doctored copy, expects a SparkleError naming the fault, and no output ---


def _no_shards(fsdp_ckpt, tmp_path):
    (tmp_path / "empty" / "actor").mkdir(parents=True)
    return tmp_path / "empty", {}


def _run_root(fsdp_ckpt, tmp_path):
    root = tmp_path / "run"
    shutil.copytree(fsdp_ckpt.legacy, root / "global_step_40")
    return root, {}


def _mixed_world_sizes(fsdp_ckpt, tmp_path):
    dst = copy_checkpoint(fsdp_ckpt, tmp_path, legacy=True)
    shutil.copy(
        dst / "actor" / "model_world_size_2_rank_0.pt", dst / "actor" / "model_world_size_4_rank_0.pt"
    )
    return dst, {}


def _missing_rank(fsdp_ckpt, tmp_path):
    dst = copy_checkpoint(fsdp_ckpt, tmp_path)
    (dst / "actor" / "model_world_size_2_rank_1.pt").unlink()
    return dst, {}


def _fsdp_config_disagrees(fsdp_ckpt, tmp_path):
    dst = copy_checkpoint(fsdp_ckpt, tmp_path)
    (dst / "actor" / "fsdp_config.json").write_text(json.dumps({"FSDP_version": 2, "world_size": 4}))
    return dst, {}


LAYOUT_ERRORS = [
    ("no shards", _no_shards, r"no model shards \(model_world_size_W_rank_R\.pt\)"),
    ("run root", _run_root, r"it holds global_step_40: pass one of those"),
    (
        "mixed world sizes",
        _mixed_world_sizes,
        r"several world sizes \(world size 2: 2 files, world size 4: 1 files\)",
    ),
    (
        "missing rank",
        _missing_rank,
        r"missing rank\(s\) \[1\] of world size 2 \(model_world_size_2_rank_1\.pt\)",
    ),
    (
        "fsdp_config disagrees",
        _fsdp_config_disagrees,
        r"world_size 4 but the shard files are for world size 2",
    ),
]


@pytest.mark.parametrize(("name", "setup", "message"), LAYOUT_ERRORS, ids=[c[0] for c in LAYOUT_ERRORS])
def test_layout_errors(fsdp_ckpt, tmp_path, name, setup, message):
    source, kwargs = setup(fsdp_ckpt, tmp_path)
    assert_conversion_fails(source, kwargs, tmp_path, message)
