"""ODE and SDE integrators in forward time, written for batched tensors.

A drift is a callable ``drift(x, t) -> dx/dt`` with ``x`` [B, ...] and ``t`` [B]. Every
integrator returns ``(x_final, stats)`` where ``stats["nfe"]`` counts drift evaluations.
"""
import math

import torch


def _times(t, x):
    return torch.full((x.shape[0],), float(t), device=x.device, dtype=x.dtype)


def euler(drift, x, grid):
    """Explicit Euler on the time grid ``grid`` (a 1-D sequence, increasing)."""
    nfe = 0
    for t_now, t_next in zip(grid[:-1], grid[1:]):
        x = x + (t_next - t_now) * drift(x, _times(t_now, x))
        nfe += 1
    return x, {"nfe": nfe, "steps": len(grid) - 1}


def heun(drift, x, grid):
    """Heun's second-order method (explicit trapezoid) on ``grid``."""
    nfe = 0
    for t_now, t_next in zip(grid[:-1], grid[1:]):
        dt = t_next - t_now
        k1 = drift(x, _times(t_now, x))
        k2 = drift(x + dt * k1, _times(t_next, x))
        x = x + 0.5 * dt * (k1 + k2)
        nfe += 2
    return x, {"nfe": nfe, "steps": len(grid) - 1}


# Dormand-Prince 5(4) tableau (Dormand and Prince, 1980). _B5 gives the 5th-order solution
# that is propagated; _B5 - _B4 gives the embedded error estimate.
_C = (0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0)
_A = (
    (),
    (1 / 5,),
    (3 / 40, 9 / 40),
    (44 / 45, -56 / 15, 32 / 9),
    (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
    (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656),
    (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84),
)
_B5 = (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0.0)
_B4 = (5179 / 57600, 0.0, 7571 / 16695, 393 / 640, -92097 / 339200, 187 / 2100, 1 / 40)
_E = tuple(b5 - b4 for b5, b4 in zip(_B5, _B4))


class StepLimitError(RuntimeError):
    """The adaptive solver needed more steps than allowed."""


def _error_norm(error, y0, y1, atol, rtol):
    # RMS of the error scaled by the mixed tolerance (Hairer, Norsett and Wanner, II.4).
    scale = atol + rtol * torch.maximum(y0.abs(), y1.abs())
    return float(torch.sqrt(torch.mean((error / scale) ** 2)))


def _initial_step(drift, x, t0, t1, f0, atol, rtol):
    # Hairer's starting-step heuristic for a method of order 5.
    scale = atol + rtol * x.abs()
    d0 = float(torch.sqrt(torch.mean((x / scale) ** 2)))
    d1 = float(torch.sqrt(torch.mean((f0 / scale) ** 2)))
    h0 = 1e-6 if d0 < 1e-5 or d1 < 1e-5 else 0.01 * d0 / d1
    h0 = min(h0, abs(t1 - t0))
    f1 = drift(x + h0 * f0, _times(t0 + h0, x))
    d2 = float(torch.sqrt(torch.mean(((f1 - f0) / scale) ** 2))) / h0
    h1 = max(1e-6, h0 * 1e-3) if max(d1, d2) <= 1e-15 else (0.01 / max(d1, d2)) ** (1 / 5)
    return min(100 * h0, h1, abs(t1 - t0))


def dopri5(drift, x, t0, t1, *, atol=1e-6, rtol=1e-3, max_steps=1000, safety=0.9, first_step=None):
    """Adaptive Dormand-Prince 5(4) from t0 to t1 (t1 > t0), with step-size control.

    A step is accepted when the scaled RMS error is at most 1; the next step size is
    ``h * clamp(safety * err^(-1/5), 0.2, 10)`` (no growth right after a rejection). The
    last stage is reused as the first of the next step (FSAL). Raises StepLimitError after
    ``max_steps`` attempted steps.
    """
    if not t1 > t0:
        raise ValueError(f"dopri5 integrates forward in time; got t0={t0}, t1={t1}")
    t = float(t0)
    f = drift(x, _times(t, x))
    nfe = 1
    h = first_step if first_step is not None else _initial_step(drift, x, t, t1, f, atol, rtol)
    if first_step is None:
        nfe += 1
    accepted = rejected = 0
    last_rejected = False
    while t1 - t > 1e-12 * max(1.0, abs(t1)):
        if accepted + rejected >= max_steps:
            raise StepLimitError(
                f"dopri5 reached max_steps={max_steps} at t={t:.6f} (of {t1}); raise max_steps or loosen atol/rtol"
            )
        h = min(h, t1 - t)
        stages = [f]
        for i in range(1, 7):
            xi = x + h * sum(a * k for a, k in zip(_A[i], stages) if a != 0.0)
            stages.append(drift(xi, _times(t + _C[i] * h, x)))
        nfe += 6
        x_new = xi  # the 7th stage point equals the 5th-order solution (row 7 of A is _B5)
        error = h * sum(e * k for e, k in zip(_E, stages) if e != 0.0)
        norm = _error_norm(error, x, x_new, atol, rtol)
        if not math.isfinite(norm):
            raise FloatingPointError(f"dopri5 produced a non-finite error estimate at t={t:.6f}")
        if norm <= 1.0:
            t += h
            x, f = x_new, stages[6]
            accepted += 1
            factor = 10.0 if norm == 0 else min(10.0, max(0.2, safety * norm ** -0.2))
            if last_rejected:
                factor = min(1.0, factor)
            last_rejected = False
        else:
            rejected += 1
            factor = max(0.2, safety * norm ** -0.2)
            last_rejected = True
        h = h * factor
    return x, {"nfe": nfe, "steps": accepted, "rejected": rejected}


def gaussian_like(x, generator=None):
    """Standard normal noise shaped like x, drawn on the generator's device then moved to x's."""
    device = generator.device if generator is not None else x.device
    return torch.randn(x.shape, generator=generator, device=device, dtype=x.dtype).to(x.device)


def euler_maruyama(drift, diffusion, x, grid, generator=None):
    """Euler-Maruyama for ``dx = drift dt + sqrt(2 w(t)) dW`` on ``grid``; w = ``diffusion(x, t)``.

    The noise is drawn from ``generator`` so a fixed seed reproduces the path.
    """
    nfe = 0
    for t_now, t_next in zip(grid[:-1], grid[1:]):
        dt = t_next - t_now
        tt = _times(t_now, x)
        noise = gaussian_like(x, generator)
        x = x + drift(x, tt) * dt + torch.sqrt(2 * diffusion(x, tt)) * math.sqrt(dt) * noise
        nfe += 1
    return x, {"nfe": nfe, "steps": len(grid) - 1}
