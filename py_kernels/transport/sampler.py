"""Sampling from noise (t = 0) to data (t = 1) with a velocity field, ODE or SDE.

Defaults follow SiT as the published GPSToken generator runs it:

- ODE: adaptive Dormand-Prince with atol 1e-6, rtol 1e-3 from t = 0 to 1; Euler and Heun
  use ``steps`` equal intervals.
- SDE: Euler-Maruyama for ``dx = (v + w score) dt + sqrt(2 w) dW`` with SiT's "SBDM"
  diffusion ``w(t) = (1 - t) / t``, on a grid of ``steps`` points from t = 1e-3 (w diverges
  at 0) to ``1 - last_step_size``, followed by one deterministic step of size
  ``last_step_size`` (0.04) with the same drift and no noise, SiT's "Mean" last step.
  ``steps`` is then the number of drift evaluations, 250 in the published run.
"""
import dataclasses
from dataclasses import dataclass

import torch

from . import integrators, path

SAMPLERS = ("ode", "sde")
ODE_METHODS = ("euler", "heun", "dopri5")
SDE_METHODS = ("euler",)


@dataclass(frozen=True)
class SamplerOptions:
    sampler: str = "sde"
    method: str = "euler"  # ODE: euler | heun | dopri5; SDE: euler (Euler-Maruyama)
    steps: int = 250
    atol: float = 1e-6
    rtol: float = 1e-3
    max_steps: int = 1000  # dopri5 attempted-step limit
    sde_t0: float = 1e-3
    last_step_size: float = 0.04
    diffusion_norm: float = 1.0

    def __post_init__(self):
        if self.sampler not in SAMPLERS:
            raise ValueError(f"sampler must be one of {SAMPLERS}, got {self.sampler!r}")
        methods = ODE_METHODS if self.sampler == "ode" else SDE_METHODS
        if self.method not in methods:
            raise ValueError(f"{self.sampler} sampler supports methods {methods}, got {self.method!r}")
        if self.steps < 2 and not (self.sampler == "ode" and self.method == "dopri5"):
            raise ValueError(f"steps must be at least 2, got {self.steps}")
        if not 0 <= self.last_step_size < 1 - self.sde_t0:
            raise ValueError(f"last_step_size must be in [0, {1 - self.sde_t0}), got {self.last_step_size}")

    def to_dict(self):
        return dataclasses.asdict(self)


def sde_drift(velocity_fn, norm):
    """Drift ``v + w(t) score`` of SiT's SDE, from a velocity function ``v(x, t)``."""

    def drift(x, t):
        v = velocity_fn(x, t)
        return v + path.sbdm_diffusion(t, x, norm) * path.score_from_velocity(v, x, t)

    return drift


def sample_ode(velocity_fn, x0, options):
    if options.method == "dopri5":
        return integrators.dopri5(
            velocity_fn, x0, 0.0, 1.0, atol=options.atol, rtol=options.rtol, max_steps=options.max_steps
        )
    grid = torch.linspace(0.0, 1.0, options.steps + 1, dtype=torch.float64).tolist()
    step = integrators.euler if options.method == "euler" else integrators.heun
    return step(velocity_fn, x0, grid)


def sample_sde(velocity_fn, x0, options, generator=None):
    drift = sde_drift(velocity_fn, options.diffusion_norm)
    t1 = 1.0 - options.last_step_size
    points = options.steps if options.last_step_size > 0 else options.steps + 1
    grid = torch.linspace(options.sde_t0, t1, points, dtype=torch.float64).tolist()
    diffusion = lambda x, t: path.sbdm_diffusion(t, x, options.diffusion_norm)  # noqa: E731
    x, stats = integrators.euler_maruyama(drift, diffusion, x0, grid, generator)
    if options.last_step_size > 0:
        t = torch.full((x.shape[0],), t1, device=x.device, dtype=x.dtype)
        x = x + drift(x, t) * options.last_step_size
        stats = {"nfe": stats["nfe"] + 1, "steps": stats["steps"] + 1}
    return x, stats


def sample(velocity_fn, x0, options, generator=None):
    """Integrate from noise ``x0`` at t = 0 to t = 1; returns ``(x1, stats)``."""
    if options.sampler == "ode":
        return sample_ode(velocity_fn, x0, options)
    return sample_sde(velocity_fn, x0, options, generator)
