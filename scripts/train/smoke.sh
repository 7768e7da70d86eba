#!/usr/bin/env bash
# Smoke run: 4 GRPO steps of a 0.5B model on one GPU (n = 4, batch 8) on the Stage-1 data, with validation
# and a checkpoint, to check a GPU node or a Ray cluster before launching the real stages.
#
# Usage: scripts/train/smoke.sh [--model ID_OR_PATH (default Qwen/Qwen2.5-0.5B-Instruct)] [--gpus-per-node G] [--attn sdpa]
#                               [--nnodes N] [--dry-run] [HYDRA_OVERRIDES...]
# Needs data/sparkle_dsr40k.parquet and data/sparkle_aime2024.parquet (`sparkle data stage-one --out data`).
# The recipe itself is configs/smoke.yaml; see scripts/train/stage_one.sh for the options.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
exec "${PYTHON:-python3}" -m sparkle.train.launch "$repo_root/configs/smoke.yaml" "$@"
