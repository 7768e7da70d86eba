"""Merge per-rank FSDP model shards into full tensors, checked against the model config.

This is the merger for checkpoints verl's own ``model_merger`` cannot read (the 2025 layout: no
``fsdp_config.json``, no ``huggingface/``) and for output dtypes other than bf16 (verl's merger always
casts to bf16). Shards may hold DTensors (FSDP2, or FSDP1 with a device mesh) or plain tensors:

- a DTensor sharded on one mesh dimension is concatenated along its shard dimension in mesh order;
  replicas along the other mesh dimensions must be equal;
- a plain tensor that already has the config's full shape on every rank is a replicated entry and
  must be equal on every rank; otherwise the pieces are concatenated on dim 0 (the 2025 fork's
  FSDP1 flat sharding);
- every merged tensor must have exactly the shape the config gives it.

Shards are opened with ``mmap`` so a 7B checkpoint is read lazily, one key at a time.
"""

from __future__ import annotations

import contextlib
import logging
import pickle
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sparkle.checkpoints.layout import CheckpointLayout
from sparkle.errors import SparkleError
from sparkle.log import get_logger
from sparkle.progress import track

if TYPE_CHECKING:
    import torch

log = get_logger(__name__)


@dataclass(frozen=True)
class ExpectedWeights:
    """The state-dict keys and shapes a config defines; ``optional`` keys are tied copies (not saved)."""

    shapes: dict[str, tuple[int, ...]]
    optional: frozenset[str]
    source: str

    def check_keys(self, keys: set[str], where: str) -> None:
        """Raise SparkleError when ``keys`` lack a required weight or hold one the config does not define."""
        unexpected = sorted(keys - set(self.shapes))
        missing = sorted(set(self.shapes) - keys - self.optional)
        if unexpected or missing:
            parts = []
            if missing:
                parts.append(f"missing {len(missing)} weight(s) the config defines, e.g. {missing[:3]}")
            if unexpected:
                parts.append(f"{len(unexpected)} weight(s) the config does not define, e.g. {unexpected[:3]}")
            raise SparkleError(
                f"{where}: {'; '.join(parts)} (config from {self.source}); "
                "the checkpoint was not trained from this model: pass the right --base_model"
            )

    def check_shape(self, key: str, shape: tuple[int, ...], where: str) -> None:
        want = self.shapes[key]
        if tuple(shape) != want:
            raise SparkleError(
                f"{where}: weight {key!r} has shape {list(shape)} but the config (from {self.source}) gives "
                f"{list(want)}; the checkpoint was not trained from this model: pass the right --base_model"
            )


def model_class_for(config: Any):
    """The transformers auto class that builds ``config``'s architecture (causal LMs and critics)."""
    from transformers import AutoModelForCausalLM, AutoModelForTokenClassification

    architectures = getattr(config, "architectures", None) or ["ForCausalLM"]
    arch = architectures[0]
    if arch.endswith("ForCausalLM"):
        return AutoModelForCausalLM
    if arch.endswith("ForTokenClassification"):
        return AutoModelForTokenClassification
    raise SparkleError(
        f"architecture {arch!r} is not supported by sparkle convert (causal LMs and token-classification "
        "critics only); use `python -m verl.model_merger merge` for it"
    )


def expected_weights(config: Any, source: str) -> ExpectedWeights:
    """Build the model on the meta device (no memory) and read its persistent state-dict shapes."""
    import torch

    with torch.device("meta"):
        model = model_class_for(config).from_config(config)
    state = model.state_dict()
    owned = {name for name, _ in model.named_parameters(remove_duplicate=True)}
    owned |= {name for name, _ in model.named_buffers(remove_duplicate=True)}
    shapes = {key: tuple(value.shape) for key, value in state.items()}
    return ExpectedWeights(shapes=shapes, optional=frozenset(set(shapes) - owned), source=source)


@contextlib.contextmanager
def quiet_device_mesh_warning() -> Iterator[None]:
    """Unpickling a DTensor outside a process group makes torch warn about torch.compile; irrelevant here."""
    logger = logging.getLogger("torch.distributed.device_mesh")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def load_shard(path: Path) -> dict[str, Any]:
    """Open one rank's model shard lazily (mmap). It is a pickle: only open checkpoints you trust."""
    import torch

    try:
        with quiet_device_mesh_warning():
            state = torch.load(path, map_location="cpu", weights_only=False, mmap=True)
    except (RuntimeError, OSError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile) as e:
        raise SparkleError(
            f"{path}: not a readable torch checkpoint ({e}); the file is damaged or incomplete"
        ) from e
    if not isinstance(state, dict) or not all(isinstance(k, str) for k in state):
        raise SparkleError(
            f"{path}: expected a state dict (parameter name -> tensor), got {type(state).__name__}"
        )
    return state


def _rank_coordinate(mesh: torch.Tensor, rank: int, mesh_dim: int, where: str) -> int:
    hits = (mesh == rank).nonzero()
    if len(hits) != 1:
        raise SparkleError(f"{where}: rank {rank} is not in the checkpoint's device mesh {mesh.tolist()}")
    return int(hits[0][mesh_dim])


def _one_replica(key: str, tensors: list[torch.Tensor], ranks: list[int], where: str) -> torch.Tensor:
    import torch

    first = tensors[0]
    for rank, tensor in zip(ranks[1:], tensors[1:], strict=True):
        if tensor.shape != first.shape or not torch.equal(tensor, first):
            raise SparkleError(
                f"{where}: {key!r} should be replicated but rank {rank} differs from rank {ranks[0]}; "
                "the shards come from different steps or runs"
            )
    return first


def merge_key(key: str, pieces: list[Any], expected: ExpectedWeights, where: str) -> torch.Tensor:
    """Merge one key's per-rank values (index = rank) into the full tensor, in its stored dtype."""
    import torch
    from torch.distributed.tensor import DTensor, Shard

    full_shape = expected.shapes[key]
    ranks = list(range(len(pieces)))
    if all(isinstance(p, DTensor) for p in pieces):
        placements = tuple(pieces[0].placements)
        for rank, piece in enumerate(pieces):
            if tuple(piece.placements) != placements:
                raise SparkleError(
                    f"{where}: {key!r} has placements {placements} on rank 0 but not on rank {rank}"
                )
        expected.check_shape(key, tuple(pieces[0].shape), where)  # a DTensor knows its global shape
        if any(p.is_partial() for p in placements):
            raise SparkleError(f"{where}: {key!r} holds partial sums ({placements}); it cannot be merged")
        sharded = [(m, p) for m, p in enumerate(placements) if p.is_shard()]
        if any(type(p) is not Shard for _, p in sharded) or len(sharded) > 1:
            raise SparkleError(
                f"{where}: {key!r} is sharded as {placements}; only FSDP sharding on one mesh dimension "
                "is supported (no tensor parallelism)"
            )
        local = [p.to_local() for p in pieces]
        if not sharded:
            return _one_replica(key, local, ranks, where)
        mesh_dim, placement = sharded[0]
        mesh = pieces[0].device_mesh.mesh
        groups: dict[int, list[int]] = {}
        for rank in ranks:
            groups.setdefault(_rank_coordinate(mesh, rank, mesh_dim, where), []).append(rank)
        parts = [_one_replica(key, [local[r] for r in groups[c]], groups[c], where) for c in sorted(groups)]
        return torch.cat(parts, dim=placement.dim)

    if all(isinstance(p, torch.Tensor) and not isinstance(p, DTensor) for p in pieces):
        if all(tuple(p.shape) == full_shape for p in pieces):
            return _one_replica(key, pieces, ranks, where)
        if any(p.dim() == 0 for p in pieces):
            raise SparkleError(
                f"{where}: scalar {key!r} differs in shape from the config's {list(full_shape)}"
            )
        try:
            return torch.cat(pieces, dim=0)
        except RuntimeError as e:
            shapes = [list(p.shape) for p in pieces]
            raise SparkleError(f"{where}: {key!r} pieces {shapes} cannot be joined on dim 0 ({e})") from e

    kinds = sorted({type(p).__name__ for p in pieces})
    raise SparkleError(
        f"{where}: {key!r} is stored as {kinds} across ranks; expected DTensors or plain tensors"
    )


def consolidate_shards(
    layout: CheckpointLayout, expected: ExpectedWeights, dtype: torch.dtype
) -> dict[str, torch.Tensor]:
    """Load every rank's shard, merge each key, check its shape against the config and cast to ``dtype``.

    Tied copies the config does not store separately (``expected.optional``) are dropped.
    """
    states = [load_shard(path) for path in track(layout.shard_paths, "Loading shards")]
    keys = set(states[0])
    for rank, state in enumerate(states[1:], start=1):
        if set(state) != keys:
            diff = sorted(keys ^ set(state))
            raise SparkleError(
                f"{layout.shard_paths[rank]}: holds other keys than rank 0 (e.g. {diff[:3]}); "
                "the shards come from different runs"
            )
    expected.check_keys(keys, str(layout.actor_dir))

    merged: dict[str, torch.Tensor] = {}
    for key in track(sorted(keys), "Merging shards"):
        pieces = [state.pop(key) for state in states]
        if key in expected.optional:
            continue
        full = merge_key(key, pieces, expected, str(layout.actor_dir))
        expected.check_shape(key, tuple(full.shape), str(layout.actor_dir))
        merged[key] = full.to(dtype).contiguous()
    log.info("merged %d tensors from %d shards in %s", len(merged), layout.world_size, layout.actor_dir)
    return merged


def check_rank_zero(layout: CheckpointLayout, expected: ExpectedWeights) -> None:
    """Check rank 0's keys and global shapes against the config before verl's merger runs."""
    import torch

    state = load_shard(layout.shard_paths[0])
    expected.check_keys(set(state), str(layout.shard_paths[0]))
    for key, value in state.items():
        # A DTensor's shape is the global one; verl keeps a plain tensor as a replica of the full weight.
        if isinstance(value, torch.Tensor):
            expected.check_shape(key, tuple(value.shape), str(layout.shard_paths[0]))
