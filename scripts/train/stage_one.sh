#!/usr/bin/env bash
# SparkleRL Stage 1: GRPO on dsr40k (40.3k DeepScaleR problems) from Qwen2.5-Math-7B, reward spk_h.
#
# Usage: scripts/train/stage_one.sh [--model ID_OR_PATH (default Qwen/Qwen2.5-Math-7B)] [--nnodes N] [--gpus-per-node G] [--dry-run] [HYDRA_OVERRIDES...]
#   --dry-run        print the fully composed config and the exact launch command; start nothing
#   --attn sdpa      train without flash-attn (sdpa attention, remove-padding off; slower); without it the
#                    launch stops before anything starts when flash-attn does not import
#   --nnodes N       run on N nodes of a Ray cluster: the same RAY_AUTH_MODE on every node, `ray start --head`
#                    on this node, `ray start --address=<this-node-ip>:6379` on the others, then this script
#                    here (exact commands: scripts/train/README.md, "Several nodes")
#   HYDRA_OVERRIDES  any verl key, e.g. trainer.total_training_steps=10 (later values win)
# Environment: PYTHON (default python3); data files in data/ (built by `sparkle data ...`); logs in $LOG_DIR (default logs/);
# checkpoints in checkpoints/sparkle/<experiment>; a rerun resumes from the latest one. wandb is used when
# WANDB_API_KEY is set or `wandb login` was run, console logging otherwise.
set -euo pipefail

# Hyperparameters (the paper's; the same values as configs/stage_one.yaml, which the tests check against the paper)
train_batch_size=128
max_prompt_length=1024
max_response_length=3000
n_resp_per_prompt=32
temperature=0.6
lr=1e-6
ppo_mini_batch_size=64
ppo_max_token_len_per_gpu=32768
kl_loss_coef=0.001
entropy_coeff=0.001
# validation is greedy (temperature 0, one sample), as the original ran it: see configs/sparkle_grpo.yaml
val_n=1
total_epochs=30
save_freq=80
test_freq=20

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
exec "${PYTHON:-python3}" -m sparkle.train.launch "$repo_root/configs/stage_one.yaml"  \
    data.train_batch_size="$train_batch_size" \
    data.max_prompt_length="$max_prompt_length" \
    data.max_response_length="$max_response_length" \
    actor_rollout_ref.rollout.n="$n_resp_per_prompt" \
    actor_rollout_ref.rollout.temperature="$temperature" \
    actor_rollout_ref.actor.optim.lr="$lr" \
    actor_rollout_ref.actor.ppo_mini_batch_size="$ppo_mini_batch_size" \
    actor_rollout_ref.actor.ppo_max_token_len_per_gpu="$ppo_max_token_len_per_gpu" \
    actor_rollout_ref.actor.kl_loss_coef="$kl_loss_coef" \
    actor_rollout_ref.actor.entropy_coeff="$entropy_coeff" \
    actor_rollout_ref.rollout.val_kwargs.n="$val_n" \
    trainer.total_epochs="$total_epochs" \
    trainer.save_freq="$save_freq" \
    trainer.test_freq="$test_freq" \
    "$@"
