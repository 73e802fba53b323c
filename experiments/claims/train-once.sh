#!/usr/bin/env bash
# Trains a tokenizer into MODEL_DIR unless MODEL_DIR/model_ema.safetensors already exists,
# so that several claim sweeps (and several trials of one sweep) share one trained model.
#
#   train-once.sh MODEL_DIR [gpstoken train options...]
#
# A flock on MODEL_DIR.lock keeps two trials from training the same model at once: the
# second waits and then reuses the result. A run that was interrupted (checkpoints but no
# final weights) is continued with --resume. Prints one JSON document on stdout, as the
# sweep runner expects; everything else goes to stderr.
set -euo pipefail
model_dir=$1
shift
repo_root=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$(dirname "$model_dir")"
exec 9>"$model_dir.lock"
flock 9
if [[ -f "$model_dir/model_ema.safetensors" ]]; then
  printf '{"model_dir": "%s", "reused": true}\n' "$model_dir"
  exit 0
fi
resume=()
if compgen -G "$model_dir/checkpoints/step-*.safetensors" >/dev/null; then
  resume=(--resume)
fi
node "$repo_root/bin/gpstoken.js" train --out "$model_dir" "${resume[@]}" "$@" --json
