#!/usr/bin/env bash
# SparkleRL Stage 2 aug (PSS, recommended): hard problems with a partial solution in the prompt, reward spk_h_aug. Continues from the merged Stage-1 model.
#
# Usage: scripts/train/stage_two_aug.sh [--model DIR (default $MODEL_PATH, else $PATH_TO_STAGE_ONE_MODEL)] [--nnodes N] [--gpus-per-node G] [--attn sdpa]
#        [--dry-run] [HYDRA_OVERRIDES...]
#   --dry-run        print the fully composed config and the exact launch command; start nothing
#   --attn sdpa      train without flash-attn (sdpa attention, remove-padding off; slower); without it the
#                    launch stops before anything starts when flash-attn does not import
#   --nnodes N       run on N nodes of a Ray cluster: the same RAY_AUTH_MODE on every node, `ray start --head`
#                    on this node, `ray start --address=<this-node-ip>:6379` on the others, then this script
#                    here (exact commands: scripts/train/README.md, "Several nodes")
#   HYDRA_OVERRIDES  any verl key, e.g. trainer.total_training_steps=10 (later values win)
# Every hyperparameter lives in configs/stage_two_aug.yaml (and the shared configs/sparkle_grpo.yaml); this script
# only names the model, the cluster size and where things go, each overridable from the environment:
#   MODEL_PATH      the merged Stage-1 model folder (default $PATH_TO_STAGE_ONE_MODEL; --model wins)
#   NNODES          nodes of the Ray cluster (default 1; --nnodes wins)
#   GPUS_PER_NODE   GPUs per node (default 8; --gpus-per-node wins)
#   LOG_DIR         run logs (default logs/); PYTHON: the interpreter (default python3)
# Data files are read from data/ (built by `sparkle data ...`); checkpoints go to checkpoints/sparkle/<experiment>
# and a rerun resumes from the latest one. wandb is used when WANDB_API_KEY is set or `wandb login` was run,
# console logging otherwise.
set -euo pipefail

MODEL_PATH=${MODEL_PATH:-}
NNODES=${NNODES:-1}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
exec "${PYTHON:-python3}" -m sparkle.train.launch "$repo_root/configs/stage_two_aug.yaml" \
    --model-env PATH_TO_STAGE_ONE_MODEL --local-model ${MODEL_PATH:+--model "$MODEL_PATH"} \
    trainer.nnodes="$NNODES" trainer.n_gpus_per_node="$GPUS_PER_NODE" \
    "$@"
