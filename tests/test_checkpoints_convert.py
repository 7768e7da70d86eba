"""FSDP -> Hugging Face conversion (`sparkle.checkpoints.convert`) on real verl checkpoints written by two gloo
processes (FSDP2, the session fixture ``fsdp_ckpt``): today's layout through verl's merger and sparkle's,
the 2025 layout with a base model, the fsdp2hf script, refused inputs, and the load-back check."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import assert_conversion_fails, assert_weights, copy_checkpoint, offline_env

from sparkle.checkpoints import convert_checkpoint
from sparkle.cli import main as sparkle_main
from sparkle.errors import SparkleError

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]


def _no_leftovers(parent: Path) -> list[str]:
    return [p.name for p in parent.iterdir() if p.name.startswith(".")]


def test_today_layout_bf16_goes_through_verl_merger(fsdp_ckpt, tmp_path):
    out = tmp_path / "hf"
    result = convert_checkpoint(fsdp_ckpt.step, out)
    assert (result.layout, result.merger, result.dtype, result.world_size) == (
        "verl",
        "verl.model_merger",
        "bfloat16",
        2,
    )
    assert result.num_tensors == len(fsdp_ckpt.trained)
    assert result.num_parameters == sum(t.numel() for t in fsdp_ckpt.trained.values())
    assert_weights(out, fsdp_ckpt.trained, torch.bfloat16)
    assert json.loads((out / "config.json").read_text())["dtype"] == "bfloat16"
    assert _no_leftovers(tmp_path) == []


def test_today_layout_fp32_is_exact(fsdp_ckpt, tmp_path, capsys):
    out = tmp_path / "hf32"
    assert (
        sparkle_main(
            ["convert", "--fsdp_path", str(fsdp_ckpt.actor), "--output_path", str(out), "--dtype", "fp32"]
        )
        == 0
    )
    assert capsys.readouterr().out.strip() == str(out)
    assert_weights(out, fsdp_ckpt.trained, torch.float32)


def test_2025_layout_takes_config_and_tokenizer_from_base_model(fsdp_ckpt, tiny_model_dir, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = tmp_path / "hf"
    result = convert_checkpoint(fsdp_ckpt.legacy, out, base_model=str(tiny_model_dir))
    assert (result.layout, result.merger, result.config_source) == (
        "shards-only",
        "sparkle",
        str(tiny_model_dir),
    )
    assert_weights(out, fsdp_ckpt.trained, torch.bfloat16)
    model = AutoModelForCausalLM.from_pretrained(out)
    assert model.dtype == torch.bfloat16
    assert torch.equal(model.state_dict()["lm_head.weight"], fsdp_ckpt.trained["lm_head.weight"].bfloat16())
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert tokenizer.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False).startswith(
        "<|im_start|>system"
    )
    assert (out / "generation_config.json").is_file()


def test_fsdp2hf_script_original_flags(fsdp_ckpt, tiny_model_dir, tmp_path):
    out = tmp_path / "hf"
    cmd = [sys.executable, str(REPO / "eval" / "fsdp2hf.py"), "--fsdp_path", str(fsdp_ckpt.legacy / "actor")]
    cmd += ["--output_path", str(out), "--base_model", str(tiny_model_dir), "--dtype", "bf16"]
    proc = subprocess.run(cmd, env=offline_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == str(out)
    assert_weights(out, fsdp_ckpt.trained, torch.bfloat16)

    out2 = tmp_path / "hf2"
    bad = subprocess.run(
        [
            sys.executable,
            str(REPO / "eval" / "fsdp2hf.py"),
            "--fsdp_path",
            str(fsdp_ckpt.legacy),
            "--output_path",
            str(out2),
        ],
        env=offline_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert bad.returncode == 2
    assert "--base_model" in bad.stderr and "Traceback" not in bad.stderr
    assert not out2.exists()


def test_existing_output_needs_overwrite(fsdp_ckpt, tmp_path):
    out = tmp_path / "hf"
    out.mkdir()
    (out / "keep.txt").write_text("user data")
    with pytest.raises(SparkleError, match="pass --overwrite"):
        convert_checkpoint(fsdp_ckpt.step, out)
    assert (out / "keep.txt").read_text() == "user data"
    convert_checkpoint(fsdp_ckpt.step, out, overwrite=True)
    assert not (out / "keep.txt").exists()
    assert_weights(out, fsdp_ckpt.trained, torch.bfloat16)
    assert _no_leftovers(tmp_path) == []


# --- refused inputs: each builds a doctored copy, expects a SparkleError naming the fault, and no output ---


def _base_model_needed(fsdp_ckpt, tmp_path, small_model):
    return copy_checkpoint(fsdp_ckpt, tmp_path, legacy=True), {}


def _base_model_shapes_differ(fsdp_ckpt, tmp_path, small_model):
    return copy_checkpoint(fsdp_ckpt, tmp_path, legacy=True), {"base_model": str(small_model)}


def _today_config_shapes_differ(fsdp_ckpt, tmp_path, small_model):
    dst = copy_checkpoint(fsdp_ckpt, tmp_path)
    config_path = dst / "actor" / "huggingface" / "config.json"
    config = json.loads(config_path.read_text())
    config["intermediate_size"] = 96
    config_path.write_text(json.dumps(config))
    return dst, {}


def _base_model_missing_offline(fsdp_ckpt, tmp_path, small_model):
    return copy_checkpoint(fsdp_ckpt, tmp_path, legacy=True), {"base_model": "no-such-org/no-such-model"}


def _base_model_without_config(fsdp_ckpt, tmp_path, small_model):
    (tmp_path / "base").mkdir()
    return copy_checkpoint(fsdp_ckpt, tmp_path, legacy=True), {"base_model": str(tmp_path / "base")}


def _damaged_hf_config(fsdp_ckpt, tmp_path, small_model):
    dst = copy_checkpoint(fsdp_ckpt, tmp_path)
    (dst / "actor" / "huggingface" / "config.json").write_text('{"architectures": [')
    return dst, {}


def _truncated_shard(fsdp_ckpt, tmp_path, small_model):
    dst = copy_checkpoint(fsdp_ckpt, tmp_path)
    shard = dst / "actor" / "model_world_size_2_rank_1.pt"
    shard.write_bytes(shard.read_bytes()[: shard.stat().st_size // 2])
    return dst, {}


def _damaged_shard(fsdp_ckpt, tmp_path, small_model):
    dst = copy_checkpoint(fsdp_ckpt, tmp_path, legacy=True)
    (dst / "actor" / "model_world_size_2_rank_1.pt").write_bytes(b"not a checkpoint")
    return dst, {"base_model": str(fsdp_ckpt.actor / "huggingface")}


def _unknown_dtype(fsdp_ckpt, tmp_path, small_model):
    return fsdp_ckpt.step, {"dtype": "int8"}


ERROR_CASES = [
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
def test_conversion_errors(fsdp_ckpt, small_model, tmp_path, name, setup, message):
    source, kwargs = setup(fsdp_ckpt, tmp_path, small_model)
    assert_conversion_fails(source, kwargs, tmp_path, message)


def test_cli_error_is_one_line_exit_2(fsdp_ckpt, tmp_path, capsys):
    status = sparkle_main(
        ["convert", "--fsdp_path", str(fsdp_ckpt.legacy), "--output_path", str(tmp_path / "hf")]
    )
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("sparkle convert: error: ") and err.count("\n") == 1


def test_sharded_safetensors_with_index_load_back(fsdp_ckpt, tiny_model_dir, tmp_path):
    from transformers import AutoConfig, AutoModelForCausalLM

    from sparkle.checkpoints.convert import verify_hf_model, write_hf_model

    tensors = {k: v.bfloat16() for k, v in fsdp_ckpt.trained.items()}
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


def test_load_back_check_catches_wrong_dtype_values_and_missing_weights(fsdp_ckpt, tiny_model_dir, tmp_path):
    from safetensors.torch import save_file
    from transformers import AutoConfig

    from sparkle.checkpoints.convert import verify_hf_model, write_hf_model

    tensors = {k: v.bfloat16() for k, v in fsdp_ckpt.trained.items()}
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
