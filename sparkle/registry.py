"""Names of everything SPARKLE publishes on the Hugging Face Hub (docs/reference.md, "Datasets"): one table, imported everywhere."""

from __future__ import annotations

from dataclasses import dataclass

ORG = "sparkle-reasoning"


@dataclass(frozen=True)
class HubDataset:
    repo_id: str
    split: str
    config: str | None = None


# The five evaluation benchmarks, in the paper's table order.
BENCHMARKS: tuple[str, ...] = ("aime2024", "amc2023", "math500", "gsm8k", "olympiad_bench")

# Short display names used in tables and figures.
BENCHMARK_LABELS: dict[str, str] = {
    "aime2024": "AIME24",
    "amc2023": "AMC23",
    "math500": "MATH500",
    "gsm8k": "GSM8K",
    "olympiad_bench": "OlympiadBench",
}

DATASETS: dict[str, HubDataset] = {
    "dsr40k": HubDataset(f"{ORG}/dsr40k", "train"),
    "hardmath": HubDataset(f"{ORG}/hardmath", "train"),
    "aime2024": HubDataset(f"{ORG}/aime2024", "test"),
    "amc2023": HubDataset(f"{ORG}/amc2023", "test"),
    "math500": HubDataset(f"{ORG}/math500", "test"),
    "gsm8k": HubDataset(f"{ORG}/gsm8k", "test"),
    "olympiad_bench": HubDataset(f"{ORG}/olympiad_bench", "test"),
    "sparkle_preview": HubDataset(f"{ORG}/sparkle_preview", "test", "all"),
}

# sparkle_preview's per-benchmark configs.
PREVIEW_CONFIGS: dict[str, str] = {
    "aime2024": "aime24",
    "amc2023": "amc23",
    "math500": "math500",
    "gsm8k": "gsm8k",
    "olympiad_bench": "olympiadbench",
}

BASE_MODEL = "Qwen/Qwen2.5-Math-7B"

MODELS: dict[str, str] = {
    "base": BASE_MODEL,
    "stage1": f"{ORG}/SparkleRL-7B-Stage1",
    "stage2-aug": f"{ORG}/SparkleRL-7B-Stage2-aug",
    "stage2-hard": f"{ORG}/SparkleRL-7B-Stage2-hard",
    "stage2-mix": f"{ORG}/SparkleRL-7B-Stage2-mix",
}
