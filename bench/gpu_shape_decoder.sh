#!/usr/bin/env bash
# Train genaisys's shape image decoder on a lent GPU. Self-contained; two steps.
#
# 1) Here, on the CPU box (has the packaged MiniLM and pip), from the repo root:
#        bash bench/gpu_shape_decoder.sh prepare
#    writes .cache/gpu_shapes/ (ignored by git, ~7 MB): the MiniLM embeddings of every training
#    and held-out prompt (so the GPU machine needs no text encoder) and the wheels the GPU image
#    lacks (diffusers, pydantic and their small pure-Python needs; cp312 manylinux).
# 2) On the device machine (the `run` tool), carry [".cache/gpu_shapes"], timeout_s ~ 540:
#        bash bench/gpu_shape_decoder.sh train 3000 128
#    (or, for the compositional test, colour-shape pairs never trained on:
#        HOLDOUT_PAIRS=blue:triangle,yellow:circle,gray:rectangle bash bench/gpu_shape_decoder.sh train 3000 128)
#    trains STEPS (default 3000; 3000 x 128 = 10x the images the shipped CPU model saw) at BATCH (default 128) on CUDA, scores the EMA model with the
#    oracle on the held-out phrasings (4 images per prompt) and leaves
#    $OUT/shapes_model/{config.json,model.safetensors,metrics.jsonl} + $OUT/train_log.txt.
# 3) Here: copy config.json + model.safetensors into tools/decoders/shapes_model/, update
#    MODEL_CARD.md, and run `.venv/bin/python bench/shape_decoder.py` to re-measure on CPU.
set -euo pipefail
mode=${1:?usage: bash bench/gpu_shape_decoder.sh prepare | train [STEPS] [BATCH]}
dir=.cache/gpu_shapes
case "$mode" in
prepare)
  mkdir -p "$dir/whl"
  .venv/bin/python -m genaisys.train.shape_decoder --export-embeddings "$dir/prompt_embeds.safetensors"
  .venv/bin/python -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d "$dir/whl" \
    diffusers==0.42.1 pydantic==2.14.4 pydantic-core==2.50.5 annotated-types==0.8.0 typing-inspection==0.4.5 \
    typing-extensions==4.16.0 importlib-metadata==10.2.0
  du -sh "$dir"; ls "$dir/whl"
  ;;
train)
  steps=${2:-3000}; batch=${3:-128}; out=${OUT:-out/gpu_shapes}
  mkdir -p "$out"
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site "$dir"/whl/*.whl
  export PYTHONPATH="/tmp/site:$PWD" PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
  nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
  python3 -m genaisys.train.shape_decoder --out "$out/shapes_model" --steps "$steps" --batch-size "$batch" \
    --device cuda --threads 4 --ema-decay 0.999 --embeddings "$dir/prompt_embeds.safetensors" \
    --eval-images-per-prompt 4 --no-progress --holdout-pairs "${HOLDOUT_PAIRS:-}" 2>&1 | tee "$out/train_log.txt"
  tail -n 3 "$out/shapes_model/metrics.jsonl"
  ;;
*) echo "unknown mode $mode; use prepare or train" >&2; exit 2 ;;
esac
