"""Valid ranges of a token's Gaussian ``(sigma_x, sigma_y, rho, x, y)`` and the clamp into them."""
import torch

# The published generator clamps to these bounds before decoding.
SIGMA_MIN, SIGMA_MAX = 1e-5, 1 - 1e-5
RHO_LIMIT = 1 - 1e-5


def clamp_gaussians(gaussians, clamp_centers=False):
    """Clamp ``[..., 5]`` Gaussians: sigmas into [1e-5, 1 - 1e-5], rho into +-(1 - 1e-5).

    With ``clamp_centers`` the centres x, y are clamped into [-1, 1] as well; the published
    post-processing leaves them free, so a Gaussian may sit just outside the image.
    """
    sigmas = gaussians[..., 0:2].clamp(SIGMA_MIN, SIGMA_MAX)
    rho = gaussians[..., 2:3].clamp(-RHO_LIMIT, RHO_LIMIT)
    centers = gaussians[..., 3:5].clamp(-1.0, 1.0) if clamp_centers else gaussians[..., 3:5]
    return torch.cat([sigmas, rho, centers], dim=-1)
