"""Reference splatting: every Gaussian evaluated at every pixel, differentiated by autograd.

It keeps a [B, N, H, W] weight tensor alive for backward, so it is meant for tests and as the
ground truth of the fast implementations, not for training.
"""
import torch

from .common import check_inputs, pixel_axis


def splat_dense(sigmas, coords, colors, height, width, support=3.0):
    """Render [B, N] Gaussians into a [B, C, H, W] map (dense autograd version).

    Pixel (i, j) sits at x = 2 j / (W - 1) - 1, y = 2 i / (H - 1) - 1. A Gaussian with
    (sigma_x, sigma_y, rho) centred at (x, y) adds exp(-q / (2 (1 - rho^2))) * color with
    q = (dx/sigma_x)^2 - 2 rho (dx/sigma_x)(dy/sigma_y) + (dy/sigma_y)^2, only where
    |dx| <= support * sigma_x and |dy| <= support * sigma_y. No normalisation is applied.
    """
    check_inputs(sigmas, coords, colors, height, width, support)
    xs = pixel_axis(width, sigmas.dtype, sigmas.device)  # [W]
    ys = pixel_axis(height, sigmas.dtype, sigmas.device)  # [H]

    sigma_x = sigmas[..., 0, None, None]  # [B, N, 1, 1]
    sigma_y = sigmas[..., 1, None, None]
    rho = sigmas[..., 2, None, None]
    dx = xs.view(1, 1, 1, width) - coords[..., 0, None, None]  # [B, N, 1, W]
    dy = ys.view(1, 1, height, 1) - coords[..., 1, None, None]  # [B, N, H, 1]

    # Inclusive bound, as in the published kernel (it skips only where |d| > support * sigma).
    inside = (dx.abs() <= support * sigma_x) & (dy.abs() <= support * sigma_y)  # [B, N, H, W]
    # Offsets outside the support are zeroed before dividing: with a tiny sigma, q could reach
    # inf - inf there, and the NaN would leak into backward through the masked branch.
    zero = torch.zeros((), dtype=dx.dtype, device=dx.device)
    ux = torch.where(inside, dx, zero) / sigma_x  # [B, N, H, W]
    uy = torch.where(inside, dy, zero) / sigma_y
    q = ux * ux - 2.0 * rho * ux * uy + uy * uy  # [B, N, H, W]
    weight = torch.exp(-0.5 * q / (1.0 - rho * rho))
    weight = torch.where(inside, weight, torch.zeros_like(weight))  # [B, N, H, W]

    return torch.einsum("bnhw,bnc->bchw", weight, colors)  # [B, C, H, W]
