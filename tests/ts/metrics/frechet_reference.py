"""Reference Fréchet distances for the TypeScript tests, from matrices in a safetensors file.

Usage: frechet_reference.py FILE. For each case ``<name>.mu1 .sigma1 .mu2 .sigma2`` prints
JSON ``{name: {"scipy": d, "symmetric": d}}``: ``scipy`` is the pytorch-fid formula with
``scipy.linalg.sqrtm(sigma1 @ sigma2)`` (real part); ``symmetric`` takes the eigenvalues of
``A sigma2 A`` with ``A`` the eigen-decomposition square root of ``sigma1`` (LAPACK eigh).
"""
import json
import os
import sys

import numpy as np
from scipy import linalg

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))
from py_kernels.safetensors_io import load_numpy  # noqa: E402


def scipy_distance(mu1, s1, mu2, s2):
    covmean, _ = linalg.sqrtm(s1.dot(s2), disp=False)
    diff = mu1 - mu2
    return float(diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean.real))


def symmetric_distance(mu1, s1, mu2, s2):
    w, v = linalg.eigh(s1)
    root = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    eig = linalg.eigvalsh(root @ s2 @ root)
    diff = mu1 - mu2
    return float(diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * np.sqrt(np.clip(eig, 0, None)).sum())


def main(path):
    tensors, _ = load_numpy(path)
    names = sorted({key.rsplit(".", 1)[0] for key in tensors})
    out = {}
    for name in names:
        args = [tensors[f"{name}.{part}"] for part in ("mu1", "sigma1", "mu2", "sigma2")]
        out[name] = {"scipy": scipy_distance(*args), "symmetric": symmetric_distance(*args)}
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1])
