"""verl's own RLHFDataset loads every parquet `sparkle data` writes (composed verl data config, tiny
tokenizer's chat template, CPU)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from sparkle.data import build_stage_one, build_stage_two, write_benchmarks
from sparkle.registry import BENCHMARKS

TRAIN = [
    {"problem": "What is 2+3?", "answer": "5"},
    {"problem": "Roots of $x^2=1$?", "answer": ["1", "-1"]},
]
HARD = [
    {"problem": "H1?", "CoT": "A.\n\nB.\n\nC.\n\nD.", "answer": "1"},
    {"problem": "H2?", "solution": "1. One\n2. Two\n3. Three", "answer": 2.0},
]


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _data_config(files: list[str]):
    from hydra import compose, initialize_config_dir

    import verl

    config_dir = str(Path(verl.__file__).parent / "trainer" / "config")
    with initialize_config_dir(config_dir=config_dir, version_base=None):
        cfg = compose(
            "ppo_trainer",
            overrides=[
                f"data.train_files={files}",
                f"data.val_files={files[:1]}",
                "data.max_prompt_length=100000",  # the tiny byte-level tokenizer makes long prompts
                "data.filter_overlong_prompts=True",
            ],
        )
    return cfg.data


@pytest.mark.slow
def test_rlhf_dataset_loads_every_file(tmp_path: Path, tiny_tokenizer, repo_root: Path) -> None:
    from verl.trainer.ppo.utils import create_rl_dataset

    train, hard = _write(tmp_path / "train.jsonl", TRAIN), _write(tmp_path / "hard.jsonl", HARD)
    demo = repo_root / "sparkle" / "demo" / "data"
    out = tmp_path / "data"
    paths = build_stage_one(out, train, demo / "aime2024.jsonl")
    for version in ("all", "first_half"):
        paths += build_stage_two(out, "aug", hard, aug_version=version)
    paths += build_stage_two(out, "hard", hard)
    paths += build_stage_two(out, "mix", hard, easy_source=train)
    paths += write_benchmarks(out, {name: str(demo / f"{name}.jsonl") for name in BENCHMARKS})
    parquets = sorted(str(p) for p in paths if p.suffix == ".parquet")
    assert len(parquets) == 6 + len(BENCHMARKS)

    config = _data_config(parquets)
    for path in parquets:
        dataset = create_rl_dataset([path], config, tiny_tokenizer, None)
        rows = pq.read_table(path).to_pylist()
        assert len(dataset) == len(rows), path
        for index in range(len(rows)):
            item = dataset[index]
            assert item["raw_prompt"] == rows[index]["prompt"]
            assert item["reward_model"]["ground_truth"] == rows[index]["reward_model"]["ground_truth"]
            assert item["data_source"] == rows[index]["data_source"]
            # What the rollout will send: the prompt through the tokenizer's chat template.
            text = tiny_tokenizer.apply_chat_template(
                item["raw_prompt"], tokenize=False, add_generation_prompt=True
            )
            assert rows[index]["prompt"][0]["content"] in text
