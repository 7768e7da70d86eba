"""FSDP checkpoint -> Hugging Face model: merge, write atomically, load back and check, optionally upload.

Two layouts:

- today's verl (``fsdp_config.json`` + ``huggingface/`` beside the shards): verl's own
  ``verl.model_merger`` does the merge (it writes bf16); config and tokenizer come from ``huggingface/``;
- the 2025 verl fork (shards only): `sparkle.checkpoints.consolidate` merges the shards and the config,
  generation config and tokenizer come from ``base_model`` (the model the run started from).

Other output dtypes than bf16 use sparkle's merger for both layouts. The model is written into a
hidden folder beside the output, read back tensor by tensor (keys, shapes, dtypes; and values when
sparkle merged them), and only then renamed into place, so a failed or interrupted conversion never
leaves a half-written model.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sparkle.checkpoints.consolidate import (
    ExpectedWeights,
    check_rank_zero,
    consolidate_shards,
    expected_weights,
    quiet_device_mesh_warning,
)
from sparkle.checkpoints.hub import upload_model, upload_token
from sparkle.checkpoints.layout import CheckpointLayout, find_checkpoint
from sparkle.errors import SparkleError, bad_input
from sparkle.log import get_logger

if TYPE_CHECKING:
    import torch

log = get_logger(__name__)

# Output dtype names accepted on the command line -> torch dtype attribute.
DTYPES: dict[str, str] = {
    "bf16": "bfloat16",
    "bfloat16": "bfloat16",
    "fp16": "float16",
    "float16": "float16",
    "fp32": "float32",
    "float32": "float32",
}
MAX_SHARD_BYTES = 5 * 1024**3
WEIGHTS_NAME = "model.safetensors"
WEIGHTS_INDEX_NAME = "model.safetensors.index.json"


@dataclass(frozen=True)
class ConversionResult:
    """What a conversion wrote, for logs and callers."""

    output_dir: Path
    layout: str  # "verl" or "shards-only"
    merger: str  # "verl.model_merger" or "sparkle"
    world_size: int
    dtype: str
    num_tensors: int
    num_parameters: int
    config_source: str
    uploaded_to: str | None = None


def torch_dtype(name: str) -> torch.dtype:
    """``bf16``/``fp16``/``fp32`` (or the long names) -> torch dtype; anything else is a SparkleError."""
    import torch

    key = name.strip().lower()
    if key not in DTYPES:
        raise SparkleError(f"--dtype {name!r}: use bf16, fp16 or fp32")
    return getattr(torch, DTYPES[key])


def check_shard_file(path: Path) -> None:
    """Refuse a shard whose zip directory cannot be read (a truncated or partly copied file), naming it."""
    import zipfile

    try:
        with open(path, "rb") as f:
            if f.read(2) != b"PK":  # not torch's zip format (a legacy pickle): the loader checks it
                return
        with zipfile.ZipFile(path) as archive:
            archive.namelist()
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise bad_input(
            path,
            f"not a readable torch checkpoint ({e}); the file is damaged or incomplete (truncated copy?)",
            "copy it again from the training machine or use another global_step",
        ) from e


def _load_config(source: str) -> Any:
    from transformers import AutoConfig

    folder = Path(os.path.expanduser(source))
    if folder.is_dir():
        config_file = folder / "config.json"
        if not config_file.is_file():
            raise bad_input(
                folder,
                "no config.json in this model folder",
                "pass the folder that holds the model's config.json (a Hugging Face model folder)",
            )
        try:
            json.loads(config_file.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            raise bad_input(
                config_file,
                f"not valid JSON ({e})",
                "the file is damaged: restore it from the model the run started from (its config.json)",
            ) from e
    elif not folder.exists() and not source.startswith(("/", ".", "~")):
        from sparkle.hub import require_hub

        require_hub(source, "model")
    try:
        return AutoConfig.from_pretrained(source)
    except (OSError, ValueError) as e:
        if folder.is_dir():
            raise bad_input(
                folder / "config.json",
                f"not a usable model config ({e.__class__.__name__}: {str(e).strip().splitlines()[0][:200]})",
                "restore it from the model the run started from",
            ) from e
        raise SparkleError(
            f"cannot read a model config from {source!r} ({e.__class__.__name__}); pass a local model folder, "
            "or fetch the model first (`sparkle download base` for Qwen2.5-Math-7B)"
        ) from e


def _load_tokenizer(source: str) -> Any:
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(source)
    except (OSError, ValueError) as e:
        raise SparkleError(
            f"cannot read a tokenizer from {source!r} ({e.__class__.__name__}); it is needed beside the weights"
        ) from e


def _save_safetensors(folder: Path, tensors: dict[str, torch.Tensor], max_shard_bytes: int) -> None:
    """Write ``tensors`` as one ``model.safetensors`` or as shards with an index, like transformers."""
    from safetensors.torch import save_file

    groups: list[dict[str, torch.Tensor]] = [{}]
    size = 0
    for key, tensor in tensors.items():
        nbytes = tensor.numel() * tensor.element_size()
        if groups[-1] and size + nbytes > max_shard_bytes:
            groups.append({})
            size = 0
        groups[-1][key] = tensor
        size += nbytes
    if len(groups) == 1:
        save_file(groups[0], str(folder / WEIGHTS_NAME), metadata={"format": "pt"})
        return
    weight_map: dict[str, str] = {}
    for i, group in enumerate(groups, start=1):
        name = f"model-{i:05d}-of-{len(groups):05d}.safetensors"
        save_file(group, str(folder / name), metadata={"format": "pt"})
        weight_map.update(dict.fromkeys(group, name))
    total = sum(t.numel() * t.element_size() for t in tensors.values())
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    (folder / WEIGHTS_INDEX_NAME).write_text(json.dumps(index, indent=2) + "\n", encoding="utf-8")


def write_hf_model(
    folder: Path,
    tensors: dict[str, torch.Tensor],
    config: Any,
    source: str,
    dtype: torch.dtype,
    max_shard_bytes: int = MAX_SHARD_BYTES,
) -> None:
    """Write weights, config (with ``dtype``), generation config and tokenizer from ``source`` into ``folder``."""
    from transformers import GenerationConfig

    config.dtype = dtype
    config.save_pretrained(folder)
    try:
        GenerationConfig.from_pretrained(source).save_pretrained(folder)
    except OSError:
        log.info("%s has no generation_config.json; none written", source)
    _load_tokenizer(source).save_pretrained(folder)
    _save_safetensors(folder, tensors, max_shard_bytes)


def _weight_files(folder: Path) -> list[Path]:
    index = folder / WEIGHTS_INDEX_NAME
    if index.is_file():
        weight_map = json.loads(index.read_text(encoding="utf-8")).get("weight_map") or {}
        return [folder / name for name in sorted(set(weight_map.values()))]
    if (folder / WEIGHTS_NAME).is_file():
        return [folder / WEIGHTS_NAME]
    raise SparkleError(f"{folder}: no {WEIGHTS_NAME} or {WEIGHTS_INDEX_NAME} was written")


def _check_tensor(
    where: str,
    key: str,
    tensor: torch.Tensor,
    expected: ExpectedWeights,
    dtype: torch.dtype,
    reference: dict[str, torch.Tensor] | None,
) -> None:
    """One written tensor against the config's weights: known key, shape, dtype, and the merged value."""
    import torch

    if key not in expected.shapes:
        raise SparkleError(f"conversion check failed: {where} is not a weight of the written config")
    if tuple(tensor.shape) != expected.shapes[key]:
        raise SparkleError(
            f"conversion check failed: {where} has shape {list(tensor.shape)}, the config gives "
            f"{list(expected.shapes[key])}"
        )
    if tensor.dtype != dtype:
        raise SparkleError(f"conversion check failed: {where} is {tensor.dtype}, expected {dtype}")
    if reference is not None and not torch.equal(tensor, reference[key]):
        raise SparkleError(f"conversion check failed: {where} differs from the merged tensor")


def verify_hf_model(
    folder: str | Path, dtype: torch.dtype, reference: dict[str, torch.Tensor] | None = None
) -> tuple[int, int]:
    """Load a written model back and check it; return (tensors, parameters).

    Reads the config it holds, derives every weight's shape from it, then reads each tensor from the
    safetensors files and checks key, shape and dtype (and equality with ``reference`` when given); the
    tokenizer must load too. Any failure is a SparkleError naming the file and key.
    """
    from safetensors import safe_open

    folder = Path(folder)
    expected: ExpectedWeights = expected_weights(_load_config(str(folder)), str(folder))
    seen: set[str] = set()
    parameters = 0
    for path in _weight_files(folder):
        with safe_open(str(path), framework="pt") as f:
            for key in f.keys():
                tensor = f.get_tensor(key)
                _check_tensor(f"{path.name}: {key!r}", key, tensor, expected, dtype, reference)
                seen.add(key)
                parameters += tensor.numel()
    missing = sorted(set(expected.shapes) - seen - expected.optional)
    if missing:
        raise SparkleError(
            f"conversion check failed: {folder} lacks {len(missing)} weight(s), e.g. {missing[:3]}"
        )
    _load_tokenizer(str(folder))
    return len(seen), parameters


def _run_verl_merger(layout: CheckpointLayout, staging: Path) -> None:
    """Merge with verl's own FSDP merger (bf16) into ``staging``; its prints go to stderr, not stdout."""
    from verl.model_merger.base_model_merger import ModelMergerConfig
    from verl.model_merger.fsdp_model_merger import FSDPModelMerger

    config = ModelMergerConfig(
        operation="merge",
        backend="fsdp",
        local_dir=str(layout.actor_dir),
        target_dir=str(staging),
        hf_model_config_path=str(layout.hf_dir),
    )
    for path in layout.shard_paths:  # name a truncated shard before verl fails on "the folder"
        check_shard_file(path)
    try:
        with contextlib.redirect_stdout(sys.stderr), quiet_device_mesh_warning():
            merger = FSDPModelMerger(config)
            merger.merge_and_save()
            merger.cleanup()
    except (ValueError, RuntimeError, AssertionError, NotImplementedError, FileNotFoundError) as e:
        raise SparkleError(f"{layout.actor_dir}: verl's model_merger failed: {e}") from e


def _make_readable(folder: Path) -> None:
    """Give the staged folder and files the permissions plain mkdir/open would (mkdtemp and some writers use 0700/0600)."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(folder, 0o777 & ~umask)
    for path in folder.rglob("*"):
        os.chmod(path, (0o777 if path.is_dir() else 0o666) & ~umask)


def _check_output(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise SparkleError(f"--output_path {out}: a file is in the way; choose a folder path")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise SparkleError(
            f"--output_path {out}: folder exists and is not empty; pass --overwrite to replace it"
        )


def _install(staging: Path, out: Path) -> None:
    """Move the checked model into place; an existing output is replaced only after the new one is complete."""
    if out.is_dir() and not any(out.iterdir()):
        out.rmdir()
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
        os.replace(out, old / out.name)
        os.replace(staging, out)
        shutil.rmtree(old)
    else:
        os.replace(staging, out)


def _config_source(layout: CheckpointLayout, base_model: str | None) -> str:
    """Where config and tokenizer come from: the checkpoint's own ``huggingface/``, else ``base_model``."""
    if layout.hf_dir is not None:
        if base_model:
            log.info(
                "using the checkpoint's own %s for config and tokenizer; --base_model is not needed",
                layout.hf_dir,
            )
        return str(layout.hf_dir)
    if base_model:
        return base_model
    raise SparkleError(
        f"{layout.actor_dir}: no huggingface/ folder (a 2025-verl checkpoint), so config and tokenizer "
        "must come from the model the run started from: pass --base_model PATH_OR_ID "
        "(e.g. Qwen/Qwen2.5-Math-7B for Stage 1, the Stage-1 model for Stage 2)"
    )


def _merge_checked(
    layout: CheckpointLayout,
    out: Path,
    source: str,
    config: Any,
    expected: ExpectedWeights,
    out_dtype: torch.dtype,
    use_verl: bool,
) -> tuple[int, int]:
    """Merge into a hidden folder beside ``out``, check it loaded back, then move it into place;
    returns (tensors, parameters). A failure leaves ``out`` as it was."""
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial.", dir=out.parent))
    try:
        if use_verl:
            check_rank_zero(layout, expected)
            _run_verl_merger(layout, staging)
            reference = None
        else:
            reference = consolidate_shards(layout, expected, out_dtype)
            write_hf_model(staging, reference, config, source, out_dtype)
        counts = verify_hf_model(staging, out_dtype, reference)
        del reference
        _make_readable(staging)
        _install(staging, out)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return counts


def convert_checkpoint(
    fsdp_path: str | Path,
    output_path: str | Path,
    *,
    base_model: str | None = None,
    dtype: str = "bf16",
    overwrite: bool = False,
    upload_repo: str | None = None,
    private: bool = False,
) -> ConversionResult:
    """Convert a verl FSDP checkpoint (``global_step_N`` or its ``actor/``) to a checked Hugging Face model.

    ``base_model`` (a local folder or Hub id) supplies config and tokenizer for shards-only (2025)
    checkpoints; today's checkpoints carry their own in ``huggingface/``. With ``upload_repo`` the
    result is pushed to the Hub using ``HF_TOKEN``.
    """
    out_dtype = torch_dtype(dtype)
    dtype_name = DTYPES[dtype.strip().lower()]
    token = upload_token() if upload_repo else None
    layout = find_checkpoint(fsdp_path)
    out = Path(output_path)
    _check_output(out, overwrite)
    source = _config_source(layout, base_model)
    config = _load_config(source)
    expected = expected_weights(config, source)
    use_verl = layout.kind == "verl" and str(out_dtype) == "torch.bfloat16"
    merger = "verl.model_merger" if use_verl else "sparkle"
    log.info(
        "converting %s (%s layout, world size %d) to %s with %s, %s",
        layout.actor_dir,
        layout.kind,
        layout.world_size,
        out,
        merger,
        dtype_name,
    )
    num_tensors, num_parameters = _merge_checked(layout, out, source, config, expected, out_dtype, use_verl)
    log.info(
        "wrote %s: %d tensors, %d parameters, checked after loading back", out, num_tensors, num_parameters
    )
    uploaded = upload_model(out, upload_repo, token=token, private=private) if upload_repo and token else None
    return ConversionResult(
        output_dir=out,
        layout=layout.kind,
        merger=merger,
        world_size=layout.world_size,
        dtype=dtype_name,
        num_tensors=num_tensors,
        num_parameters=num_parameters,
        config_source=source,
        uploaded_to=uploaded,
    )
