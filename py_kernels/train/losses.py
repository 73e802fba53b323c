"""Reconstruction and adversarial losses of the published GPSToken training.

The generator loss is ``pixel + perceptual_weight * LPIPS + d_weight * disc_factor * g_loss +
feature loss``. ``d_weight`` balances the adversarial term against the reconstruction term by
their gradient norms at the decoder's last layer (the taming-transformers VQGAN rule), scaled
by ``disc_weight``. The discriminator minimises the hinge (or vanilla) loss on real images and
detached reconstructions.
"""
import torch
import torch.nn.functional as F


def pixel_loss(reconstruction: torch.Tensor, image: torch.Tensor, kind: str) -> torch.Tensor:
    """Mean squared error (the published loss) or mean absolute error, both [B, 3, H, W] in [-1, 1]."""
    difference = reconstruction - image
    if kind == "mse":
        return difference.pow(2).mean()
    return difference.abs().mean()


def hinge_d_loss(logits_real: torch.Tensor, logits_fake: torch.Tensor) -> torch.Tensor:
    return 0.5 * (F.relu(1.0 - logits_real).mean() + F.relu(1.0 + logits_fake).mean())


def vanilla_d_loss(logits_real: torch.Tensor, logits_fake: torch.Tensor) -> torch.Tensor:
    return 0.5 * (F.softplus(-logits_real).mean() + F.softplus(logits_fake).mean())


D_LOSSES = {"hinge": hinge_d_loss, "vanilla": vanilla_d_loss}


def generator_adversarial_loss(logits_fake: torch.Tensor) -> torch.Tensor:
    return -logits_fake.mean()


def adaptive_gan_weight(nll_loss: torch.Tensor, g_loss: torch.Tensor, last_layer: torch.Tensor,
                        disc_weight: float) -> torch.Tensor:
    """``disc_weight * |grad nll| / (|grad g| + 1e-4)`` at ``last_layer``, clamped to [0, 1e4], detached."""
    nll_grad = torch.autograd.grad(nll_loss, last_layer, retain_graph=True)[0]
    g_grad = torch.autograd.grad(g_loss, last_layer, retain_graph=True)[0]
    weight = torch.norm(nll_grad) / (torch.norm(g_grad) + 1e-4)
    return torch.clamp(weight, 0.0, 1e4).detach() * disc_weight


def adopt_weight(value: float, step: int, start: int) -> float:
    """``value`` from optimiser step ``start`` on, 0 before it."""
    return value if step >= start else 0.0
