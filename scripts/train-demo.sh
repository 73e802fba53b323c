#!/usr/bin/env bash
# Rebuild the demo tokenizers in experiments/demo: the same tiny model trained twice on 64x64
# crops of the photo pool's train split, once with entropy-partition tokens and once with
# uniform-grid tokens, then tested on the embedded photos (never seen in training).
# Usage: scripts/train-demo.sh [STEPS]   (default 1200; rerunning resumes both runs)
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${1:-1200}
cli="node bin/gpstoken.js"
pool=${GPSTOKEN_DATA:-.cache/pool}
crops="$pool/crops-64"

$cli data fetch --out "$pool"
$cli data crops --pool "$pool" --size 64 --per-photo 4 --short-side 2 --split train --seed 0 --out "$crops"

pids=()
for init in entropy grid; do
  $cli train --config experiments/demo/tokenizer.yaml --data "$crops/crops.tsv" \
    --eval-data data/embedded --out "experiments/demo/runs/$init" --init "$init" \
    --steps "$steps" --seed 0 --threads 1 --resume >"experiments/demo/runs-$init.out" 2>&1 &
  pids+=($!)
done
trap 'kill -INT "${pids[@]}" 2>/dev/null; wait' INT TERM
for pid in "${pids[@]}"; do wait "$pid"; done

for init in entropy grid; do
  cp "experiments/demo/runs/$init/model_ema.safetensors" "experiments/demo/$init.safetensors"
  cp "experiments/demo/runs/$init/train.log" "experiments/demo/$init-train.log"
  cp "experiments/demo/runs/$init/metrics.json" "experiments/demo/$init-metrics.json"
done
echo "demo tokenizers written to experiments/demo/{entropy,grid}.safetensors"
