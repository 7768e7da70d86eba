"""Is the Hugging Face Hub usable? One quick answer, cached, before any Hub download is attempted.

Without a network the Hub clients retry for half a minute and print a line per retry; this module asks
once (``HF_HUB_OFFLINE``, then a TCP connection to the Hub endpoint with a short time limit), remembers
the answer for the process, and turns "unreachable and not cached" into one line naming the local
alternative. When the Hub is unreachable but the repository is in the local cache, it switches the
process to offline mode so the libraries read the cache without retrying.
"""

from __future__ import annotations

import functools
import os
import socket
from pathlib import Path
from urllib.parse import urlsplit

from sparkle.errors import SparkleError, bad_input
from sparkle.paths import looks_like_path

_TRUE = {"1", "on", "yes", "true"}
PROBE_SECONDS = 1.5

# What to pass instead, by kind of thing looked up.
LOCAL_ALTERNATIVE = {
    "dataset": "pass a local copy with --source PATH (--source NAME=PATH for `data benchmarks`): a "
    ".jsonl/.json/.parquet file or a saved dataset folder",
    "model": "pass a local model folder (one with config.json) instead of the Hub id",
}


def offline_by_setting() -> bool:
    """True when ``HF_HUB_OFFLINE`` (or ``HF_DATASETS_OFFLINE`` / ``TRANSFORMERS_OFFLINE``) forbids Hub traffic."""
    names = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE")
    return any(os.environ.get(n, "").strip().lower() in _TRUE for n in names)


def endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "").strip() or "https://huggingface.co"


@functools.lru_cache(maxsize=8)
def _reachable(url: str, proxy: str, seconds: float) -> bool:
    target = urlsplit(proxy or url)
    host = target.hostname
    if not host:
        return False
    port = target.port or (443 if target.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=seconds):
            return True
    except OSError:
        return False


def hub_reachable(seconds: float = PROBE_SECONDS) -> bool:
    """Whether the Hub endpoint (or the HTTPS proxy) accepts a TCP connection; asked once per process."""
    if offline_by_setting():
        return False
    proxy = os.environ.get("HTTPS_PROXY") or os.environ.get("https_proxy") or ""
    return _reachable(endpoint(), proxy, seconds)


def _hub_cache() -> Path:
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def in_local_cache(repo_id: str, kind: str) -> bool:
    """Whether the Hub cache (or the datasets cache, for a dataset) holds anything of ``repo_id``."""
    folder = f"{'datasets' if kind == 'dataset' else 'models'}--{repo_id.replace('/', '--')}"
    if (_hub_cache() / folder / "snapshots").is_dir():
        return True
    if kind == "dataset":
        cache = os.environ.get("HF_DATASETS_CACHE") or os.path.join(
            os.environ.get("HF_HOME", os.path.expanduser("~/.cache/huggingface")), "datasets"
        )
        return (Path(cache) / repo_id.replace("/", "___")).is_dir()
    return False


def go_offline() -> None:
    """Make the Hub libraries read only the local cache from now on (no retries against a dead network)."""
    for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
        os.environ[name] = "1"
    import sys

    for module, attr in (
        ("huggingface_hub.constants", "HF_HUB_OFFLINE"),
        ("datasets.config", "HF_HUB_OFFLINE"),
        ("datasets.config", "HF_DATASETS_OFFLINE"),
    ):
        mod = sys.modules.get(module)
        if mod is not None and hasattr(mod, attr):
            setattr(mod, attr, True)


def require_hub(repo_id: str, kind: str = "dataset") -> None:
    """Return when ``repo_id`` can be loaded (the Hub answers, or it is cached); else one SparkleError.

    ``kind`` is "dataset" or "model". Called before ``datasets.load_dataset`` / lm-eval / from_pretrained.
    """
    if kind not in LOCAL_ALTERNATIVE:
        raise ValueError(f"kind must be one of {sorted(LOCAL_ALTERNATIVE)}, got {kind!r}")
    if hub_reachable():
        return
    if in_local_cache(repo_id, kind):
        go_offline()
        return
    why = (
        "the Hugging Face Hub is switched off (HF_HUB_OFFLINE or a similar variable is set)"
        if offline_by_setting()
        else f"the Hugging Face Hub ({endpoint()}) cannot be reached"
    )
    raise bad_input(
        f"{kind} {repo_id!r}",
        f"{why} and it is not in the local cache",
        LOCAL_ALTERNATIVE[kind] + "; or run where the Hub is reachable (`sparkle download` fills the cache)",
    )


def require_hub_or_local(name_or_path: str | os.PathLike[str], kind: str = "dataset") -> None:
    """Pass a local path that exists (for a model: a folder with config.json); check a Hub id with
    ``require_hub``; refuse a missing local path."""
    text = os.path.expanduser(str(name_or_path))
    if os.path.exists(text):
        if kind == "model":
            if not os.path.isdir(text):
                raise bad_input(
                    text, "is a file, not a model folder", "pass the folder that holds config.json"
                )
            if not os.path.isfile(os.path.join(text, "config.json")):
                raise bad_input(
                    text,
                    "no config.json in this model folder",
                    "pass the folder that holds the model's config.json, weights and tokenizer",
                )
        return
    if looks_like_path(text) or text.count("/") > 1 or not text.strip():
        raise bad_input(text, f"local {kind} not found", "check the path")
    require_hub(text, kind)


__all__ = [
    "SparkleError",
    "hub_reachable",
    "in_local_cache",
    "offline_by_setting",
    "require_hub",
    "require_hub_or_local",
]
