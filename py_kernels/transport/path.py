"""The linear interpolant of SiT (its ``ICPlan``) and the quantities derived from it.

Convention (SiT's): ``x0`` is Gaussian noise, ``x1`` is data, and
``x_t = alpha_t x1 + sigma_t x0`` with ``alpha_t = t`` and ``sigma_t = 1 - t``, so time runs
from noise at t = 0 to data at t = 1 and samplers integrate forward in t. The model
predicts the velocity ``u_t = dx_t/dt = x1 - x0``.
"""
import torch


def expand_like(t, x):
    # t [B] -> [B, 1, ..., 1] broadcastable against x [B, ...]
    return t.reshape(-1, *([1] * (x.dim() - 1)))


def alpha(t):
    return t


def sigma(t):
    return 1 - t


def plan(t, x0, x1):
    """Return ``(x_t, u_t)`` for times t [B], noise x0 and data x1 [B, ...]."""
    te = expand_like(t, x1)
    xt = te * x1 + (1 - te) * x0
    ut = x1 - x0
    return xt, ut


def score_from_velocity(velocity, x, t):
    """Score of p_t from the velocity: ``(t v - x) / (1 - t)`` for the linear path.

    From SiT's general form ``(alpha/alpha' v - x) / (sigma^2 - alpha/alpha' sigma' sigma)``
    with alpha = t, sigma = 1 - t; the denominator is 1 - t. Undefined at t = 1.
    """
    te = expand_like(t, x)
    return (te * velocity - x) / (1 - te)


def sbdm_diffusion(t, x, norm=1.0):
    """SiT's default ("SBDM") diffusion coefficient ``w(t) = norm * (1 - t) / t``.

    It is ``alpha'/alpha sigma^2 - sigma sigma'`` for the linear path, the choice under
    which the SDE ``dx = (v + w * score) dt + sqrt(2 w) dW`` reverses the forward
    noising process; it diverges at t = 0, so SDE sampling starts at t = 1e-3.
    """
    te = expand_like(t, x)
    return norm * (1 - te) / te
