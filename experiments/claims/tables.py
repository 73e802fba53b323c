"""Print the claim sweeps' summary.csv files as Markdown tables (mean +- sample std over seeds).

    /usr/bin/python3 experiments/claims/tables.py > results/claims/tables.md

Reads results/claims/{init,init-long,tokens,refine}/summary.csv. A sweep that has not run yet is
skipped with a note. PSNR is in dB, SWD is the sliced Wasserstein distance times 1e3
(lower is better).
"""
import csv
import os
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "results", "claims")
METRICS = [("psnr", "PSNR (dB)", 2), ("ssim", "SSIM", 4), ("swd", "SWD x1e3", 1)]
SWEEPS = [
    ("init", "Entropy vs grid initialisation", ["tokens", "init"]),
    ("init-long", "Entropy vs grid initialisation, 500 training steps", ["tokens", "init"]),
    ("tokens", "Tokens at inference (model trained with 32)", ["test_tokens"]),
    ("refine", "Refinement at training / inference (32 tokens)", ["variant"]),
]


def cell(row, metric, digits):
    mean, std = row.get(f"{metric}_mean", ""), row.get(f"{metric}_std", "")
    if mean == "":
        return "n/a"
    text = f"{float(mean):.{digits}f}"
    return text + (f" ± {float(std):.{digits}f}" if std != "" else "")


def main() -> int:
    for folder, title, params in SWEEPS:
        path = os.path.join(ROOT, folder, "summary.csv")
        print(f"### {title}\n")
        if not os.path.exists(path):
            print(f"({path} missing: the sweep has not run)\n")
            continue
        with open(path, newline="") as handle:
            rows = list(csv.DictReader(handle))
        header = params + ["seeds done"] + [label for _, label, _ in METRICS]
        print("| " + " | ".join(header) + " |")
        print("|" + "|".join("---" for _ in header) + "|")
        for row in rows:
            values = [row[p] for p in params] + [f"{row['done']}/{row['trials']}"]
            values += [cell(row, metric, digits) for metric, _, digits in METRICS]
            print("| " + " | ".join(values) + " |")
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
