"""Compare entropy and grid initialisation image by image (claims-init sweep).

    /usr/bin/python3 experiments/claims/paired.py [SWEEP] > results/claims/SWEEP/paired.md

SWEEP is a folder under results/claims with the claims-init layout: init (default) or
init-long.

For each token count and seed, the script pairs the entropy trial's and the grid trial's
reconstructions of the same test crop. It reports the mean PSNR difference (entropy minus
grid, dB) and the share of crops where entropy is better. It reports both again for the
crops of low and of high detail: the mean gradient magnitude of the input below or above
its median over the test set. The entropy layout spends tokens on detailed regions, so it should help most there.
Per-image PSNR uses the eval convention: 8-bit RGB, data range 255.
"""
import csv
import os
import sys

import numpy as np
from PIL import Image

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "results", "claims", sys.argv[1] if len(sys.argv) > 1 else "init")


def load(path: str) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.float64)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a - b) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def detail(image: np.ndarray) -> float:
    grey = image.mean(axis=2)
    dy, dx = np.gradient(grey)
    return float(np.mean(np.hypot(dx, dy)))


def trial_psnrs(trial_id: str) -> dict:
    recon = os.path.join(ROOT, "trials", trial_id, "recon")
    names = sorted(os.listdir(os.path.join(recon, "imgs")))
    return {name: psnr(load(os.path.join(recon, "imgs", name)), load(os.path.join(recon, "gt", name))) for name in names}


def main() -> int:
    with open(os.path.join(ROOT, "results.csv"), newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row["status"] == "done"]
    trials = {(row["tokens"], row["init"], row["seed"]): row["trial_id"] for row in rows}

    details = None
    print("| tokens | seed | crops | PSNR entropy - grid (dB) | entropy better | low-detail half: diff, better | high-detail half: diff, better |")
    print("|---|---|---|---|---|---|---|")
    for tokens, seed in sorted({(t, s) for t, _, s in trials}, key=lambda key: (int(key[0]), int(key[1]))):
        entropy_id, grid_id = trials.get((tokens, "entropy", seed)), trials.get((tokens, "grid", seed))
        if entropy_id is None or grid_id is None:
            continue
        entropy, grid = trial_psnrs(entropy_id), trial_psnrs(grid_id)
        names = sorted(set(entropy) & set(grid))
        if details is None:
            gt = os.path.join(ROOT, "trials", entropy_id, "recon", "gt")
            details = {name: detail(load(os.path.join(gt, name))) for name in names}
        diff = np.array([entropy[name] - grid[name] for name in names])
        level = np.array([details[name] for name in names])
        high = level > np.median(level)
        cells = [f"{diff.mean():+.2f}", f"{np.mean(diff > 0):.0%}"]
        for mask in (~high, high):
            cells.append(f"{diff[mask].mean():+.2f}, {np.mean(diff[mask] > 0):.0%}")
        print(f"| {tokens} | {seed} | {len(names)} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
