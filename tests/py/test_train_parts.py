"""Trainer building blocks: discriminator layout, EMA schedule, losses, checkpoints' RNG states."""
import random

import numpy as np
import pytest
import torch

from py_kernels.train import checkpoint as ckpt
from py_kernels.train.discriminator import NLayerDiscriminator
from py_kernels.train.ema import EMA
from py_kernels.train.losses import adaptive_gan_weight, adopt_weight, hinge_d_loss, pixel_loss, vanilla_d_loss
from py_kernels.train.perceptual import InceptionFeatureLoss, LPIPSLoss


def test_discriminator_matches_published_layout():
    disc = NLayerDiscriminator(3, 64, 3, "batch")
    # conv 3->64 (+bias), 64->128, 128->256, 256->512 (4x4, no bias) with BatchNorm, 512->1 (+bias)
    expected = (3 * 64 * 16 + 64) + 64 * 128 * 16 + 2 * 128 + 128 * 256 * 16 + 2 * 256 + 256 * 512 * 16 + 2 * 512 + (512 * 16 + 1)
    assert sum(p.numel() for p in disc.parameters()) == expected == 2_765_633
    assert disc(torch.zeros(2, 3, 64, 64)).shape == (2, 1, 6, 6)
    convs = [m for m in disc.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.stride[0], c.bias is not None) for c in convs] == [
        (3, 64, 2, True), (64, 128, 2, False), (128, 256, 2, False), (256, 512, 1, False), (512, 1, 1, True)]


def test_discriminator_without_norm_has_biases():
    disc = NLayerDiscriminator(3, 8, 2, "none")
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in disc.modules())
    assert all(m.bias is not None for m in disc.modules() if isinstance(m, torch.nn.Conv2d))


EMA_DECAYS = [(0, 0.0), (101, 0.0), (102, 1 - 2 ** (-2 / 3)), (10_000_000, 0.9999)]


@pytest.mark.parametrize("step, decay", EMA_DECAYS)
def test_ema_decay_schedule(step, decay):
    ema = EMA(torch.nn.Linear(1, 1))
    assert ema.decay(step) == pytest.approx(decay, abs=1e-12)


def test_ema_copies_then_averages():
    model = torch.nn.Linear(1, 1, bias=False)
    ema = EMA(model, beta=0.5, update_after_step=1, update_every=1, power=1.0)
    with torch.no_grad():
        model.weight.fill_(2.0)
    ema.update(model)  # update 0: copy phase
    assert ema.model.weight.item() == 2.0
    ema.update(model)  # update 1: still copying (step <= update_after_step)
    with torch.no_grad():
        model.weight.fill_(4.0)
    ema.update(model)  # update 2: k = 0, decay 0 -> takes the weights
    assert ema.model.weight.item() == 4.0
    with torch.no_grad():
        model.weight.fill_(0.0)
    ema.update(model)  # update 3: k = 1, decay min(1 - 2^-1, 0.5) = 0.5
    assert ema.model.weight.item() == 2.0


def test_gan_losses_known_values():
    real = torch.tensor([2.0, 0.0])
    fake = torch.tensor([-2.0, 0.5])
    assert hinge_d_loss(real, fake).item() == pytest.approx(0.5 * (0.5 + 0.75))
    assert vanilla_d_loss(torch.zeros(1), torch.zeros(1)).item() == pytest.approx(np.log(2))
    assert adopt_weight(1.0, 9, 10) == 0.0
    assert adopt_weight(1.0, 10, 10) == 1.0


def test_pixel_loss_kinds():
    a = torch.zeros(1, 3, 2, 2)
    b = torch.full((1, 3, 2, 2), 0.5)
    assert pixel_loss(b, a, "mse").item() == 0.25
    assert pixel_loss(b, a, "l1").item() == 0.5


def test_adaptive_weight_ratio_of_gradient_norms():
    layer = torch.nn.Parameter(torch.tensor([1.0, 2.0]))
    nll = (3 * layer).sum()  # gradient norm 3 * sqrt(2)
    g = (layer * torch.tensor([1.0, 0.0])).sum()  # gradient norm 1
    weight = adaptive_gan_weight(nll, g, layer, disc_weight=0.3)
    assert weight.item() == pytest.approx(0.3 * 3 * 2 ** 0.5 / (1 + 1e-4))
    assert not weight.requires_grad


def test_perceptual_losses_pass_gradients_to_the_reconstruction_only():
    from py_kernels.metrics.inception import FIDInceptionV3
    from py_kernels.metrics.lpips import LPIPS

    torch.manual_seed(0)
    image = torch.rand(1, 3, 32, 32) * 2 - 1
    lpips = LPIPS()
    for lin in lpips.lins.parameters():
        lin.data.abs_()  # real LPIPS weights are non-negative, random ones need not be
    for loss in (LPIPSLoss(lpips), InceptionFeatureLoss(FIDInceptionV3())):
        recon = (image + 0.1 * torch.randn_like(image)).requires_grad_(True)
        value = loss(recon, image)
        value.backward()
        assert value.item() > 0
        assert recon.grad is not None and recon.grad.abs().sum() > 0
        assert all(p.grad is None and not p.requires_grad for p in loss.parameters())
        assert loss(image, image).item() == pytest.approx(0.0, abs=1e-6)


def test_rng_state_round_trip():
    random.seed(1)
    np.random.seed(2)
    torch.manual_seed(3)
    state = ckpt.capture_rng(torch.device("cpu"))
    expected = (random.random(), np.random.rand(), torch.rand(1).item())
    random.seed(9)
    np.random.seed(9)
    torch.manual_seed(9)
    ckpt.restore_rng(state, torch.device("cpu"))
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == expected
