#!/usr/bin/env bash
# The bundled encoder's recipe on one CUDA GPU (bf16 autocast), in under 9 minutes.
#
#   bash benchmarks/train_gpu.sh [OUT_DIR]
#
# Renders two demo training projects (seeds 1 and 3, never the evaluation seeds 0, 2, 5),
# cuts their per-plate-normalised crops (CPU: segmentation is the slow part, so the
# projects are small), then fine-tunes the bundled MAE with the shipped recipe
# (--normalization plate) at batch 1024 for 30 epochs (at most 5 minutes), and prints
# cells/s from the loss CSV. Writes OUT_DIR/mae_gpu.safetensors (+ .sha256, .losses.csv).
set -euo pipefail
OUT=${1:-${OUT:-/tmp/phenoscope-gpu}}
mkdir -p "$OUT"
PY=${PYTHON:-python}
$PY -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'no CUDA GPU here')"
start=$(date +%s)
$PY -m napari_phenoscope.cli demo-data "$OUT/demo_seed1" --seed 1 --wells 32 --no-progress
$PY -m napari_phenoscope.cli demo-data "$OUT/demo_seed3" --seed 3 --wells 32 --size 320 --no-progress
$PY -m napari_phenoscope.cli train "$OUT/demo_seed1" "$OUT/demo_seed3" --method mae \
    --init bundled --normalization plate --device cuda --batch-size 1024 --lr 1e-3 \
    --epochs 30 --max-minutes 5 --checkpoint-every 200 --seed 11 --no-progress \
    --out "$OUT/mae_gpu.safetensors"
$PY - "$OUT/mae_gpu.losses.csv" <<'PYEOF'
import sys
import pandas as pd
log = pd.read_csv(sys.argv[1])
span = log["seconds"].iloc[-1] - log["seconds"].iloc[0]
steps = log["step"].iloc[-1] - log["step"].iloc[0]
print(f"steps {int(log['step'].iloc[-1])}, loss {log['loss'].iloc[0]:.4f} -> "
      f"{log['loss'].iloc[-1]:.4f}, {1024 * steps / max(span, 1e-9):.0f} cells/s")
print(log.iloc[:: max(len(log) // 20, 1)].to_string(index=False))
PYEOF
echo "total $(( $(date +%s) - start )) s"
