"""Checkpoints: verl FSDP -> Hugging Face conversion (both verl layouts), Hub download and upload.

- `convert_checkpoint` / `sparkle convert` / `eval/fsdp2hf.py`: merge a ``global_step_N`` checkpoint
  into a checked safetensors model (`sparkle.checkpoints.convert`);
- `download` / `sparkle download`: the released SparkleRL models and SPARKLE datasets by short name
  (`sparkle.checkpoints.hub`, names from `sparkle.registry`).

Heavy engines (torch, transformers, verl) are imported inside the functions.
"""

from sparkle.checkpoints.convert import ConversionResult, convert_checkpoint, verify_hf_model
from sparkle.checkpoints.hub import DOWNLOADS, HubRepo, download, resolve_download, upload_model
from sparkle.checkpoints.layout import CheckpointLayout, find_checkpoint

__all__ = [
    "DOWNLOADS",
    "CheckpointLayout",
    "ConversionResult",
    "HubRepo",
    "convert_checkpoint",
    "download",
    "find_checkpoint",
    "resolve_download",
    "upload_model",
    "verify_hf_model",
]
