"""Differentiable Gaussian splatting: draw each token's 2D Gaussian, times its texture, on a map.

``splat(sigmas, coords, colors, height, width, support=3.0)`` returns [B, C, H, W] for
``sigmas`` [B, N, 3] rows (sigma_x, sigma_y, rho), ``coords`` [B, N, 2] rows (x, y) in [-1, 1]
and ``colors`` [B, N, C].
"""
from .dense import splat_dense


def splat(sigmas, coords, colors, height, width, support=3.0):
    """Render the Gaussians to a [B, C, H, W] map; see :func:`splat_dense` for the formula."""
    return splat_dense(sigmas, coords, colors, height, width, support)


__all__ = ["splat", "splat_dense"]
