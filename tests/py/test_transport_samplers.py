"""Samplers against a case with a known answer: Gaussian data on the linear path.

For data x1 ~ N(mu, s^2) and noise x0 ~ N(0, 1), x_t = t x1 + (1 - t) x0 is Gaussian and the
exact velocity field is E[x1 - x0 | x_t = x] = mu + (t s^2 - (1 - t)) / var_t * (x - t mu)
with var_t = t^2 s^2 + (1 - t)^2. Its ODE flow maps x0 to exactly mu + s x0, so ODE samples
can be checked one by one, and SDE samples by their mean and standard deviation.
"""
import math

import pytest
import torch

from py_kernels.transport import SamplerOptions, path, sample, training_losses
from py_kernels.transport.integrators import StepLimitError, dopri5

MU, S = 1.5, 0.4


def exact_velocity(x, t):
    te = path.expand_like(t, x).double()
    var = te**2 * S**2 + (1 - te) ** 2
    return (MU + (te * S**2 - (1 - te)) / var * (x - te * MU)).to(x.dtype)


def noise(n, seed=0):
    return torch.randn(n, 4, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def max_ode_error(method, steps, **extra):
    x0 = noise(256)
    x1, stats = sample(exact_velocity, x0, SamplerOptions(sampler="ode", method=method, steps=steps, **extra))
    return float((x1 - (MU + S * x0)).abs().max()), stats


def test_dopri5_matches_exact_flow():
    error, stats = max_ode_error("dopri5", 2, atol=1e-9, rtol=1e-7)
    assert error < 1e-6
    assert stats["nfe"] < 400


def test_dopri5_default_tolerance_error():
    # rtol 1e-3 bounds the local error per step; the global error stays of that order.
    error, stats = max_ode_error("dopri5", 2)
    assert error < 1e-2
    assert stats["steps"] >= 3


@pytest.mark.parametrize("method, steps, bound", [("euler", 100, 3e-2), ("heun", 50, 1e-3)])
def test_fixed_step_accuracy(method, steps, bound):
    error, stats = max_ode_error(method, steps)
    assert error < bound
    assert stats["steps"] == steps


@pytest.mark.parametrize("method, order", [("euler", 1), ("heun", 2)])
def test_fixed_step_convergence_order(method, order):
    coarse, _ = max_ode_error(method, 40)
    fine, _ = max_ode_error(method, 80)
    observed = math.log2(coarse / fine)
    assert abs(observed - order) < 0.3


def test_dopri5_step_limit_raises():
    with pytest.raises(StepLimitError, match=r"dopri5 reached max_steps=3 at t="):
        dopri5(exact_velocity, noise(8), 0.0, 1.0, atol=1e-12, rtol=1e-12, max_steps=3)


def test_sde_reproduces_target_moments():
    x0 = noise(20000, seed=1).reshape(-1, 1)
    generator = torch.Generator().manual_seed(7)
    x1, stats = sample(exact_velocity, x0, SamplerOptions(sampler="sde", method="euler", steps=250), generator)
    assert stats["nfe"] == 250
    # Sampling error of the mean is S / sqrt(n) = 0.003; of the std about 0.002.
    assert abs(float(x1.mean()) - MU) < 0.015
    assert abs(float(x1.std()) - S) < 0.015


def test_sde_seeded_noise_is_reproducible():
    options = SamplerOptions(sampler="sde", steps=20)
    first, _ = sample(exact_velocity, noise(8), options, torch.Generator().manual_seed(3))
    second, _ = sample(exact_velocity, noise(8), options, torch.Generator().manual_seed(3))
    third, _ = sample(exact_velocity, noise(8), options, torch.Generator().manual_seed(4))
    assert torch.equal(first, second)
    assert not torch.equal(first, third)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"sampler": "flow"}, "sampler must be one of ('ode', 'sde'), got 'flow'"),
        ({"sampler": "sde", "method": "dopri5"}, "sde sampler supports methods ('euler',), got 'dopri5'"),
        ({"sampler": "ode", "method": "rk4"}, "ode sampler supports methods ('euler', 'heun', 'dopri5'), got 'rk4'"),
        ({"sampler": "ode", "method": "euler", "steps": 1}, "steps must be at least 2, got 1"),
    ],
)
def test_sampler_options_reject(kwargs, message):
    with pytest.raises(ValueError) as error:
        SamplerOptions(**kwargs)
    assert str(error.value) == message


def test_plan_endpoints_and_velocity():
    x0, x1 = noise(3, seed=2), noise(3, seed=3)
    xt, ut = path.plan(torch.tensor([0.0, 1.0, 0.25], dtype=torch.float64), x0, x1)
    assert torch.equal(xt[0], x0[0])
    assert torch.equal(xt[1], x1[1])
    assert torch.allclose(xt[2], 0.25 * x1[2] + 0.75 * x0[2])
    assert torch.equal(ut, x1 - x0)


def test_score_from_exact_velocity_is_gaussian_score():
    x, t = noise(16), torch.full((16,), 0.3, dtype=torch.float64)
    var = 0.3**2 * S**2 + 0.7**2
    expected = -(x - 0.3 * MU) / var
    assert torch.allclose(path.score_from_velocity(exact_velocity(x, t), x, t), expected, atol=1e-12)


def test_training_loss_of_exact_field_is_conditional_variance():
    # E|u - E[u|x_t]|^2 averaged over t ~ U[0, 1]: integral of Var(u | x_t) = integral of
    # (s^2 + 1) - (t s^2 - (1 - t))^2 / var_t dt, evaluated numerically here.
    ts = torch.linspace(0, 1, 200001, dtype=torch.float64)
    var = ts**2 * S**2 + (1 - ts) ** 2
    expected = float(torch.trapz((S**2 + 1) - (ts * S**2 - (1 - ts)) ** 2 / var, ts))
    x1 = MU + S * noise(40000, seed=5)
    terms = training_losses(exact_velocity, x1, generator=torch.Generator().manual_seed(9))
    assert terms["loss"].shape == (40000,)
    assert abs(float(terms["loss"].mean()) - expected) < 0.02
