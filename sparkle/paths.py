"""Where the repository and its companion ``shared`` folder are.

The package is installed editable from its checkout, so the repository root (``configs/``, ``scripts/``,
``eval/``) is the folder above ``sparkle/``. The benchmark and conformance data live beside the repository
in ``../shared`` unless ``SPARKLE_SHARED_DIR`` names another folder.
"""

from __future__ import annotations

import os
from pathlib import Path

SHARED_DIR_ENV = "SPARKLE_SHARED_DIR"


def repo_root() -> Path:
    """The repository checkout the package runs from (the folder holding ``sparkle/``)."""
    return Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    """The ``shared`` folder: ``$SPARKLE_SHARED_DIR``, else ``shared`` beside the repository."""
    override = os.environ.get(SHARED_DIR_ENV)
    return Path(override).expanduser() if override else repo_root().parent / "shared"
