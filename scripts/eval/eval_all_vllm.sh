#!/usr/bin/env bash
# Evaluate models × the five SPARKLE benchmarks with lm-eval + vLLM (Avg@8, pass@k, maj@k), then report.
#
#   PATH_TO_STAGE_ONE_MODEL=/ckpt/stage1 PATH_TO_STAGE_TWO_MODEL=/ckpt/stage2-aug ./scripts/eval/eval_all_vllm.sh
#   ./scripts/eval/eval_all_vllm.sh --model sparkle-reasoning/SparkleRL-7B-Stage2-aug --model Qwen/Qwen2.5-Math-7B --tp 2
#
# Every setting is an overridable environment variable; extra arguments go to `sparkle eval run`
# (--model, --tasks, --samples, --data-dir, --limit, --force, --dry-run, ...; see `sparkle eval run -h`).
# Local model paths are checked before anything runs, max_model_len is capped to each model's context,
# the generation budget is sized from the longest prompt, (model, task) pairs that already have results
# under OUTPUT_DIR are skipped, every run logs its samples, and vLLM uses every visible GPU (replicas × TP).
# All logic lives in sparkle.evaluate.run.
set -euo pipefail

OUTPUT_DIR=${OUTPUT_DIR:-results/bench}
REPORT_DIR=${REPORT_DIR:-${OUTPUT_DIR}/report}
TASKS=${TASKS:-sparkle_bench}
TP_SIZE=${TP_SIZE:-1}                       # vLLM tensor_parallel_size
DP_SIZE=${DP_SIZE:-}                        # vLLM data_parallel_size; empty: visible GPUs // TP_SIZE
MAX_MODEL_LEN=${MAX_MODEL_LEN:-32768}       # capped to the model's context (4096 for Qwen2.5-Math-7B)
GPU_MEMORY_UTILIZATION=${GPU_MEMORY_UTILIZATION:-0.8}
N_SAMPLES=${N_SAMPLES:-8}                   # samples per problem: Avg@8
SPARKLE=${SPARKLE:-sparkle}

# Models: --model on the command line wins; else the original script's two variables.
if [[ " $* " != *" --model"* ]]; then
    if [[ -z "${PATH_TO_STAGE_ONE_MODEL:-}" && -z "${PATH_TO_STAGE_TWO_MODEL:-}" ]]; then
        echo "eval_all_vllm.sh: set PATH_TO_STAGE_ONE_MODEL and/or PATH_TO_STAGE_TWO_MODEL, or pass --model" >&2
        exit 2
    fi
fi

"${SPARKLE}" eval run \
    --backend vllm \
    --out "${OUTPUT_DIR}" \
    --tasks "${TASKS}" \
    --samples "${N_SAMPLES}" \
    --tp "${TP_SIZE}" \
    ${DP_SIZE:+--dp "${DP_SIZE}"} \
    --max-model-len "${MAX_MODEL_LEN}" \
    --gpu-memory-utilization "${GPU_MEMORY_UTILIZATION}" \
    "$@"

if [[ " $* " != *" --dry-run "* ]]; then
    "${SPARKLE}" report "${OUTPUT_DIR}" --out "${REPORT_DIR}"
fi
