"""Hugging Face Hub transfers: download the released models and datasets by short name, upload a model.

The names come from `sparkle.registry` (MODELS and DATASETS); this module adds no Hub ids of its own.
Downloads go through ``huggingface_hub.snapshot_download``, which resumes interrupted files and reuses
the cache. Uploads read the token from ``HF_TOKEN`` (or a stored ``hf auth login``) and never print it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sparkle.errors import SparkleError
from sparkle.log import get_logger
from sparkle.registry import DATASETS, MODELS

log = get_logger(__name__)

_TRUE = {"1", "on", "yes", "true"}


@dataclass(frozen=True)
class HubRepo:
    repo_id: str
    repo_type: str  # "model" or "dataset"


def _download_table() -> dict[str, HubRepo]:
    table = {name: HubRepo(repo_id, "model") for name, repo_id in MODELS.items()}
    for name, dataset in DATASETS.items():
        if name in table:
            raise RuntimeError(f"sparkle.registry: {name!r} names both a model and a dataset")
        table[name] = HubRepo(dataset.repo_id, "dataset")
    return table


# Short name -> Hub repository, for `sparkle download`.
DOWNLOADS: dict[str, HubRepo] = _download_table()


def _canonical(name: str) -> str:
    return name.strip().lower().replace("-", "_")


def resolve_download(name: str, repo_type: str | None = None) -> HubRepo:
    """Map a short name (``stage2-aug``, ``dsr40k``; ``-`` and ``_`` alike) or an ``org/repo`` id to a repo."""
    if repo_type not in (None, "model", "dataset"):
        raise SparkleError(f"--repo-type {repo_type!r}: use model or dataset")
    wanted = _canonical(name)
    for short, repo in DOWNLOADS.items():
        if _canonical(short) == wanted:
            if repo_type and repo_type != repo.repo_type:
                raise SparkleError(f"{name!r} is a {repo.repo_type} ({repo.repo_id}), not a {repo_type}")
            return repo
    if "/" in name.strip("/") and " " not in name:
        return HubRepo(name.strip("/"), repo_type or "model")
    raise SparkleError(
        f"unknown download name {name!r}; use one of {', '.join(DOWNLOADS)} or a Hub id such as org/name "
        "(with --repo-type dataset for a dataset)"
    )


def hub_offline() -> bool:
    """True when ``HF_HUB_OFFLINE`` forbids Hub traffic (read at call time, not at import)."""
    from huggingface_hub import constants

    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUE or bool(constants.HF_HUB_OFFLINE)


def download(
    name: str, out: str | Path | None = None, *, revision: str | None = None, repo_type: str | None = None
) -> Path:
    """Download a released model or dataset into the HF cache (``out=None``) or into ``out``; return the folder.

    Interrupted downloads resume where they stopped. Offline (``HF_HUB_OFFLINE=1`` or no network), a
    repository already in the cache is returned as is; otherwise SparkleError says what to do.
    """
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    from sparkle.hub import go_offline, hub_reachable, offline_by_setting

    repo = resolve_download(name, repo_type)
    # No network: ask once (about a second) and read only the cache, instead of retrying for minutes.
    unreachable = not offline_by_setting() and not hub_reachable()
    if unreachable:
        go_offline()
    target = Path(out) if out is not None else None
    where = str(target) if target else "the Hugging Face cache"
    log.info("downloading %s (%s %s) into %s", name, repo.repo_type, repo.repo_id, where)
    try:
        path = snapshot_download(repo.repo_id, repo_type=repo.repo_type, revision=revision, local_dir=target)
    except (LocalEntryNotFoundError, OfflineModeIsEnabled) as e:
        if hub_offline() and not unreachable:
            reason = "HF_HUB_OFFLINE is set and it is not in the local cache"
            fix = "unset HF_HUB_OFFLINE (or set it to 0) on a machine with network access"
        else:
            reason = "the Hub cannot be reached and it is not in the local cache"
            fix = "check the network connection"
        raise SparkleError(
            f"cannot download {name!r} ({repo.repo_type} {repo.repo_id}): {reason}; {fix}, then rerun "
            "(partial downloads resume), or copy the repository's files to this machine and pass their local path"
        ) from e
    except (RepositoryNotFoundError, GatedRepoError, RevisionNotFoundError) as e:
        raise SparkleError(
            f"cannot download {name!r}: {repo.repo_type} {repo.repo_id} (revision {revision or 'main'}) was not "
            f"found or needs access rights ({type(e).__name__}); check the name, or log in with HF_TOKEN"
        ) from e
    except HfHubHTTPError as e:
        raise SparkleError(
            f"cannot download {name!r} ({repo.repo_id}): the Hub answered {e}; rerun to resume"
        ) from e
    except (OSError, *_network_errors()) as e:
        raise SparkleError(
            f"cannot download {name!r} ({repo.repo_id}): {type(e).__name__}: {e}; check the network and disk "
            "space, then rerun (partial downloads resume)"
        ) from e
    return Path(path)


def _network_errors() -> tuple[type[BaseException], ...]:
    """Transport errors of the HTTP client huggingface_hub uses (httpx since 1.0; requests' are OSErrors)."""
    try:
        import httpx
    except ImportError:
        return ()
    return (httpx.HTTPError,)


def upload_token() -> str:
    """The Hub token for uploads: ``HF_TOKEN``, else a stored login. Checked before any work starts."""
    if hub_offline():
        raise SparkleError("cannot upload: HF_HUB_OFFLINE is set; unset it on a machine with network access")
    token = os.environ.get("HF_TOKEN", "").strip()
    if not token:
        from huggingface_hub import get_token

        token = get_token() or ""
    if not token:
        raise SparkleError(
            "cannot upload: no Hugging Face token; export HF_TOKEN=<a write token> (preferred), or pass "
            "--hf_token, which is moved into HF_TOKEN and kept off the process's command line"
        )
    return token


def upload_model(folder: str | Path, repo_id: str, *, token: str, private: bool = False) -> str:
    """Create ``repo_id`` if needed (private on request) and upload ``folder`` to it; return the repo URL."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    api = HfApi(token=token)
    later = f"the model itself is complete in {folder}: upload it later with `hf upload {repo_id} {folder}`"
    try:
        url = api.create_repo(repo_id=repo_id, repo_type="model", private=private, exist_ok=True)
        api.upload_folder(
            folder_path=str(folder),
            repo_id=repo_id,
            repo_type="model",
            commit_message="Upload model converted by sparkle convert",
        )
    except HfHubHTTPError as e:
        status = getattr(getattr(e, "response", None), "status_code", None)
        hint = "the token lacks write access to it" if status in (401, 403) else "try again later"
        raise SparkleError(f"upload of {folder} to {repo_id} failed (HTTP {status}); {hint}; {later}") from e
    except (OSError, *_network_errors()) as e:
        raise SparkleError(
            f"upload of {folder} to {repo_id} failed ({type(e).__name__}: {e}); check the network; {later}"
        ) from e
    log.info("uploaded %s to %s", folder, url)
    return str(url)
