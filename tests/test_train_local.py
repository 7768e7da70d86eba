"""`sparkle train local`: the stage → TRL mapping, bad input refused before anything loads, and real
TRL GRPO runs of a few steps on the tiny model (reward inputs, metrics, checkpoint, resume)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from sparkle.cli import main as sparkle_main
from sparkle.demo import DEMO_DATA
from sparkle.errors import SparkleError
from sparkle.io import read_jsonl
from sparkle.reward import compute_score
from sparkle.train.local import plan_local, quarter_means, run_local

# A few GRPO steps of the tiny model: 2 prompts x 4 rollouts of at most 8 tokens per step.
TINY = [
    "data.train_batch_size=2",
    "actor_rollout_ref.actor.ppo_mini_batch_size=2",
    "actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=8",
    "actor_rollout_ref.rollout.n=4",
    "data.max_response_length=8",
    "actor_rollout_ref.model.enable_gradient_checkpointing=false",
]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The stage parquet files `sparkle data` writes from the demo's sample problems."""
    from sparkle.data.stage_one import build_stage_one
    from sparkle.data.stage_two import build_stage_two

    out = tmp_path_factory.mktemp("local_data")
    build_stage_one(out, DEMO_DATA / "train.jsonl", DEMO_DATA / "aime2024.jsonl")
    build_stage_two(out, variant="aug", source=DEMO_DATA / "hardmath.jsonl")
    return out


def _rows_by_index(parquet: Path) -> dict[str, dict]:
    frame = pd.read_parquet(parquet)
    return {str(r["extra_info"]["index"]): r for r in frame.to_dict("records")}


# ---------------------------------------------------------------- mapping (no torch)


@pytest.mark.parametrize(
    ("stage", "expected"),
    [
        (
            "stage_one",
            {
                "num_generations": 32,
                "temperature": 0.6,
                "learning_rate": 1e-6,
                "beta": 0.001,
                "entropy_coef": 0.001,
                "loss_type": "dapo",
                "scale_rewards": "group",
                "epsilon": 0.2,
                "epsilon_high": 0.2,
                "max_completion_length": 3000,
                "per_device_train_batch_size": 1,
                "gradient_accumulation_steps": 64 * 32,
                "steps_per_generation": 128 * 32,
                "num_train_epochs": 30,
                "seed": 1,
                "max_grad_norm": 1.0,
                "save_steps": 80 * 2,
            },
        ),
        ("stage_two_aug", {"beta": 0.01, "num_train_epochs": 350, "num_generations": 32}),
        ("smoke", {"num_generations": 4, "max_steps": 4 * 2, "max_completion_length": 1024}),
    ],
)
def test_stage_maps_onto_trl(stage, expected, data_dir, tiny_model_dir, tmp_path):
    train = "sparkle_hardmath_aug_all_train" if stage == "stage_two_aug" else "sparkle_dsr40k"
    plan = plan_local(
        stage, [f"data.train_files={data_dir / (train + '.parquet')}"], str(tiny_model_dir), tmp_path / "run"
    )
    for key, value in expected.items():
        assert (
            plan.trl[key] == pytest.approx(value) if isinstance(value, float) else plan.trl[key] == value
        ), key
    assert plan.reward_kwargs["reward_type"] == ("spk_h_aug" if stage == "stage_two_aug" else "spk_h")
    assert plan.reward_kwargs["policy"] == "train"
    assert {row["trl"] for row in plan.mapping} >= {"num_generations", "beta", "learning_rate"}
    assert not (tmp_path / "run").exists(), "planning must not write anything"


def test_max_steps_overrides_the_epochs(data_dir, tiny_model_dir, tmp_path):
    plan = plan_local(
        "stage_one", [f"data.train_files={data_dir / 'sparkle_dsr40k.parquet'}"], str(tiny_model_dir),
        tmp_path, max_steps=7,
    )  # fmt: skip
    assert plan.trl["max_steps"] == 7


# ---------------------------------------------------------------- bad input: one line, exit 2, nothing written


def _no_weights(tmp_path: Path, tiny_model_dir: Path) -> Path:
    folder = tmp_path / "config_only"
    folder.mkdir()
    (folder / "config.json").write_text((tiny_model_dir / "config.json").read_text())
    return folder


BAD = [
    # (id, extra args builder, fragment of the message)
    ("missing data", lambda d, m, t: ["data.train_files=" + str(t / "nope.parquet")], "nope.parquet not found"),
    ("no weights", lambda d, m, t: ["--model", str(_no_weights(t, m))], "no weights"),
    ("no model folder", lambda d, m, t: ["--model", str(t / "absent")], "no such folder"),
    ("hub id offline", lambda d, m, t: ["--model", "no-such-org/no-such-model"], "not in the local Hugging Face"),
    ("kl estimator", lambda d, m, t: ["actor_rollout_ref.actor.kl_loss_type=mse"], "only the k3 estimator"),
    ("estimator", lambda d, m, t: ["algorithm.adv_estimator=gae"], "runs GRPO only"),
    ("kl in reward", lambda d, m, t: ["algorithm.use_kl_in_reward=true"], "KL-in-reward"),
    ("loss agg", lambda d, m, t: ["actor_rollout_ref.actor.loss_agg_mode=seq-mean-token-sum"], "no TRL equivalent"),
    ("policy loss", lambda d, m, t: ["actor_rollout_ref.actor.policy_loss.loss_mode=gspo"], "vanilla"),
    ("one rollout", lambda d, m, t: ["actor_rollout_ref.rollout.n=1"], "at least 2 rollouts"),
    ("batch", lambda d, m, t: ["data.train_batch_size=3", "actor_rollout_ref.actor.ppo_mini_batch_size=2"],
     "not a multiple"),
    ("max steps", lambda d, m, t: ["--max-steps", "0"], "--max-steps 0"),
    ("unknown key", lambda d, m, t: ["actor_rollout_ref.actor.kl_los_coef=1"], "kl_los_coef"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "extra", "fragment"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_one_clear_line(case, extra, fragment, data_dir, tiny_model_dir, tmp_path, capsys):
    out = tmp_path / "run"
    args = [
        "train", "local", "stage_one", f"data.train_files={data_dir / 'sparkle_dsr40k.parquet'}",
        "--model", str(tiny_model_dir), "--out", str(out), *extra(data_dir, tiny_model_dir, tmp_path),
    ]  # fmt: skip
    status = sparkle_main(args)
    err = capsys.readouterr().err.strip()
    assert status == 2, err
    assert fragment in err, err
    assert err.startswith("sparkle train local: error:") and "Traceback" not in err
    assert not out.exists()


# ---------------------------------------------------------------- real TRL runs


def test_pss_stage_trains_and_the_reward_sees_each_rows_truth(data_dir, tiny_model_dir, tmp_path):
    parquet = data_dir / "sparkle_hardmath_aug_all_train.parquet"
    out = tmp_path / "pss"
    plan = plan_local(
        "stage_two_aug", [f"data.train_files={parquet}", "data.train_batch_size=8", "actor_rollout_ref.actor.ppo_mini_batch_size=8", *TINY[2:]],
        str(tiny_model_dir), out, max_steps=2,
    )  # fmt: skip
    plan.threads = 1
    summary = run_local(plan)
    assert summary["steps"] == 2

    rows = _rows_by_index(parquet)
    samples = read_jsonl(out / "samples.jsonl")
    assert len(samples) == 2 * 8 * 4  # 2 steps x 8 prompts x 4 rollouts (one optimizer step per batch)
    levels = set()
    for s in samples:
        row = rows[str(s["index"])]
        assert s["ground_truth"] == row["reward_model"]["ground_truth"]
        assert s["thinking_level"] == row["extra_info"]["thinking_level"]
        levels.add(s["thinking_level"])
        # scored exactly as verl would: response only, extra_info of the row, the stage's reward kwargs
        expected = compute_score(
            row["data_source"], s["response"], row["reward_model"]["ground_truth"], dict(row["extra_info"]),
            reward_type="spk_h_aug", policy="train",
        )  # fmt: skip
        assert s["score"] == expected["score"] and s["format_ok"] == expected["format_ok"]
    assert 0 in levels and levels & {1, 2, 3, 4}, levels

    metrics = read_jsonl(out / "metrics.jsonl")
    assert [m["step"] for m in metrics] == [1, 2]
    for m in metrics:
        assert {"step", "reward", "acc", "format_ok", "kl", "seconds"} <= set(m)
        assert m["reward"] == pytest.approx(
            sum(s["score"] for s in samples if s["step"] == m["step"]) / 32, abs=1e-4
        )
    assert (out / "reward_curve.png").stat().st_size > 1000
    mapping = json.loads((out / "mapping.json").read_text())
    assert mapping["reward_kwargs"]["reward_type"] == "spk_h_aug"


def test_plain_stage_checkpoint_loads_generates_and_resumes(data_dir, tiny_model_dir, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    parquet = data_dir / "sparkle_dsr40k.parquet"
    out = tmp_path / "plain"
    overrides = [f"data.train_files={parquet}", *TINY]
    plan = plan_local("stage_one", overrides, str(tiny_model_dir), out, max_steps=2, save_steps=1)
    plan.threads = 1
    first = run_local(plan)
    assert first["steps"] == 2 and first["resumed_from"] is None
    assert (out / "checkpoints" / "checkpoint-2" / "trainer_state.json").is_file()
    rows = _rows_by_index(parquet)
    for s in read_jsonl(out / "samples.jsonl"):
        assert s["ground_truth"] == rows[str(s["index"])]["reward_model"]["ground_truth"]
        assert s["thinking_level"] is None  # plain Stage-1 rows carry no thinking level

    assert json.loads((out / "final" / "config.json").read_text()).get("use_cache", True) is True
    tokenizer = AutoTokenizer.from_pretrained(out / "final")
    model = AutoModelForCausalLM.from_pretrained(out / "final")
    trained = model.state_dict()["lm_head.weight"]
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir).state_dict()["lm_head.weight"]
    assert not torch.equal(trained, base), "training must change the weights"
    ids = tokenizer.apply_chat_template(
        [{"role": "user", "content": "1+1?"}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    generated = model.generate(**ids, max_new_tokens=4, do_sample=False)
    assert generated.shape[1] > ids["input_ids"].shape[1]

    plan = plan_local("stage_one", overrides, str(tiny_model_dir), out, max_steps=3, save_steps=1)
    plan.threads = 1
    second = run_local(plan)
    assert second["resumed_from"].endswith("checkpoint-2")
    assert [m["step"] for m in read_jsonl(out / "metrics.jsonl")] == [1, 2, 3]
    state = json.loads((out / "checkpoints" / "checkpoint-3" / "trainer_state.json").read_text())
    assert state["global_step"] == 3


def test_quarter_means():
    rows = [{"reward": r} for r in (-3, -3, -2, -2, -1, -1, 0, 0)]
    assert quarter_means(rows) == (-3, 0)


def test_plan_rejects_an_output_path_that_is_a_file(data_dir, tiny_model_dir, tmp_path):
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(SparkleError, match="not a folder"):
        plan_local("stage_one", [f"data.train_files={data_dir / 'sparkle_dsr40k.parquet'}"], str(tiny_model_dir),
                   target)  # fmt: skip
