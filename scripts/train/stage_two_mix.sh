#!/usr/bin/env bash
# SparkleRL Stage 2 mix: hard problems mixed with easier dsr40k ones, reward spk_h. Continues from the merged Stage-1 model.
#
# Usage: scripts/train/stage_two_mix.sh [--model DIR] [--nnodes N] [--gpus-per-node G] [--attn sdpa] [--dry-run]
#                                [HYDRA_OVERRIDES...]
# `--help` lists the options; scripts/train/README.md explains them (several nodes, logs, resume, wandb).
# Every hyperparameter lives in configs/stage_two_mix.yaml; this script names only the model and the cluster size,
# each overridable from the environment (LOG_DIR and PYTHON too). Later HYDRA_OVERRIDES win.
set -euo pipefail

MODEL_PATH=${MODEL_PATH:-}                  # the Stage-1 model folder; empty: $PATH_TO_STAGE_ONE_MODEL; --model wins
NNODES=${NNODES:-1}                         # --nnodes wins
GPUS_PER_NODE=${GPUS_PER_NODE:-8}           # --gpus-per-node wins

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
exec "${PYTHON:-python3}" -m sparkle.train.launch "$repo_root/configs/stage_two_mix.yaml" \
    --model-env PATH_TO_STAGE_ONE_MODEL --local-model ${MODEL_PATH:+--model "$MODEL_PATH"} \
    trainer.nnodes="$NNODES" trainer.n_gpus_per_node="$GPUS_PER_NODE" \
    "$@"
