"""Differentiable Gaussian splatting: draw each token's 2D Gaussian, times its texture, on a map.

``splat(sigmas, coords, colors, height, width, support=3.0)`` returns [B, C, H, W] for
``sigmas`` [B, N, 3] rows (sigma_x, sigma_y, rho), ``coords`` [B, N, 2] rows (x, y) in [-1, 1]
and ``colors`` [B, N, C]. Pixel (i, j) sits at x = 2 j / (W - 1) - 1, y = 2 i / (H - 1) - 1.

Implementations, all with the same result (they match the published renderer's outputs and
gradients to about 1e-6 relative in float32):

- ``cpp``: C++ CPU kernels that visit only each Gaussian's support box (default on CPU).
- ``torch``: pure-torch tiled version, CPU or CUDA (default on CUDA, and on CPU when the
  C++ extension cannot be built).
- ``dense``: every Gaussian at every pixel through autograd; slow, the ground truth in tests.

``GPSTOKEN_SPLAT=dense|torch|cpp`` or the ``implementation`` argument forces one.
"""
import os

import torch

from .common import check_inputs
from .cpp import load_extension, splat_cpp
from .dense import splat_dense
from .tiled import splat_tiled

IMPLEMENTATIONS = ("dense", "torch", "cpp")
ENVIRONMENT_VARIABLE = "GPSTOKEN_SPLAT"


def resolve_implementation(device, implementation=None):
    """Return the implementation name to use on ``device``: the argument, the environment, or auto."""
    source = "the implementation argument"
    if implementation is None:
        implementation = os.environ.get(ENVIRONMENT_VARIABLE) or None
        source = ENVIRONMENT_VARIABLE
    if implementation is None or implementation == "auto":
        if torch.device(device).type == "cpu" and load_extension() is not None:
            return "cpp"
        # NOTE: the tiled version has passed its tests on CPU only; on CUDA it runs the same torch
        # operations, and test_cuda_tiled_matches_golden checks it wherever a GPU is present.
        return "torch"
    if implementation not in IMPLEMENTATIONS:
        raise ValueError(
            f"{source} must be one of auto, {', '.join(IMPLEMENTATIONS)}; got {implementation!r}"
        )
    return implementation


def splat(sigmas, coords, colors, height, width, support=3.0, *, implementation=None):
    """Render the Gaussians to a [B, C, H, W] map.

    A Gaussian adds exp(-q / (2 (1 - rho^2))) * color with
    q = (dx/sigma_x)^2 - 2 rho (dx/sigma_x)(dy/sigma_y) + (dy/sigma_y)^2, only at pixels where
    |dx| <= support * sigma_x and |dy| <= support * sigma_y; there is no normalisation.
    float16 and bfloat16 inputs are rendered, and returned, in float32, as the published
    renderer does. The fast implementations support first-order gradients only.
    """
    check_inputs(sigmas, coords, colors, height, width, support)
    if sigmas.dtype in (torch.float16, torch.bfloat16):
        sigmas, coords, colors = sigmas.float(), coords.float(), colors.float()

    chosen = resolve_implementation(sigmas.device, implementation)
    if chosen == "cpp":
        return splat_cpp(sigmas, coords, colors, height, width, support)
    if chosen == "torch":
        return splat_tiled(sigmas, coords, colors, height, width, support)
    return splat_dense(sigmas, coords, colors, height, width, support)


__all__ = [
    "ENVIRONMENT_VARIABLE",
    "IMPLEMENTATIONS",
    "resolve_implementation",
    "splat",
    "splat_cpp",
    "splat_dense",
    "splat_tiled",
]
