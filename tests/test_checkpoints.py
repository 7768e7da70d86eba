"""FSDP -> Hugging Face conversion on real verl checkpoints written by two gloo processes (FSDP2).

One checkpoint is written per module (tests/fsdp_worker.py under torchrun) and reused for today's
layout and for a 2025-style copy (shards only); each error case gets its own doctored copy.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from safetensors.torch import load_file

from sparkle.checkpoints import convert_checkpoint, find_checkpoint
from sparkle.cli import main as sparkle_main
from sparkle.errors import SparkleError

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]


def _env() -> dict[str, str]:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", OMP_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    return env


def _checkpoint(folder: Path, tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    step = folder / "global_step_1"
    legacy = tmp_path_factory.mktemp("legacy") / "global_step_1"
    shutil.copytree(step, legacy)
    shutil.rmtree(legacy / "actor" / "huggingface")
    (legacy / "actor" / "fsdp_config.json").unlink()
    return SimpleNamespace(
        step=step, actor=step / "actor", legacy=legacy, trained=torch.load(folder / "trained_full.pt")
    )


@pytest.fixture(scope="module")
def ckpt(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """An FSDP2 verl checkpoint after one AdamW step, its trained full weights, and a shards-only copy.

    ``ckpt.fsdp1`` holds the same for an FSDP1-wrapped run (what the 2025 verl fork trained with).
    """
    root = tmp_path_factory.mktemp("fsdp_ckpt")
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        str(REPO / "tests" / "fsdp_worker.py"),
        str(tiny_model_dir),
        str(root),
    ]
    proc = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    ckpt = _checkpoint(root, tmp_path_factory)
    ckpt.fsdp1 = _checkpoint(root / "fsdp1", tmp_path_factory)
    ckpt.uneven = _checkpoint(root / "uneven", tmp_path_factory)
    ckpt.uneven.base = root / "uneven_base"
    ckpt.initial = load_file(str(tiny_model_dir / "model.safetensors"))
    return ckpt


def _assert_weights(out: Path, trained: dict[str, torch.Tensor], dtype: torch.dtype) -> None:
    merged = load_file(str(out / "model.safetensors"))
    assert set(merged) == set(trained)
    for key, value in trained.items():
        assert merged[key].dtype == dtype, key
        assert torch.equal(merged[key], value.to(dtype)), key


def _no_leftovers(parent: Path) -> list[str]:
    return [p.name for p in parent.iterdir() if p.name.startswith(".")]


def test_layouts_are_recognised_from_step_and_actor_folders(ckpt):
    for path in (ckpt.step, ckpt.actor):
        layout = find_checkpoint(path)
        assert layout.actor_dir == ckpt.actor
        assert (layout.kind, layout.world_size) == ("verl", 2)
        assert [p.name for p in layout.shard_paths] == [f"model_world_size_2_rank_{r}.pt" for r in (0, 1)]
        assert layout.hf_dir == ckpt.actor / "huggingface"
    legacy = find_checkpoint(ckpt.legacy)
    assert (legacy.kind, legacy.hf_dir, legacy.fsdp_config) == ("shards-only", None, None)


def test_training_step_changed_every_weight(ckpt):
    # Guards the comparisons below: the merged weights must match the trained ones, not the initial ones.
    assert set(ckpt.trained) == set(ckpt.initial)
    assert all(not torch.equal(ckpt.trained[k].bfloat16(), ckpt.initial[k].bfloat16()) for k in ckpt.trained)


def test_today_layout_bf16_goes_through_verl_merger(ckpt, tmp_path):
    out = tmp_path / "hf"
    result = convert_checkpoint(ckpt.step, out)
    assert (result.layout, result.merger, result.dtype, result.world_size) == (
        "verl",
        "verl.model_merger",
        "bfloat16",
        2,
    )
    assert result.num_tensors == len(ckpt.trained)
    assert result.num_parameters == sum(t.numel() for t in ckpt.trained.values())
    _assert_weights(out, ckpt.trained, torch.bfloat16)
    assert json.loads((out / "config.json").read_text())["dtype"] == "bfloat16"
    assert _no_leftovers(tmp_path) == []


def test_today_layout_fp32_is_exact(ckpt, tmp_path, capsys):
    out = tmp_path / "hf32"
    assert (
        sparkle_main(
            ["convert", "--fsdp_path", str(ckpt.actor), "--output_path", str(out), "--dtype", "fp32"]
        )
        == 0
    )
    assert capsys.readouterr().out.strip() == str(out)
    _assert_weights(out, ckpt.trained, torch.float32)


def test_2025_layout_takes_config_and_tokenizer_from_base_model(ckpt, tiny_model_dir, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = tmp_path / "hf"
    result = convert_checkpoint(ckpt.legacy, out, base_model=str(tiny_model_dir))
    assert (result.layout, result.merger, result.config_source) == (
        "shards-only",
        "sparkle",
        str(tiny_model_dir),
    )
    _assert_weights(out, ckpt.trained, torch.bfloat16)
    model = AutoModelForCausalLM.from_pretrained(out)
    assert model.dtype == torch.bfloat16
    assert torch.equal(model.state_dict()["lm_head.weight"], ckpt.trained["lm_head.weight"].bfloat16())
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert tokenizer.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False).startswith(
        "<|im_start|>system"
    )
    assert (out / "generation_config.json").is_file()


@pytest.mark.parametrize(("legacy", "merger"), [(False, "verl.model_merger"), (True, "sparkle")])
def test_fsdp1_checkpoint_in_both_layouts(ckpt, tiny_model_dir, tmp_path, legacy, merger):
    source = ckpt.fsdp1.legacy if legacy else ckpt.fsdp1.step
    assert json.loads((ckpt.fsdp1.actor / "fsdp_config.json").read_text())["FSDP_version"] == 1
    result = convert_checkpoint(source, tmp_path / "hf", base_model=str(tiny_model_dir) if legacy else None)
    assert result.merger == merger
    _assert_weights(tmp_path / "hf", ckpt.fsdp1.trained, torch.bfloat16)


@pytest.mark.parametrize(("legacy", "merger"), [(False, "verl.model_merger"), (True, "sparkle")])
def test_uneven_shards(ckpt, tmp_path, legacy, merger):
    shard = torch.load(ckpt.uneven.actor / "model_world_size_2_rank_1.pt", weights_only=False)
    assert (
        shard["model.embed_tokens.weight"].to_local().shape[0] * 2 + 1
        == shard["model.embed_tokens.weight"].shape[0]
    )
    source = ckpt.uneven.legacy if legacy else ckpt.uneven.step
    result = convert_checkpoint(source, tmp_path / "hf", base_model=str(ckpt.uneven.base) if legacy else None)
    assert result.merger == merger
    _assert_weights(tmp_path / "hf", ckpt.uneven.trained, torch.bfloat16)


def test_fsdp2hf_script_original_flags(ckpt, tiny_model_dir, tmp_path):
    out = tmp_path / "hf"
    cmd = [sys.executable, str(REPO / "eval" / "fsdp2hf.py"), "--fsdp_path", str(ckpt.legacy / "actor")]
    cmd += ["--output_path", str(out), "--base_model", str(tiny_model_dir), "--dtype", "bf16"]
    proc = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == str(out)
    _assert_weights(out, ckpt.trained, torch.bfloat16)

    out2 = tmp_path / "hf2"
    bad = subprocess.run(
        [
            sys.executable,
            str(REPO / "eval" / "fsdp2hf.py"),
            "--fsdp_path",
            str(ckpt.legacy),
            "--output_path",
            str(out2),
        ],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert bad.returncode == 2
    assert "--base_model" in bad.stderr and "Traceback" not in bad.stderr
    assert not out2.exists()


def _plain_shards(ckpt, folder: Path, replicated: dict[str, list[torch.Tensor]] | None = None) -> Path:
    """2025-fork flavour: plain tensors, dim-0 pieces per rank; ``replicated`` keys get the given full copies."""
    actor = folder / "actor"
    actor.mkdir(parents=True)
    for rank in range(2):
        state = torch.load(ckpt.actor / f"model_world_size_2_rank_{rank}.pt", weights_only=False)
        plain = {k: v.to_local().clone() for k, v in state.items()}
        for key, copies in (replicated or {}).items():
            plain[key] = copies[rank]
        torch.save(plain, actor / f"model_world_size_2_rank_{rank}.pt")
    return folder


def test_plain_tensor_shards_concatenate_and_replicas_are_kept_once(ckpt, tiny_model_dir, tmp_path):
    norm = ckpt.trained["model.norm.weight"]
    src = _plain_shards(ckpt, tmp_path / "plain", {"model.norm.weight": [norm.clone(), norm.clone()]})
    out = tmp_path / "hf"
    convert_checkpoint(src, out, base_model=str(tiny_model_dir), dtype="fp32")
    _assert_weights(out, ckpt.trained, torch.float32)


def test_replicas_that_differ_are_refused(ckpt, tiny_model_dir, tmp_path):
    norm = ckpt.trained["model.norm.weight"]
    src = _plain_shards(ckpt, tmp_path / "plain", {"model.norm.weight": [norm.clone(), norm + 1.0]})
    with pytest.raises(SparkleError, match=r"'model.norm.weight' should be replicated but rank 1 differs"):
        convert_checkpoint(src, tmp_path / "hf", base_model=str(tiny_model_dir))
    assert not (tmp_path / "hf").exists()


def test_existing_output_needs_overwrite(ckpt, tmp_path):
    out = tmp_path / "hf"
    out.mkdir()
    (out / "keep.txt").write_text("user data")
    with pytest.raises(SparkleError, match="pass --overwrite"):
        convert_checkpoint(ckpt.step, out)
    assert (out / "keep.txt").read_text() == "user data"
    convert_checkpoint(ckpt.step, out, overwrite=True)
    assert not (out / "keep.txt").exists()
    _assert_weights(out, ckpt.trained, torch.bfloat16)
    assert _no_leftovers(tmp_path) == []


# --- error cases: each builds a doctored copy, expects a SparkleError naming the fault, and no output ---


def _copy(ckpt, tmp_path: Path, legacy: bool = False) -> Path:
    dst = tmp_path / "global_step_1"
    shutil.copytree(ckpt.legacy if legacy else ckpt.step, dst)
    return dst


def _no_shards(ckpt, tmp_path, small_model):
    (tmp_path / "empty" / "actor").mkdir(parents=True)
    return tmp_path / "empty", {}


def _run_root(ckpt, tmp_path, small_model):
    root = tmp_path / "run"
    shutil.copytree(ckpt.legacy, root / "global_step_40")
    return root, {}


def _mixed_world_sizes(ckpt, tmp_path, small_model):
    dst = _copy(ckpt, tmp_path, legacy=True)
    shutil.copy(
        dst / "actor" / "model_world_size_2_rank_0.pt", dst / "actor" / "model_world_size_4_rank_0.pt"
    )
    return dst, {}


def _missing_rank(ckpt, tmp_path, small_model):
    dst = _copy(ckpt, tmp_path)
    (dst / "actor" / "model_world_size_2_rank_1.pt").unlink()
    return dst, {}


def _fsdp_config_disagrees(ckpt, tmp_path, small_model):
    dst = _copy(ckpt, tmp_path)
    (dst / "actor" / "fsdp_config.json").write_text(json.dumps({"FSDP_version": 2, "world_size": 4}))
    return dst, {}


def _base_model_needed(ckpt, tmp_path, small_model):
    return _copy(ckpt, tmp_path, legacy=True), {}


def _base_model_shapes_differ(ckpt, tmp_path, small_model):
    return _copy(ckpt, tmp_path, legacy=True), {"base_model": str(small_model)}


def _today_config_shapes_differ(ckpt, tmp_path, small_model):
    dst = _copy(ckpt, tmp_path)
    config_path = dst / "actor" / "huggingface" / "config.json"
    config = json.loads(config_path.read_text())
    config["intermediate_size"] = 96
    config_path.write_text(json.dumps(config))
    return dst, {}


def _base_model_missing_offline(ckpt, tmp_path, small_model):
    return _copy(ckpt, tmp_path, legacy=True), {"base_model": "no-such-org/no-such-model"}


def _damaged_shard(ckpt, tmp_path, small_model):
    dst = _copy(ckpt, tmp_path, legacy=True)
    (dst / "actor" / "model_world_size_2_rank_1.pt").write_bytes(b"not a checkpoint")
    return dst, {"base_model": str(ckpt.actor / "huggingface")}


def _base_model_without_config(ckpt, tmp_path, small_model):
    (tmp_path / "base").mkdir()
    return _copy(ckpt, tmp_path, legacy=True), {"base_model": str(tmp_path / "base")}


def _damaged_hf_config(ckpt, tmp_path, small_model):
    dst = _copy(ckpt, tmp_path)
    (dst / "actor" / "huggingface" / "config.json").write_text('{"architectures": [')
    return dst, {}


def _truncated_shard(ckpt, tmp_path, small_model):
    dst = _copy(ckpt, tmp_path)
    shard = dst / "actor" / "model_world_size_2_rank_1.pt"
    shard.write_bytes(shard.read_bytes()[: shard.stat().st_size // 2])
    return dst, {}


def _unknown_dtype(ckpt, tmp_path, small_model):
    return ckpt.step, {"dtype": "int8"}


ERROR_CASES = [
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
    ("base model needed", _base_model_needed, r"no huggingface/ folder .* pass --base_model"),
    (
        "shapes differ (base model)",
        _base_model_shapes_differ,
        r"weight 'lm_head.weight' has shape \[\d+, 64\] but the config \(from .*small_model0\) gives \[\d+, 32\]",
    ),
    (
        "shapes differ (huggingface/)",
        _today_config_shapes_differ,
        r"gate_proj.weight' has shape \[128, 64\] but the config \(from .*actor/huggingface\) gives \[96, 64\]",
    ),
    (
        "base model offline",
        _base_model_missing_offline,
        r"model 'no-such-org/no-such-model': .* not in the local cache; pass a local model folder",
    ),
    ("base model folder without config", _base_model_without_config, r"no config\.json in this model folder"),
    ("damaged huggingface/config.json", _damaged_hf_config, r"huggingface/config\.json: not valid JSON"),
    ("truncated shard", _truncated_shard, r"model_world_size_2_rank_1\.pt: not a readable torch checkpoint"),
    ("damaged shard", _damaged_shard, r"model_world_size_2_rank_1\.pt: not a readable torch checkpoint"),
    ("unknown dtype", _unknown_dtype, r"--dtype 'int8': use bf16, fp16 or fp32"),
]


@pytest.fixture(scope="module")
def small_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A base model whose shapes do not match the checkpoint (hidden size 32 instead of 64)."""
    from sparkle.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("small_model"), hidden_size=32)


@pytest.mark.parametrize(("name", "setup", "message"), ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
def test_conversion_errors(ckpt, small_model, tmp_path, name, setup, message):
    source, kwargs = setup(ckpt, tmp_path, small_model)
    out_parent = tmp_path / "outputs"
    out_parent.mkdir()
    with pytest.raises(SparkleError, match=message):
        convert_checkpoint(source, out_parent / "hf", **kwargs)
    assert list(out_parent.iterdir()) == []  # nothing half-written, no staging folder left behind


def test_cli_error_is_one_line_exit_2(ckpt, tmp_path, capsys):
    status = sparkle_main(["convert", "--fsdp_path", str(ckpt.legacy), "--output_path", str(tmp_path / "hf")])
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("sparkle convert: error: ") and err.count("\n") == 1


def test_sharded_safetensors_with_index_load_back(ckpt, tiny_model_dir, tmp_path):
    from transformers import AutoConfig, AutoModelForCausalLM

    from sparkle.checkpoints.convert import verify_hf_model, write_hf_model

    tensors = {k: v.bfloat16() for k, v in ckpt.trained.items()}
    config = AutoConfig.from_pretrained(tiny_model_dir)
    write_hf_model(tmp_path, tensors, config, str(tiny_model_dir), torch.bfloat16, max_shard_bytes=40_000)
    index = json.loads((tmp_path / "model.safetensors.index.json").read_text())
    files = sorted(set(index["weight_map"].values()))
    assert len(files) > 2 and set(index["weight_map"]) == set(tensors)
    assert verify_hf_model(tmp_path, torch.bfloat16, tensors) == (
        len(tensors),
        sum(t.numel() for t in tensors.values()),
    )
    state = AutoModelForCausalLM.from_pretrained(tmp_path).state_dict()
    assert all(torch.equal(state[k], v) for k, v in tensors.items())


def test_load_back_check_catches_wrong_dtype_values_and_missing_weights(ckpt, tiny_model_dir, tmp_path):
    from safetensors.torch import save_file
    from transformers import AutoConfig

    from sparkle.checkpoints.convert import verify_hf_model, write_hf_model

    tensors = {k: v.bfloat16() for k, v in ckpt.trained.items()}
    write_hf_model(
        tmp_path, tensors, AutoConfig.from_pretrained(tiny_model_dir), str(tiny_model_dir), torch.bfloat16
    )
    with pytest.raises(SparkleError, match=r"is torch.bfloat16, expected torch.float32"):
        verify_hf_model(tmp_path, torch.float32)
    changed = dict(tensors, **{"model.norm.weight": tensors["model.norm.weight"] + 1})
    with pytest.raises(SparkleError, match=r"'model.norm.weight' differs from the merged tensor"):
        verify_hf_model(tmp_path, torch.bfloat16, changed)
    save_file(
        {k: v for k, v in tensors.items() if k != "lm_head.weight"}, str(tmp_path / "model.safetensors")
    )
    with pytest.raises(SparkleError, match=r"lacks 1 weight\(s\), e.g. \['lm_head.weight'\]"):
        verify_hf_model(tmp_path, torch.bfloat16)
