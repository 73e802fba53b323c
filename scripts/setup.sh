#!/usr/bin/env bash
# Install what gpstoken needs, quickly when everything is already there:
# Debian packages for the PyTorch backend (when run as root on Debian), then npm packages.
set -euo pipefail
cd "$(dirname "$0")/.."

# libtorch-dev, python3-dev, g++ and ninja-build build the C++ splatting extension; without
# them the backend falls back to the slower pure-torch renderer.
DEBIAN_PACKAGES=(python3-torch python3-torchvision python3-numpy python3-scipy python3-pil
  python3-pytest python3-skimage python3-yaml libtorch-dev python3-dev g++ ninja-build)

missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for package in "${DEBIAN_PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
    [[ "$status" == "install ok installed" ]] || missing+=("$package")
  done
fi

if ((${#missing[@]})); then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing Debian packages: ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  elif [[ -z "${GPSTOKEN_PYTHON:-}" ]]; then
    echo "setup: missing Debian packages: ${missing[*]}" >&2
    echo "setup: install them (sudo apt-get install ${missing[*]}), or set GPSTOKEN_PYTHON to a" >&2
    echo "setup: Python with torch, torchvision, numpy, scipy, pillow, scikit-image, pyyaml and pytest." >&2
    exit 1
  fi
fi

# npm ci only when package-lock.json changed since the last install.
stamp=node_modules/.gpstoken-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  echo "setup: npm ci" >&2
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" >"$stamp"
fi
