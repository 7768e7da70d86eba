"""Where the repository and its companion ``shared`` folder are.

Also the one answer to "is this a Hugging Face Hub id or a local path?".

The package is installed editable from its checkout, so the repository root (``configs/``, ``scripts/``,
``eval/``) is the folder above ``sparkle/``. The benchmark and conformance data live beside the repository
in ``../shared`` unless ``SPARKLE_SHARED_DIR`` names another folder.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

SHARED_DIR_ENV = "SPARKLE_SHARED_DIR"
# org/name, as the Hub spells repository ids; a few old models have a bare name ("gpt2")
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
HUB_ID_OR_BARE_NAME = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


def repo_root() -> Path:
    """The repository checkout the package runs from (the folder holding ``sparkle/``)."""
    return Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    """The ``shared`` folder: ``$SPARKLE_SHARED_DIR``, else ``shared`` beside the repository."""
    override = os.environ.get(SHARED_DIR_ENV)
    return Path(override).expanduser() if override else repo_root().parent / "shared"


LOCAL_SUFFIXES = (".jsonl", ".json", ".parquet")  # data files a loader reads from disk


def looks_like_path(text: str | os.PathLike[str]) -> bool:
    """True when ``text`` is written like a local path: it starts with ``/``, ``.`` or ``~`` or names a
    data file by its suffix (whether or not it exists)."""
    text = str(text)
    return text.startswith(("/", ".", "~")) or text.endswith(LOCAL_SUFFIXES)


def is_hub_id(text: str | os.PathLike[str], bare_names: bool = False) -> bool:
    """True when ``text`` is a Hub repository id (``org/name``) rather than a local path: it has the id's
    shape, does not start like a path (``/``, ``.``, ``~``) and names nothing on this machine.
    ``bare_names``: also a name without an organisation (``gpt2``), as model loaders accept."""
    text = str(text)
    pattern = HUB_ID_OR_BARE_NAME if bare_names else HUB_ID
    return (
        bool(pattern.match(text))
        and not text.startswith(("/", ".", "~"))
        and not Path(text).expanduser().exists()
    )
