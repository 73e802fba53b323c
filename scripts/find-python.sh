#!/usr/bin/env bash
# Print the interpreter the backend uses: GPSTOKEN_PYTHON, else the first that imports torch.
if [[ -n "${GPSTOKEN_PYTHON:-}" ]]; then echo "$GPSTOKEN_PYTHON"; exit 0; fi
for candidate in python3 /usr/bin/python3; do
  if "$candidate" -c 'import torch, numpy' >/dev/null 2>&1; then command -v "$candidate"; exit 0; fi
done
echo python3
