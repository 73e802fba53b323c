#!/usr/bin/env bash
# Run every benchmark; each writes its CSV under results/.
set -euo pipefail
cd "$(dirname "$0")/.."
python=$(scripts/find-python.sh)
for bench in bench/*.bench.ts; do
  [[ -e "$bench" ]] || continue
  echo "== $bench" >&2
  node --import tsx "$bench"
done
for bench in bench/*_bench.py; do
  [[ -e "$bench" ]] || continue
  echo "== $bench" >&2
  "$python" "$bench"
done
