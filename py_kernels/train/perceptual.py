"""Optional perceptual losses that need pretrained weights: LPIPS (VGG16) and Inception features.

Nothing is downloaded. The launcher passes the paths that ``ts/util/weights.ts`` found, and a
loss whose weight file is missing is turned off with one log line. Both networks come from
:mod:`py_kernels.metrics` and stay frozen; gradients flow only into the reconstruction.
"""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn


class LPIPSLoss(nn.Module):
    """Mean LPIPS v0.1 (VGG16) distance between reconstruction and image, both in [-1, 1]."""

    def __init__(self, network: nn.Module):
        super().__init__()
        self.network = network.eval().requires_grad_(False)

    def forward(self, reconstruction: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        return self.network(image, reconstruction).mean()


class InceptionFeatureLoss(nn.Module):
    """MSE between the 2048-d pool features of reconstruction and image (the published ``fid`` loss).

    The published loss feeds ``255 * (x + 1)`` to a network that computes ``(v - 128) / 128``,
    so [-1, 1] images reach the network as [-1, 2.98] rather than [-1, 1]. That scaling is kept:
    the FID network here maps ``u`` in [0, 1] to ``2u - 1``, so it receives ``u = 255 (x + 1) / 256``.
    """

    def __init__(self, network: nn.Module):
        super().__init__()
        self.network = network.eval().requires_grad_(False)

    def forward(self, reconstruction: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        both = torch.cat([reconstruction, image]) * (255.0 / 256.0) + 255.0 / 256.0  # [2B, 3, H, W]
        features = self.network(both)["pool3"]  # [2B, 2048]
        fake, real = features.chunk(2)
        return F.mse_loss(fake, real)


def build_lpips(vgg_path: Optional[str], lin_path: Optional[str], weight: float, device, log) -> Optional[nn.Module]:
    if weight <= 0:
        return None
    if not vgg_path or not lin_path:
        missing = " and ".join(n for n, p in (("vgg16-397923af.pth", vgg_path), ("vgg.pth", lin_path)) if not p)
        log(f"LPIPS loss off: {missing} not found (set GPSTOKEN_VGG16_WEIGHTS / GPSTOKEN_LPIPS_WEIGHTS; "
            "`gpstoken doctor` lists the search paths)")
        return None
    from py_kernels.metrics.lpips import load_lpips

    network, _ = load_lpips(vgg_path, lin_path, device=device)
    return LPIPSLoss(network)


def build_feature_loss(fid_path: Optional[str], target: str, weight: float, device, log) -> Optional[nn.Module]:
    if target == "none" or weight <= 0:
        return None
    if not fid_path:
        log("Inception-feature loss off: pt_inception-2015-12-05-6726825d.pth not found "
            "(set GPSTOKEN_FID_WEIGHTS; `gpstoken doctor` lists the search paths)")
        return None
    from py_kernels.metrics.inception import load_fid_inception

    network, _ = load_fid_inception(fid_path, device=device)
    return InceptionFeatureLoss(network)
