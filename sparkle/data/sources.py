"""Where rows come from: a Hugging Face Hub id (the default) or a local file / folder, and row validation.

Local sources: ``.jsonl``, ``.json`` (a list of objects, an object mapping split names to lists, or JSON
lines), ``.parquet``, a folder saved with ``datasets.save_to_disk`` or any folder of data files that
``datasets.load_dataset`` reads. Every user-caused problem raises ``SparkleError`` naming the source, the
row and the field, before anything is written.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from sparkle.paths import looks_like_path
from sparkle.errors import SparkleError, bad_input
from sparkle.io import read_jsonl
from sparkle.log import get_logger
from sparkle.registry import DATASETS

log = get_logger(__name__)

PROBLEM_KEYS: tuple[str, ...] = ("problem", "question")
ANSWER_KEYS: tuple[str, ...] = ("answer", "final_answer")


def is_local(source: str | os.PathLike[str]) -> bool:
    """True when ``source`` names a local path (it exists, has a data-file suffix or starts like a path)."""
    text = str(source)
    if os.path.exists(text):
        return True
    return looks_like_path(text)


def load_records(
    source: str | os.PathLike[str], *, split: str | None = None, config: str | None = None
) -> list[dict[str, Any]]:
    """Rows of a dataset as plain dicts: a local file or folder when ``source`` is a path, else a Hub id.

    A short name from ``sparkle.registry.DATASETS`` (``dsr40k``, ``aime2024``...) resolves to its Hub id,
    split and config. Hub access goes through ``datasets.load_dataset``; when it fails (no network, an
    unknown id) the error says so and suggests a local copy.
    """
    if is_local(source):
        return _load_local(Path(os.path.expanduser(str(source))), split=split, config=config)
    name = str(source)
    if name in DATASETS:
        entry = DATASETS[name]
        name, split, config = entry.repo_id, split or entry.split, config or entry.config
    return _load_hub(name, split=split or "train", config=config)


def _load_hub(repo_id: str, *, split: str, config: str | None) -> list[dict[str, Any]]:
    from sparkle.hub import require_hub

    require_hub(repo_id, "dataset")  # fails in about a second without network, instead of retrying
    import datasets

    log.info("loading %s (config %s, split %s) from the Hugging Face Hub", repo_id, config, split)
    try:
        dataset = datasets.load_dataset(repo_id, config, split=split)
    except Exception as e:  # the Hub client raises many types (connection, offline mode, missing split)
        first_line = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise SparkleError(
            f"could not load {repo_id!r} (config {config}, split {split}) from the Hugging Face Hub: "
            f"{type(e).__name__}: {first_line[:300]}. Check the id and your network, or pass a local "
            "copy instead (a .jsonl/.json/.parquet file or a saved dataset folder)"
        ) from e
    return dataset.to_list()


def _load_local(path: Path, *, split: str | None, config: str | None) -> list[dict[str, Any]]:
    if not path.exists():
        raise SparkleError(f"{path}: file or folder not found; check the path (or pass a Hub id)")
    if path.is_dir():
        return _load_folder(path, split=split, config=config)
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        return read_jsonl(path)
    if suffix == ".json":
        return _load_json(path, split=split)
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            return pq.read_table(path).to_pylist()
        except Exception as e:  # pyarrow raises ArrowInvalid / OSError on a damaged file
            raise SparkleError(f"{path}: not a readable parquet file ({e}); regenerate or replace it") from e
    raise SparkleError(
        f"{path}: unsupported file type {suffix!r}; use .jsonl, .json, .parquet or a dataset folder"
    )


def _load_json(path: Path, *, split: str | None) -> list[dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise bad_input(
            path,
            f"not UTF-8 text (byte {e.object[e.start : e.start + 1]!r} at offset {e.start})",
            "convert it to UTF-8 (e.g. iconv -t UTF-8) or pass the right file",
        ) from e
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        if e.msg == "Extra data":  # JSON lines under a .json name (what datasets' to_json writes)
            return read_jsonl(path)
        raise SparkleError(f"{path}, line {e.lineno}: not valid JSON ({e.msg}); fix the file") from e
    if isinstance(data, dict):
        lists = {k: v for k, v in data.items() if isinstance(v, list)}
        if split is not None and split in lists:
            data = lists[split]
        elif len(lists) == 1:
            data = next(iter(lists.values()))
        else:
            raise SparkleError(
                f"{path}: a JSON object must hold the rows as a list; found keys {sorted(data)[:10]}; "
                "pass --split to choose one or give a list of row objects"
            )
    if not isinstance(data, list):
        raise SparkleError(f"{path}: expected a JSON list of row objects, got {type(data).__name__}")
    for index, row in enumerate(data):
        if not isinstance(row, dict):
            raise SparkleError(f"{path}, row {index + 1}: expected a JSON object, got {type(row).__name__}")
    return data


def _load_folder(path: Path, *, split: str | None, config: str | None) -> list[dict[str, Any]]:
    import datasets

    if (path / "dataset_dict.json").is_file() or (path / "state.json").is_file():
        try:
            loaded = datasets.load_from_disk(str(path))
            if isinstance(loaded, datasets.DatasetDict):
                names = list(loaded)
                if split is None and len(names) == 1:
                    split = names[0]
                if split not in loaded:
                    shown = "none chosen" if split is None else f"{split!r} is not one of them"
                    raise bad_input(
                        path,
                        f"saved dataset has splits {', '.join(names)} ({shown})",
                        "choose one with --split",
                    )
                loaded = loaded[split]
            return loaded.to_list()
        except SparkleError:
            raise
        except (
            Exception
        ) as e:  # damaged or partial save_to_disk folder: bad JSON, missing/truncated arrow files
            raise bad_input(
                path,
                f"damaged dataset folder ({type(e).__name__}: {str(e).strip().splitlines()[0][:200] if str(e).strip() else ''})",
                "save it again with datasets.save_to_disk, or pass a .jsonl/.json/.parquet file",
            ) from e
    try:
        dataset = datasets.load_dataset(str(path), config, split=split or "train")
    except ValueError as e:
        if "Unknown split" in str(e) or "Bad split" in str(e):
            raise bad_input(
                path,
                f"no split {split or 'train'!r} ({str(e).strip().splitlines()[0][:200]})",
                "choose one with --split",
            ) from e
        raise bad_input(
            path,
            f"not a dataset folder (ValueError: {str(e).strip()[:200]})",
            "pass a data file or a folder written by datasets.save_to_disk",
        ) from e
    except Exception as e:  # no data files, unreadable files
        raise SparkleError(
            f"{path}: not a dataset folder ({type(e).__name__}: {str(e).strip()[:200]}); pass a data file "
            "or a folder written by datasets.save_to_disk"
        ) from e
    return dataset.to_list()


def where(source: str | os.PathLike[str], index: int) -> str:
    """How errors name a row: the source and the 1-based row number."""
    return f"{source}, row {index + 1}"


def _missing(row: dict[str, Any], keys: Sequence[str], place: str) -> SparkleError:
    """The error for a row without a usable ``keys`` field: null when present as null, else missing."""
    for key in keys:
        if key in row:  # present, so it is null (callers only get here when every key is absent or null)
            return bad_input(place, f"field {key!r} is null", "give it a value or remove that row")
    names = " or ".join(repr(k) for k in keys)
    return bad_input(
        place,
        f"missing field {names} (row has {sorted(row)[:12]})",
        "fix or remove that row (or rename the field)",
    )


def get_text(row: dict[str, Any], keys: Sequence[str], place: str) -> str:
    """The first present field among ``keys`` as a non-empty string, or a SparkleError naming it."""
    for key in keys:
        if key in row and row[key] is not None:
            value = row[key]
            if not isinstance(value, str):
                raise SparkleError(
                    f"{place}: field {key!r} must be a string, got {type(value).__name__}; fix that row"
                )
            if not value.strip():
                raise SparkleError(f"{place}: field {key!r} is empty; fix or remove that row")
            return value
    raise _missing(row, keys, place)


def answer_text(value: Any, place: str, key: str = "answer") -> str:
    """One answer as the string the source gives; integer-valued floats (AMC's ``27.0``) become ``"27"``."""
    if isinstance(value, bool) or value is None:
        raise SparkleError(f"{place}: field {key!r} must be a string or a number, got {value!r}")
    if isinstance(value, str):
        if not value.strip():
            raise SparkleError(f"{place}: field {key!r} is empty; fix or remove that row")
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise SparkleError(f"{place}: field {key!r} is {value!r}; give a finite answer")
        return str(int(value)) if value.is_integer() else repr(value)
    raise SparkleError(
        f"{place}: field {key!r} must be a string, a number or a list of them, got {type(value).__name__}"
    )


def normalize_answer(value: Any, place: str, key: str = "answer") -> str | list[str]:
    """A single answer as a string; several acceptable answers as a list of strings (docs/reference.md, "Datasets")."""
    if isinstance(value, (list, tuple)):
        if not value:
            raise SparkleError(f"{place}: field {key!r} is an empty list; give at least one answer")
        answers = [answer_text(item, place, key) for item in value]
        return answers[0] if len(answers) == 1 else answers
    return answer_text(value, place, key)


def get_answer(row: dict[str, Any], keys: Sequence[str], place: str) -> str | list[str]:
    """The first present answer field among ``keys``, normalised (see ``normalize_answer``)."""
    for key in keys:
        if key in row and row[key] is not None:
            return normalize_answer(row[key], place, key)
    raise _missing(row, keys, place)


def as_list(answer: str | list[str]) -> list[str]:
    return list(answer) if isinstance(answer, list) else [answer]


def require_rows(rows: Iterable[dict[str, Any]], source: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Fail clearly on an empty source (an empty file usually means a wrong path or split)."""
    rows = list(rows)
    if not rows:
        raise SparkleError(f"{source}: no rows; check the file, the split or the Hub id")
    return rows


def problem_records(
    source: str | os.PathLike[str], split: str | None = None, progress: str | None = None
) -> Iterator[tuple[str, str, str | list[str], dict[str, Any]]]:
    """(place, problem, answer, record) of each row of a problem source, validated as it is read.

    An empty source, a missing/empty problem or a missing/wrong-type answer fails naming the row;
    ``progress`` labels a progress bar over the rows (none when ``None``).
    """
    source = str(source)
    records: Iterable[dict[str, Any]] = require_rows(load_records(source, split=split), source)
    if progress is not None:
        from sparkle.progress import track

        records = track(records, progress)
    for index, record in enumerate(records):
        place = where(source, index)
        yield place, get_text(record, PROBLEM_KEYS, place), get_answer(record, ANSWER_KEYS, place), record
