"""Names of the data files and rows every step agrees on (one home: builders, configs checks, pipeline, demo).

Light on purpose (no pandas, numpy or datasets), so command-line parsers can import it.
"""

from __future__ import annotations

DATA_SOURCE_PREFIX = "sparkle_"
TRAIN_NAME = "dsr40k"
VAL_NAME = "aime2024"
HARDMATH_NAME = "hardmath"
VARIANTS = ("aug", "hard", "mix")  # the stage-two data sets
AUG_VERSIONS = ("all", "first_half")
PREVIEW_NAME = "sparkle_preview"
PREVIEW_FILE = f"{PREVIEW_NAME}.jsonl"


def data_source_name(dataset: str) -> str:
    """The ``data_source`` of a dataset's rows, as the original named them: ``sparkle_`` + short name.

    ``sparkle_dsr40k``, ``sparkle_hardmath``, ``sparkle_aime2024``, ``sparkle_amc2023``, ... verl keys
    its validation metrics by this value (``val-core/sparkle_aime2024/...``), so dashboards and scripts
    written for the original's runs find the same keys. Data files are named after it too.
    """
    return f"{DATA_SOURCE_PREFIX}{dataset}"


TRAIN_STEM = data_source_name(TRAIN_NAME)  # sparkle_dsr40k.parquet
VAL_STEM = data_source_name(VAL_NAME)  # sparkle_aime2024.parquet
HARD_STEM = "sparkle_hardmath_hard_train"
MIX_STEM = "sparkle_hardmath_mix_train"


def aug_stem(version: str) -> str:
    return f"sparkle_hardmath_aug_{version}_train"


def stage_two_parquet(variant: str, aug_version: str = "all") -> str:
    """The parquet file `sparkle data stage-two` writes for a variant (what a stage-two config trains on)."""
    stems = {"hard": HARD_STEM, "mix": MIX_STEM}
    return f"{aug_stem(aug_version) if variant == 'aug' else stems[variant]}.parquet"
