#!/usr/bin/env bash
# Smoke run: 4 GRPO steps of a 0.5B model on one GPU (n = 4, batch 8) on the Stage-1 data, with validation
# and a checkpoint, to check a GPU node or a Ray cluster before launching the real stages.
# Needs data/sparkle_dsr40k.parquet and data/sparkle_aime2024.parquet (`sparkle data stage-one --out data`).
#
# Usage: scripts/train/smoke.sh [--model ID_OR_PATH] [--nnodes N] [--gpus-per-node G] [--attn sdpa] [--dry-run]
#                                [HYDRA_OVERRIDES...]
# `--help` lists the options; scripts/train/README.md explains them (several nodes, logs, resume, wandb).
# Every hyperparameter lives in configs/smoke.yaml; this script names only the model and the cluster size,
# each overridable from the environment (LOG_DIR and PYTHON too). Later HYDRA_OVERRIDES win.
set -euo pipefail

MODEL_PATH=${MODEL_PATH:-Qwen/Qwen2.5-0.5B-Instruct}  # Hub id or HF folder; --model wins
NNODES=${NNODES:-1}                         # --nnodes wins
GPUS_PER_NODE=${GPUS_PER_NODE:-1}           # --gpus-per-node wins

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
exec "${PYTHON:-python3}" -m sparkle.train.launch "$repo_root/configs/smoke.yaml" \
    --model "$MODEL_PATH" \
    trainer.nnodes="$NNODES" trainer.n_gpus_per_node="$GPUS_PER_NODE" \
    "$@"
