#!/usr/bin/env bash
# Smoke run: 4 GRPO steps of a 0.5B model on one GPU (n = 4, batch 8) on the Stage-1 data, with validation
# and a checkpoint, to check a GPU node or a Ray cluster before launching the real stages.
# Needs data/sparkle_dsr40k.parquet and data/sparkle_aime2024.parquet (`sparkle data stage-one --out data`).
#
# Usage: scripts/train/smoke.sh [--model ID_OR_PATH (default $MODEL_PATH)] [--nnodes N] [--gpus-per-node G] [--attn sdpa]
#        [--dry-run] [HYDRA_OVERRIDES...]
#   --dry-run        print the fully composed config and the exact launch command; start nothing
#   --attn sdpa      train without flash-attn (sdpa attention, remove-padding off; slower); without it the
#                    launch stops before anything starts when flash-attn does not import
#   --nnodes N       run on N nodes of a Ray cluster: the same RAY_AUTH_MODE on every node, `ray start --head`
#                    on this node, `ray start --address=<this-node-ip>:6379` on the others, then this script
#                    here (exact commands: scripts/train/README.md, "Several nodes")
#   HYDRA_OVERRIDES  any verl key, e.g. trainer.total_training_steps=10 (later values win)
# Every hyperparameter lives in configs/smoke.yaml (and the shared configs/sparkle_grpo.yaml); this script
# only names the model, the cluster size and where things go, each overridable from the environment:
#   MODEL_PATH      Hub id or local HF folder to train (default Qwen/Qwen2.5-0.5B-Instruct; --model wins)
#   NNODES          nodes of the Ray cluster (default 1; --nnodes wins)
#   GPUS_PER_NODE   GPUs per node (default 1; --gpus-per-node wins)
#   LOG_DIR         run logs (default logs/); PYTHON: the interpreter (default python3)
# Data files are read from data/ (built by `sparkle data ...`); checkpoints go to checkpoints/sparkle/<experiment>
# and a rerun resumes from the latest one. wandb is used when WANDB_API_KEY is set or `wandb login` was run,
# console logging otherwise.
set -euo pipefail

MODEL_PATH=${MODEL_PATH:-Qwen/Qwen2.5-0.5B-Instruct}
NNODES=${NNODES:-1}
GPUS_PER_NODE=${GPUS_PER_NODE:-1}

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
exec "${PYTHON:-python3}" -m sparkle.train.launch "$repo_root/configs/smoke.yaml" \
    --model "$MODEL_PATH" \
    trainer.nnodes="$NNODES" trainer.n_gpus_per_node="$GPUS_PER_NODE" \
    "$@"
