"""`sparkle train check` on data built by `sparkle.data`, and the verl pieces it stands on: verl's
``RLHFDataset`` through the composed data config, the reward through verl's loader, and verl's GRPO
advantage on a group of ``spk_h`` rewards (CPU, real verl, the trainer never started)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sparkle.cli import main as sparkle_main
from sparkle.errors import SparkleError

pytestmark = pytest.mark.slow

HARD_REASONING = "First, write the sum.\n\nThen add the tens.\n\nThen add the ones.\n\nFinally combine them to get the result."


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


@pytest.fixture(scope="module")
def stage_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """data/ as `sparkle data stage-one` and `stage-two` build it, from tiny local sources."""
    from sparkle.data.stage_one import build_stage_one
    from sparkle.data.stage_two import build_stage_two

    root = tmp_path_factory.mktemp("stage_data")
    train = _jsonl(
        root / "dsr.jsonl",
        [
            {"problem": f"What is {i} + {i}?", "solution": f"{2 * i}", "answer": str(2 * i)}
            for i in range(1, 131)
        ],
    )
    aime = _jsonl(
        root / "aime.jsonl", [{"problem": f"Compute {i} * 3.", "answer": str(3 * i)} for i in range(1, 4)]
    )
    hard = _jsonl(
        root / "hard.jsonl",
        [
            {"problem": f"Find {i} * 11.", "solution": HARD_REASONING, "CoT": "", "answer": str(11 * i)}
            for i in range(1, 41)
        ],
    )
    out = root / "data"
    build_stage_one(out, train, aime)
    build_stage_two(out, variant="aug", source=hard)
    build_stage_two(out, variant="hard", source=hard)
    return root


def _overrides(stage_data: Path, model: Path, train: str = "sparkle_dsr40k.parquet") -> list[str]:
    return [
        f"actor_rollout_ref.model.path={model}",
        f"data.train_files={stage_data / 'data' / train}",
        f"data.val_files={stage_data / 'data' / 'sparkle_aime2024.parquet'}",
    ]


def test_check_passes_on_stage_one_data(stage_data: Path, tiny_model_dir: Path, capsys) -> None:
    status = sparkle_main(["train", "check", "stage_one", *_overrides(stage_data, tiny_model_dir)])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "check passed" in out
    assert "GPUs              8 (1 node(s) x 8)" in out
    assert "rollouts / step   4096 (128 prompts x n=32)" in out
    assert f"tokens / step     <= {128 * 32 * (1024 + 3000):,}" in out
    assert "updates / step    2" in out
    assert "train rows        130 of 130 kept" in out
    assert "steps             1 / epoch x 30 epochs = 30" in out
    assert "val rows          3 of 3 x 1 samples" in out
    assert "reward            reference 2, wrong -1, val reference 1, val wrong 0" in out
    # resources: 30 steps saved every 80 -> one save (the last step), its size from the model's config
    assert "checkpoints       1 saves (every 80 steps + the last), last 3 kept, ~0 GB each" in out
    assert "GPU memory        GPU " in out and "gpu_memory_utilization=0.75" in out
    assert "attention         flash_attention_2" in out


def test_check_report_numbers(stage_data: Path, tiny_model_dir: Path) -> None:
    from sparkle.train.check import run_check

    report = run_check(
        "stage_one",
        [
            *_overrides(stage_data, tiny_model_dir),
            "data.train_batch_size=8",
            "actor_rollout_ref.actor.ppo_mini_batch_size=4",
            "trainer.nnodes=2",
        ],
    )
    assert (report.gpus, report.rollouts_per_step, report.updates_per_step) == (16, 256, 2)
    assert (report.steps_per_epoch, report.total_steps) == (16, 480)
    assert report.reward_scores == {"reference": 2.0, "wrong": -1.0, "val reference": 1.0, "val wrong": 0.0}
    from sparkle.train.budget import flash_attn_status

    # the only warning on a machine without flash-attn is the attention kernel, with its fallback
    expected = 0 if flash_attn_status()[0] else 1
    assert len(report.warnings) == expected, report.warnings
    assert all("--attn sdpa" in w for w in report.warnings)


def test_check_passes_on_stage_two_aug_data_and_prints_config(
    stage_data: Path, tiny_model_dir: Path, capsys
) -> None:
    import yaml

    overrides = _overrides(stage_data, tiny_model_dir, "sparkle_hardmath_aug_all_train.parquet")
    status = sparkle_main(["train", "check", "stage_two_aug", *overrides, "--print-config"])
    captured = capsys.readouterr()
    assert status == 0, captured.err[-2000:]
    config = yaml.safe_load(captured.out)  # stdout is the YAML alone
    assert config["reward"]["custom_reward_function"]["reward_kwargs"]["reward_type"] == "spk_h_aug"
    assert config["actor_rollout_ref"]["actor"]["kl_loss_coef"] == 0.01
    assert config["actor_rollout_ref"]["model"]["path"] == str(tiny_model_dir)
    assert "rollouts / step   4096" in captured.err


def test_reward_is_reached_through_verls_loader(stage_data: Path, tiny_model_dir: Path) -> None:
    """A PSS row (thinking level ≥ 1) is scored with the augmented format check through verl's loader."""
    import pyarrow.parquet as pq
    from verl.trainer.ppo.reward import get_custom_reward_fn

    from sparkle.reward import compute_score
    from sparkle.train.check import check_reward, reference_response
    from sparkle.train.compose import compose_config

    cfg = compose_config(
        "stage_two_aug", _overrides(stage_data, tiny_model_dir, "sparkle_hardmath_aug_all_train.parquet")
    )
    rows = pq.read_table(stage_data / "data" / "sparkle_hardmath_aug_all_train.parquet").to_pylist()
    pss = next(row for row in rows if row["extra_info"]["thinking_level"] >= 1)
    right, _ = reference_response(pss)
    assert not right.startswith("<think>")
    fn = get_custom_reward_fn(cfg)
    assert fn.args[0] is compute_score  # verl's wrapper around the configured function
    result = fn(
        data_source=pss["data_source"],
        solution_str=right,
        ground_truth=pss["reward_model"]["ground_truth"],
        extra_info=pss["extra_info"],
    )
    assert (result["score"], result["acc"]) == (2.0, 1.0)
    assert check_reward(cfg, pss) == {"reference": 2.0, "wrong": -1.0}


def test_rlhf_dataset_reads_the_stage_parquet(stage_data: Path, tiny_model_dir: Path) -> None:
    """verl's own dataset class, built from the composed data config, reads the PSS file's chat prompts."""
    import pyarrow.parquet as pq

    from sparkle.prompts import PSS_MARKER
    from sparkle.train.check import build_dataset, load_tokenizer
    from sparkle.train.compose import compose_config

    path = stage_data / "data" / "sparkle_hardmath_aug_all_train.parquet"
    cfg = compose_config("stage_two_aug", _overrides(stage_data, tiny_model_dir, path.name))
    dataset = build_dataset([str(path)], cfg, load_tokenizer(str(tiny_model_dir)), is_train=True)
    rows = pq.read_table(path).to_pylist()
    assert type(dataset).__name__ == "RLHFDataset"
    assert len(dataset) == len(rows) == 40 * 5  # levels 0..4 per problem
    for index in (0, 1, len(rows) - 1):
        item = dataset[index]
        assert item["raw_prompt"] == rows[index]["prompt"]
        assert item["data_source"] == "sparkle_hardmath"
        assert item["reward_model"]["ground_truth"] == rows[index]["reward_model"]["ground_truth"]
        assert item["extra_info"]["thinking_level"] == rows[index]["extra_info"]["thinking_level"]
    levels = [dataset[i]["extra_info"]["thinking_level"] for i in range(len(rows))]
    pss = dataset[levels.index(4)]["raw_prompt"][0]["content"]
    assert PSS_MARKER in pss and pss.rstrip().endswith("to get the result.")


def test_overlong_prompts_are_filtered_as_the_trainer_would(stage_data: Path, tiny_model_dir: Path) -> None:
    from sparkle.train.check import run_check

    with pytest.raises(SparkleError, match="no train prompt fits data.max_prompt_length=16"):
        run_check("stage_one", [*_overrides(stage_data, tiny_model_dir), "data.max_prompt_length=16"])


def test_grpo_advantage_on_spk_h_rewards() -> None:
    """verl's GRPO advantage on one group of four spk_h rewards equals the hand-computed value.

    Rewards 2 (right, well formed), 1 (right, bad format), -1, -1: mean 0.25, unbiased std
    sqrt((1.75² + 0.75² + 1.25² + 1.25²) / 3) = 1.5, so advantages (r - 0.25) / 1.5 = 7/6, 1/2, -5/6, -5/6.
    """
    import torch
    from verl.trainer.ppo.core_algos import compute_grpo_outcome_advantage

    from sparkle.reward import compute_score

    responses = [
        "<think>\n7*6=42\n</think>\n<answer>\nThe answer is \\boxed{42}.\n</answer>",
        "7*6 is \\boxed{42}",
        "<think>\n7*6=36\n</think>\n<answer>\nThe answer is \\boxed{36}.\n</answer>",
        "I am not sure.",
    ]
    rewards = [
        compute_score("dsr40k", r, "42", {"split": "train"}, reward_type="spk_h")["score"] for r in responses
    ]
    assert rewards == [2.0, 1.0, -1.0, -1.0]
    length = 5
    response_mask = torch.ones(4, length)
    response_mask[1, 3:] = 0  # shorter response: the reward sits on its last real token
    token_rewards = torch.zeros(4, length)
    for row, reward in enumerate(rewards):
        last = int(response_mask[row].sum().item()) - 1
        token_rewards[row, last] = reward
    advantages, returns = compute_grpo_outcome_advantage(
        token_level_rewards=token_rewards, response_mask=response_mask, index=["g"] * 4
    )
    expected = torch.tensor([7 / 6, 1 / 2, -5 / 6, -5 / 6])
    assert torch.allclose(advantages[:, 0], expected, atol=1e-5)
    assert torch.allclose(advantages * response_mask, expected[:, None] * response_mask, atol=1e-5)
    assert torch.equal(advantages, returns)
    # a second group is normalised on its own
    both, _ = compute_grpo_outcome_advantage(
        token_level_rewards=torch.cat([token_rewards, token_rewards * 0 + torch.tensor([[0, 0, 0, 0, 2.0]])]),
        response_mask=torch.cat([response_mask, torch.ones(4, length)]),
        index=["g"] * 4 + ["h"] * 4,
    )
    assert torch.allclose(both[:4, 0], expected, atol=1e-5)
    assert torch.all(both[4:] == 0)  # identical rewards: no advantage


def _write_parquet(path: Path, rows: list[dict]) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


GOOD_ROW = {
    "data_source": "dsr40k",
    "prompt": [{"role": "user", "content": "What is 1 + 1?"}],
    "ability": "math",
    "reward_model": {"style": "rule", "ground_truth": "2"},
    "extra_info": {"split": "train", "index": 0},
}


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([{k: v for k, v in GOOD_ROW.items() if k != "reward_model"}], "missing column\\(s\\) reward_model"),
        ([{**GOOD_ROW, "prompt": []}], "row 0: 'prompt' must be a non-empty list"),
        (
            [GOOD_ROW, {**GOOD_ROW, "reward_model": {"style": "rule", "ground_truth": ""}}],
            "row 1: reward_model.ground_truth",
        ),
        ([{**GOOD_ROW, "prompt": [{"role": "user", "text": "hi"}]}], "row 0: 'prompt' must be"),
    ],
)
def test_bad_rl_file_is_a_clear_error(tmp_path: Path, rows: list[dict], message: str) -> None:
    from sparkle.train.check import check_rl_file

    path = _write_parquet(tmp_path / "bad.parquet", rows)
    with pytest.raises(SparkleError, match=message) as error:
        check_rl_file(path)
    assert str(path) in str(error.value)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        # a missing data file names the file and how to build it
        (
            ["data.train_files=/nowhere/sparkle_dsr40k.parquet"],
            "/nowhere/sparkle_dsr40k.parquet does not exist.*sparkle data",
        ),
        (["data.val_files=/nowhere/aime.parquet"], "/nowhere/aime.parquet does not exist"),
        # batch arithmetic
        (["data.train_batch_size=100"], "train_batch_size=100 is not a multiple of .*ppo_mini_batch_size=64"),
        (["trainer.n_gpus_per_node=3"], "not divisible by the 3 GPUs"),
        (
            ["actor_rollout_ref.rollout.tensor_model_parallel_size=3"],
            "tensor_model_parallel_size=3 must divide",
        ),
        (["actor_rollout_ref.actor.ppo_max_token_len_per_gpu=2048"], "below one full sequence"),
        # the reward: unloadable, unset, or only under verl 0.9's ignored top-level key
        (["reward.custom_reward_function.name=no_such_function"], "verl cannot load it"),
        (["reward.custom_reward_function.path=null"], "reward.custom_reward_function.path is not set;"),
        (
            ["reward.custom_reward_function.path=null", "custom_reward_function.path=pkg://sparkle.reward"],
            "is ignored by verl 0.9",
        ),
        (["reward.custom_reward_function.reward_kwargs.reward_type=no_such_type"], "reward function failed"),
        # a misspelled key
        (["actor_rollout_ref.actor.kl_loss_coeff=0.1"], "Did you mean actor_rollout_ref.actor.kl_loss_coef"),
        # a model without a tokenizer
        (["actor_rollout_ref.model.path=/nowhere/model"], "/nowhere/model: local model not found"),
    ],
)
def test_check_on_broken_inputs(
    stage_data: Path, tiny_model_dir: Path, capsys, extra: list[str], message: str
) -> None:
    import re

    status = sparkle_main(["train", "check", "stage_one", *_overrides(stage_data, tiny_model_dir), *extra])
    err = capsys.readouterr().err
    assert status == 2
    line = [x for x in err.splitlines() if x.startswith("sparkle train check: error:")]
    assert line and re.search(message, line[-1]), err[-1500:]


def test_stage_two_check_without_a_model(stage_data: Path, monkeypatch) -> None:
    from sparkle.train.check import run_check

    monkeypatch.delenv("PATH_TO_STAGE_ONE_MODEL", raising=False)
    with pytest.raises(SparkleError, match="model.path is not set.*PATH_TO_STAGE_ONE_MODEL"):
        run_check(
            "stage_two_hard",
            [f"data.train_files={stage_data / 'data' / 'sparkle_hardmath_hard_train.parquet'}"],
        )


@pytest.mark.shared
def test_check_on_real_training_problems(shared_data: Path, tiny_model_dir: Path, tmp_path: Path) -> None:
    """Stage-1 files built from real DeepScaleR problems (its AIME component) and the real AIME 2024 pass."""
    from sparkle.data.stage_one import build_stage_one
    from sparkle.train.check import run_check

    build_stage_one(
        tmp_path,
        shared_data / "deepscaler_train_components" / "deepscaler_train_aime.json",
        shared_data / "aime2024" / "aime2024.normalized.jsonl",
    )
    report = run_check(
        "stage_one",
        [
            f"actor_rollout_ref.model.path={tiny_model_dir}",
            f"data.train_files={tmp_path / 'sparkle_dsr40k.parquet'}",
            f"data.val_files={tmp_path / 'sparkle_aime2024.parquet'}",
        ],
    )
    assert report.train_rows == 975 and 0 < report.train_rows_kept <= 975
    assert (report.val_rows, report.val_rows_kept) == (30, 30)
    assert report.steps_per_epoch == report.train_rows_kept // 128
    assert report.reward_scores["reference"] == 2.0 and report.reward_scores["val reference"] == 1.0


def test_check_applies_the_trainers_row_caps(stage_data: Path, tiny_model_dir: Path) -> None:
    """The smoke recipe: verl's own train/val_max_samples caps, --max-rows below them, fixed step count."""
    from sparkle.train.check import run_check

    report = run_check("smoke", [*_overrides(stage_data, tiny_model_dir), "data.val_max_samples=2"])
    assert (report.train_rows, report.train_rows_kept, report.val_rows, report.val_rows_kept) == (
        130,
        130,
        2,
        2,
    )
    assert (report.gpus, report.rollouts_per_step, report.total_steps, report.fixed_steps) == (1, 32, 4, True)
    assert "steps             4 (trainer.total_training_steps; 16 / epoch)" in report.summary()
    capped = run_check("smoke", _overrides(stage_data, tiny_model_dir), max_rows=24)
    assert (capped.train_rows_kept, capped.val_rows_kept, capped.steps_per_epoch) == (24, 3, 3)


def test_count_parameters_matches_the_loaded_model(tiny_model_dir: Path) -> None:
    from transformers import AutoModelForCausalLM

    from sparkle.train.budget import KNOWN_PARAMETERS, count_parameters

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    assert count_parameters(str(tiny_model_dir)) == sum(p.numel() for p in model.parameters())
    assert count_parameters("Qwen/Qwen2.5-Math-7B") == KNOWN_PARAMETERS["Qwen/Qwen2.5-Math-7B"]
    assert count_parameters("no/such-model-here") is None


# (stage, steps, saves, kept, GB needed): Stage 1 is 40,315 problems / 128 = 314 steps x 30 epochs
DISK = [
    ("stage_one", 9420, 118, 3, 274),
    ("stage_two_aug", 44 * 350, 20, 3, 274),  # e.g. 5.6k PSS rows: 44 steps x 350 epochs, saved every 800
]


@pytest.mark.parametrize(("stage", "steps", "saves", "kept", "gb"), DISK)
def test_disk_plan_of_the_paper_runs(
    stage: str, steps: int, saves: int, kept: int, gb: int, tiny_model_dir
) -> None:
    from sparkle.train.budget import KNOWN_PARAMETERS, disk_plan
    from sparkle.train.compose import compose_config

    cfg = compose_config(stage, [f"actor_rollout_ref.model.path={tiny_model_dir}"])
    plan = disk_plan(cfg, steps, KNOWN_PARAMETERS["Qwen/Qwen2.5-Math-7B"])
    assert (plan.saves, plan.kept) == (saves, kept)
    assert round(plan.needed_bytes / 1e9) == gb
    assert plan.free_bytes is not None and str(plan.target).endswith(f"sparkle/sparkle_{stage}")
    keep_all = disk_plan(
        compose_config(
            stage, [f"actor_rollout_ref.model.path={tiny_model_dir}", "trainer.max_actor_ckpt_to_keep=null"]
        ),
        steps,
        KNOWN_PARAMETERS["Qwen/Qwen2.5-Math-7B"],
    )
    assert keep_all.kept == saves and "all kept" in keep_all.line()


# (GPU GiB, gpu_memory_utilization, words of the warning or None): 7B on 8 GPUs
MEMORY = [
    (79.3, 0.75, None),
    (79.3, 0.8, "close to out-of-memory"),
    (79.3, 0.95, "vLLM will refuse to start"),
    (44.4, 0.75, "close to out-of-memory"),
    (79.3, 0.2, "no room for the KV cache"),
]


@pytest.mark.parametrize(("gib", "utilization", "warning"), MEMORY)
def test_memory_plan(gib: float, utilization: float, warning, tiny_model_dir: Path) -> None:
    from sparkle.train.budget import KNOWN_PARAMETERS, memory_plan
    from sparkle.train.compose import compose_config

    cfg = compose_config(
        "stage_one",
        [
            f"actor_rollout_ref.model.path={tiny_model_dir}",
            f"actor_rollout_ref.rollout.gpu_memory_utilization={utilization}",
        ],
    )
    plan = memory_plan(cfg, KNOWN_PARAMETERS["Qwen/Qwen2.5-Math-7B"], gib, "given")
    problems = plan.problems()
    if warning is None:
        assert problems == []
    else:
        assert len(problems) == 1 and warning in problems[0]
    if gib == 79.3:
        # the config's value is the paper's budget on the paper's GPU
        assert plan.paper_utilization == pytest.approx(0.754, abs=0.002)


def test_check_warns_for_a_small_gpu(stage_data: Path, tiny_model_dir: Path, capsys) -> None:
    status = sparkle_main(
        [
            "train",
            "check",
            "stage_one",
            *_overrides(stage_data, tiny_model_dir),
            "--gpu-memory-gib",
            "0.5",
        ]
    )
    out = capsys.readouterr().out
    assert status == 0
    assert "GPU memory        GPU 0.5 GiB (given with --gpu-memory-gib)" in out
    assert "warning           vLLM asks for" in out
