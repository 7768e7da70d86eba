"""Find and check the files of a verl FSDP checkpoint before anything is loaded.

verl writes ``{default_local_dir}/global_step_N/actor/`` with one ``model_world_size_W_rank_R.pt`` per
rank. Today's verl adds ``fsdp_config.json`` (``{"FSDP_version", "world_size"}``) and ``huggingface/``
(config, generation config and tokenizer); the 2025 verl fork the paper used wrote the shards only.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from sparkle.errors import SparkleError

SHARD_PATTERN = re.compile(r"^model_world_size_(\d+)_rank_(\d+)\.pt$")
FSDP_CONFIG_NAME = "fsdp_config.json"
HF_SUBDIR = "huggingface"


@dataclass(frozen=True)
class CheckpointLayout:
    """The model shards of one checkpoint, in rank order, and what else the folder holds."""

    actor_dir: Path
    world_size: int
    shard_paths: tuple[Path, ...]
    fsdp_config: dict | None
    hf_dir: Path | None

    @property
    def kind(self) -> str:
        """``"verl"`` for today's layout (fsdp_config.json + huggingface/), ``"shards-only"`` for the 2025 one."""
        return "verl" if self.fsdp_config is not None and self.hf_dir is not None else "shards-only"


def _shards_in(folder: Path) -> dict[tuple[int, int], Path]:
    found: dict[tuple[int, int], Path] = {}
    if folder.is_dir():
        for path in folder.iterdir():
            match = SHARD_PATTERN.match(path.name)
            if match and path.is_file():
                found[(int(match.group(1)), int(match.group(2)))] = path
    return found


def _step_number(path: Path) -> int:
    match = re.search(r"(\d+)$", path.name)
    return int(match.group(1)) if match else -1


def _actor_shards(root: Path) -> tuple[Path, dict[tuple[int, int], Path]]:
    """(folder holding the shards, {(world size, rank): path}): ``root`` itself or its ``actor/``."""
    if not root.exists():
        raise SparkleError(
            f"{root}: checkpoint folder not found; pass a global_step_N folder or its actor/ folder"
        )
    if not root.is_dir():
        raise SparkleError(f"{root}: not a folder; pass a global_step_N folder or its actor/ folder")
    actor_dir, shards = root, _shards_in(root)
    if not shards and _shards_in(root / "actor"):
        actor_dir, shards = root / "actor", _shards_in(root / "actor")
    if not shards:
        steps = sorted((p for p in root.glob("global_step_*") if p.is_dir()), key=_step_number)
        hint = (
            f"; it holds {', '.join(p.name for p in steps[-3:])}: pass one of those (e.g. {steps[-1]})"
            if steps
            else "; pass a global_step_N folder or its actor/ folder"
        )
        raise SparkleError(
            f"{root}: no model shards (model_world_size_W_rank_R.pt) here or in {root / 'actor'}{hint}"
        )
    return actor_dir, shards


def _complete_world_size(actor_dir: Path, shards: dict[tuple[int, int], Path]) -> int:
    """The one world size of the shards, every rank below it present (else a SparkleError)."""
    sizes = sorted({size for size, _ in shards})
    if len(sizes) > 1:
        counts = ", ".join(
            f"world size {s}: {sum(1 for size, _ in shards if size == s)} files" for s in sizes
        )
        raise SparkleError(
            f"{actor_dir}: model shards from several world sizes ({counts}); a checkpoint has exactly one. "
            "Remove the files left over from the other run"
        )
    world_size = sizes[0]
    ranks = {rank for _, rank in shards}
    missing = [r for r in range(world_size) if r not in ranks]
    extra = sorted(r for r in ranks if r >= world_size)
    if missing:
        names = ", ".join(f"model_world_size_{world_size}_rank_{r}.pt" for r in missing[:8])
        more = f" and {len(missing) - 8} more" if len(missing) > 8 else ""
        raise SparkleError(
            f"{actor_dir}: missing rank(s) {missing[:8]}{more} of world size {world_size} ({names}); "
            "the checkpoint is incomplete: copy the missing files or use another global_step"
        )
    if extra:
        raise SparkleError(f"{actor_dir}: shard rank(s) {extra} are not below the world size {world_size}")
    return world_size


def _fsdp_config(actor_dir: Path, world_size: int) -> dict | None:
    """Today's ``fsdp_config.json`` (None when absent), checked against the shards' world size."""
    config_path = actor_dir / FSDP_CONFIG_NAME
    if not config_path.is_file():
        return None
    try:
        fsdp_config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise SparkleError(f"{config_path}: not readable JSON ({e}); restore it or delete it") from e
    if not isinstance(fsdp_config, dict):
        raise SparkleError(f"{config_path}: expected a JSON object with 'world_size'")
    declared = fsdp_config.get("world_size")
    if declared is not None and declared != world_size:
        raise SparkleError(
            f"{config_path}: world_size {declared} but the shard files are for world size {world_size}; "
            "the folder mixes two runs"
        )
    return fsdp_config


def find_checkpoint(path: str | Path) -> CheckpointLayout:
    """Resolve ``path`` (a ``global_step_N`` folder or its ``actor/``) and check its shard set.

    Raises SparkleError when there are no shards, shards of several world sizes, a missing rank, or an
    ``fsdp_config.json`` whose world size disagrees with the shard names.
    """
    actor_dir, shards = _actor_shards(Path(path))
    world_size = _complete_world_size(actor_dir, shards)
    hf_dir = actor_dir / HF_SUBDIR
    return CheckpointLayout(
        actor_dir=actor_dir,
        world_size=world_size,
        shard_paths=tuple(shards[(world_size, r)] for r in range(world_size)),
        fsdp_config=_fsdp_config(actor_dir, world_size),
        hf_dir=hf_dir if (hf_dir / "config.json").is_file() else None,
    )
