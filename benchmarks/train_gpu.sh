#!/usr/bin/env bash
# The encoder recipe of issue 21 on one CUDA GPU (bf16 autocast), in about 15 minutes.
#
#   bash benchmarks/train_gpu.sh [OUT_DIR]
#
# 1. Renders two demo training projects with randomised looks (seeds 1 and 3,
#    `--variation train`: a new cell size, density, texture, blur, haze, channel balance and
#    bleed-through per field; never the evaluation seeds 0, 5, 7) and cuts their per-plate
#    crops (CPU: segmentation is the slow part, so the projects are small).
# 2. Domain randomisation: continues the bundled MAE on them (5 minutes at most).
# 3. Weak supervision from the plate maps: fine-tunes that encoder to classify each cell's
#    treatment (Metadata_broad_sample, balanced over treatments and plates; 5 minutes at most).
# 4. Scores the shipped weights and both stages on validation seed 5 (randomised looks) with
#    every post-processing, as the selection rule in docs/model_card.md says. Test seed 0 and
#    the held-out renderer (seed 7, `--variation heldout`) are for after the choice:
#    rerun step 4 with `--seed 0 --variation train` / `--seed 7 --variation heldout` once.
# Writes OUT_DIR/mae_rand.safetensors, OUT_DIR/weak.safetensors (+ .sha256, .losses.csv)
# and OUT_DIR/validation.jsonl.
set -euo pipefail
OUT=${1:-${OUT:-/tmp/phenoscope-gpu}}
mkdir -p "$OUT"
PY=${PYTHON:-python}
HERE=$(cd "$(dirname "$0")" && pwd)
$PY -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'no CUDA GPU here')"
start=$(date +%s)
for seed in 1 3; do
    [ -f "$OUT/train_seed$seed/demo_manifest.json" ] || $PY -m napari_phenoscope.cli demo-data \
        "$OUT/train_seed$seed" --seed $seed --wells 64 --sites 2 --variation train --no-progress
done
$PY -m napari_phenoscope.cli train "$OUT/train_seed1" "$OUT/train_seed3" --method mae \
    --init bundled --normalization plate --device cuda --batch-size 1024 --lr 1e-3 \
    --epochs 30 --max-minutes 5 --checkpoint-every 200 --seed 11 --no-progress \
    --out "$OUT/mae_rand.safetensors"
$PY -m napari_phenoscope.cli train "$OUT/train_seed1" "$OUT/train_seed3" --method weak \
    --label-column Metadata_broad_sample --init "$OUT/mae_rand.safetensors" \
    --normalization plate --device cuda --batch-size 512 --lr 3e-4 --epochs 30 \
    --max-minutes 5 --checkpoint-every 200 --seed 21 --no-progress \
    --out "$OUT/weak.safetensors"
$PY "$HERE/ablate_encoder.py" --work "$OUT/ablate" --seed 5 --wells 48 --sites 1 \
    --variation train --postprocess sph,all --json "$OUT/validation.jsonl" \
    --variant shipped=bundled --variant mae_rand="$OUT/mae_rand.safetensors" \
    --variant weak="$OUT/weak.safetensors"
echo "total $(( $(date +%s) - start )) s"
