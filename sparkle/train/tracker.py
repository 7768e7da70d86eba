"""verl's checkpoint tracker: the file in ``trainer.default_local_dir`` naming the latest saved step.

verl writes ``global_step_N/`` folders and records N in ``latest_checkpointed_iteration.txt``; its
``resume_mode=auto`` continues from that step, and the step's folder is what `sparkle convert` merges.
"""

from __future__ import annotations

import os
from pathlib import Path

TRACKER_FILE = "latest_checkpointed_iteration.txt"


def tracker_path(checkpoint_dir: str | os.PathLike[str]) -> Path:
    """Where verl records the latest step of the run checkpointed in ``checkpoint_dir``."""
    return Path(checkpoint_dir) / TRACKER_FILE


def latest_step(checkpoint_dir: str | os.PathLike[str]) -> int | None:
    """The latest step verl saved in ``checkpoint_dir`` (what a rerun resumes from), or None: no tracker
    file, or one that does not hold a whole number."""
    try:
        return int(tracker_path(checkpoint_dir).read_text().strip())
    except (OSError, ValueError):
        return None


def step_folder(checkpoint_dir: str | os.PathLike[str], step: int) -> Path:
    """The ``global_step_N`` folder of one saved step."""
    return Path(checkpoint_dir) / f"global_step_{step}"
