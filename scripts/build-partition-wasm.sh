#!/usr/bin/env bash
# Rebuilds ts/partition/wasm/kernel.wasm from kernel.c. Needs clang and lld with the wasm32
# target (Debian: apt-get install clang lld). The built file is committed, so users only run
# this after changing kernel.c; the partition tests compare it with the asm.js kernel.
set -euo pipefail
cd "$(dirname "$0")/../ts/partition/wasm"
clang --target=wasm32 -O3 -msimd128 -mbulk-memory -mnontrapping-fptoint \
  -ffp-contract=off -fno-builtin -nostdlib \
  -Wall -Wextra -Werror \
  -Wl,--no-entry -Wl,--strip-all -Wl,--initial-memory=1048576 \
  -o kernel.wasm kernel.c
echo "wrote ts/partition/wasm/kernel.wasm ($(stat -c %s kernel.wasm) bytes)"
