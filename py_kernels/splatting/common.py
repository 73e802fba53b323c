"""Input checks and the pixel grid shared by every splatting implementation.

Legend: B batch, N Gaussians (tokens) per image, C channels, H x W the rendered map.
"""
import torch


def check_inputs(sigmas, coords, colors, height, width, support):
    """Raise ValueError naming the argument when the inputs do not describe a batch of Gaussians."""
    if sigmas.dim() != 3 or sigmas.shape[-1] != 3:
        raise ValueError(
            f"sigmas must be [B, N, 3] rows (sigma_x, sigma_y, rho); got shape {list(sigmas.shape)}"
        )
    batch, count = sigmas.shape[:2]
    if coords.shape != (batch, count, 2):
        raise ValueError(
            f"coords must be [B, N, 2] = [{batch}, {count}, 2] rows (x, y) to match sigmas; "
            f"got shape {list(coords.shape)}"
        )
    if colors.dim() != 3 or colors.shape[:2] != (batch, count):
        raise ValueError(
            f"colors must be [B, N, C] with B, N = {batch}, {count} to match sigmas; "
            f"got shape {list(colors.shape)}"
        )
    if not (sigmas.dtype == coords.dtype == colors.dtype) or not sigmas.is_floating_point():
        raise ValueError(
            "sigmas, coords and colors must share one floating-point dtype; got "
            f"{sigmas.dtype}, {coords.dtype}, {colors.dtype}"
        )
    if not (sigmas.device == coords.device == colors.device):
        raise ValueError(
            f"sigmas, coords and colors must be on one device; got {sigmas.device}, "
            f"{coords.device}, {colors.device}"
        )
    for name, value in (("height", height), ("width", width)):
        if int(value) != value or value < 2:
            raise ValueError(f"{name} must be an integer of at least 2 (the grid spans [-1, 1]); got {value}")
    if not support > 0:
        raise ValueError(f"support factor must be positive; got {support}")


def pixel_axis(size, dtype, device):
    """Return the [size] pixel positions on [-1, 1]: position k is 2 k / (size - 1) - 1.

    The published CUDA kernel evaluates this in double precision and rounds once to float32;
    doing the same keeps the inclusive support test bit-identical at the boundary.
    """
    axis = torch.arange(size, dtype=torch.float64, device=device) * 2.0 / (size - 1) - 1.0
    return axis.to(dtype)
