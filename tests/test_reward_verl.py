"""The real verl path: compose verl's own config with ``reward.custom_reward_function`` pointing at
``pkg://sparkle.reward``, load it with verl's loader and score a DataProto batch through verl's ``naive``
reward manager built with the tiny offline tokenizer (CPU, no trainer)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

RESPONSES = [
    # (response, ground truth, extra_info, expected spk_h_aug score, expected acc)
    (
        "<think>\n5+7=12\n</think>\n<answer>\nThe answer is \\boxed{12}.\n</answer>",
        "12",
        {"split": "train"},
        2.0,
        1.0,
    ),
    (
        "<think>\n5+7=13\n</think>\n<answer>\nThe answer is \\boxed{13}.\n</answer>",
        "12",
        {"split": "train"},
        -1.0,
        0.0,
    ),
    # a PSS continuation: the prompt opened <think>, so the augmented format check applies
    (
        "so 5+7=12\n</think>\n<think>\n<answer>\\boxed{\\frac{24}{2}}</answer>",
        "12",
        {"split": "train", "thinking_level": 2},
        2.0,
        1.0,
    ),
    # validation rows get the answer-only score
    ("The answer is 12", ["12", "twelve"], {"split": "test"}, 1.0, 1.0),
]


def _compose(tiny_model_dir: Path, path: str = "pkg://sparkle.reward"):
    import os

    from hydra import compose, initialize_config_dir

    import verl

    config_dir = os.path.join(os.path.dirname(verl.__file__), "trainer", "config")
    with initialize_config_dir(config_dir=config_dir, version_base=None):
        return compose(
            "ppo_trainer",
            overrides=[
                f"reward.custom_reward_function.path={path}",
                "reward.custom_reward_function.name=compute_score",
                "+reward.custom_reward_function.reward_kwargs.reward_type=spk_h_aug",
                "+reward.custom_reward_function.reward_kwargs.policy=train",
                "+reward.custom_reward_function.reward_kwargs.timeout=5",
                f"actor_rollout_ref.model.path={tiny_model_dir}",
            ],
        )


@pytest.mark.timeout(300)
def test_verl_loader_resolves_the_entry_point(tiny_model_dir: Path) -> None:
    from verl.trainer.ppo.reward import get_custom_reward_fn

    import sparkle.reward

    cfg = _compose(tiny_model_dir)
    fn = get_custom_reward_fn(cfg)
    result = fn(data_source="aime", solution_str=RESPONSES[0][0], ground_truth="12", extra_info={})
    assert result == {"score": 2.0, "acc": 1.0, "format_ok": 1.0, "granular_format": 1.0, "timed_out": 0.0}
    # the same function through a file path (the other form verl accepts)
    file_cfg = _compose(tiny_model_dir, path=str(Path(sparkle.reward.__file__)))
    assert (
        get_custom_reward_fn(file_cfg)(
            data_source="aime", solution_str=RESPONSES[1][0], ground_truth="12", extra_info={}
        )["score"]
        == -1.0
    )


@pytest.mark.timeout(300)
def test_naive_reward_manager_scores_a_dataproto_batch(tiny_model_dir: Path, tiny_tokenizer) -> None:
    import numpy as np
    import torch
    from verl.trainer.ppo.reward import load_reward_manager

    from verl import DataProto

    cfg = _compose(tiny_model_dir)
    manager = load_reward_manager(cfg, tiny_tokenizer)

    prompt_ids = tiny_tokenizer("User: what is 5+7? Assistant:")["input_ids"]
    encoded = [tiny_tokenizer(r + tiny_tokenizer.eos_token)["input_ids"] for r, *_ in RESPONSES]
    for (text, *_), ids in zip(RESPONSES, encoded, strict=True):
        assert tiny_tokenizer.decode(ids, skip_special_tokens=True) == text  # the byte-level BPE round-trips
    width = max(len(ids) for ids in encoded) + 3  # right padding after the response
    pad = tiny_tokenizer.pad_token_id or 0
    responses = torch.full((len(RESPONSES), width), pad, dtype=torch.long)
    attention = torch.zeros((len(RESPONSES), len(prompt_ids) + width), dtype=torch.long)
    for i, ids in enumerate(encoded):
        responses[i, : len(ids)] = torch.tensor(ids)
        attention[i, : len(prompt_ids) + len(ids)] = 1
    prompts = torch.tensor([prompt_ids] * len(RESPONSES))
    batch = DataProto.from_dict(
        tensors={"prompts": prompts, "responses": responses, "attention_mask": attention},
        non_tensors={
            "data_source": np.array(["sparkle"] * len(RESPONSES), dtype=object),
            "reward_model": np.array(
                [{"style": "rule", "ground_truth": gt} for _, gt, *_ in RESPONSES], dtype=object
            ),
            "extra_info": np.array([dict(info) for _, _, info, *_ in RESPONSES], dtype=object),
        },
    )
    outputs = [
        manager.loop.run_until_complete(manager.run_single(batch[i : i + 1])) for i in range(len(batch))
    ]
    scores = [o["reward_score"] for o in outputs]
    assert scores == [expected for *_, expected, _ in RESPONSES]
    assert [o["reward_extra_info"]["acc"] for o in outputs] == [acc for *_, acc in RESPONSES]
    assert all(set(o["reward_extra_info"]) == set(outputs[0]["reward_extra_info"]) for o in outputs)

    rm_scores = manager.assemble_rm_scores(batch, scores)
    last = attention[:, prompts.size(1) :].sum(dim=1) - 1
    assert rm_scores[torch.arange(len(batch)), last].tolist() == scores
    assert rm_scores.sum().item() == pytest.approx(sum(scores))
