#!/usr/bin/env bash
# SparkleRL Stage 1: GRPO on dsr40k (40.3k DeepScaleR problems) from Qwen2.5-Math-7B, reward spk_h.
#
# Usage: scripts/train/stage_one.sh [--model ID_OR_PATH] [--nnodes N] [--gpus-per-node G] [--attn sdpa] [--dry-run]
#                                [HYDRA_OVERRIDES...]
# `--help` lists the options; scripts/train/README.md explains them (several nodes, logs, resume, wandb).
# Every hyperparameter lives in configs/stage_one.yaml; this script names only the model and the cluster size,
# each overridable from the environment (LOG_DIR and PYTHON too). Later HYDRA_OVERRIDES win.
set -euo pipefail

MODEL_PATH=${MODEL_PATH:-Qwen/Qwen2.5-Math-7B}  # Hub id or HF folder; --model wins
NNODES=${NNODES:-1}                         # --nnodes wins
GPUS_PER_NODE=${GPUS_PER_NODE:-8}           # --gpus-per-node wins

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
exec "${PYTHON:-python3}" -m sparkle.train.launch "$repo_root/configs/stage_one.yaml" \
    --model "$MODEL_PATH" \
    trainer.nnodes="$NNODES" trainer.n_gpus_per_node="$GPUS_PER_NODE" \
    "$@"
