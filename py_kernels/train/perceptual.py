"""Optional perceptual losses that need pretrained weights: LPIPS (VGG16) and Inception features.

Nothing is downloaded: the launcher passes the paths that ``ts/util/weights.ts`` found, and a
loss whose weight file is missing is turned off with one log line. LPIPS v0.1: inputs in
[-1, 1] are shifted and scaled per channel, VGG16 features are taken after relu1_2, relu2_2,
relu3_3, relu4_3 and relu5_3, unit-normalised over channels, and the squared differences are
weighted by the learned 1x1 layers, averaged over space and summed over layers.
"""
from typing import Optional

import torch
from torch import nn

# Slices of torchvision's vgg16().features ending at the five LPIPS taps.
_VGG_SLICES = ((0, 4), (4, 9), (9, 16), (16, 23), (23, 30))
_VGG_CHANNELS = (64, 128, 256, 512, 512)


class LPIPS(nn.Module):
    def __init__(self, vgg_path: str, lin_path: str):
        super().__init__()
        import torchvision

        vgg = torchvision.models.vgg16()
        vgg.load_state_dict(torch.load(vgg_path, map_location="cpu", weights_only=True))
        features = vgg.features
        self.slices = nn.ModuleList(nn.Sequential(*[features[i] for i in range(a, b)]) for a, b in _VGG_SLICES)
        self.lins = nn.ModuleList(nn.Conv2d(c, 1, 1, bias=False) for c in _VGG_CHANNELS)
        lin_state = torch.load(lin_path, map_location="cpu", weights_only=True)
        for index, lin in enumerate(self.lins):
            key = f"lin{index}.model.1.weight"
            if key not in lin_state:
                raise ValueError(f"{lin_path}: missing {key}; expected the LPIPS v0.1 VGG linear layers (vgg.pth)")
            lin.weight.data.copy_(lin_state[key])
        self.register_buffer("shift", torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1))
        self.requires_grad_(False).eval()

    def forward(self, reconstruction: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        a = (reconstruction - self.shift) / self.scale
        b = (image - self.shift) / self.scale
        total = 0.0
        for block, lin in zip(self.slices, self.lins):
            a, b = block(a), block(b)
            na = a / (a.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            nb = b / (b.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            total = total + lin((na - nb).pow(2)).mean(dim=(2, 3))
        return total.mean()


def build_lpips(vgg_path: Optional[str], lin_path: Optional[str], weight: float, log) -> Optional[nn.Module]:
    if weight <= 0:
        return None
    if not vgg_path or not lin_path:
        missing = " and ".join(n for n, p in (("vgg16-397923af.pth", vgg_path), ("vgg.pth", lin_path)) if not p)
        log(f"LPIPS loss off: {missing} not found (set GPSTOKEN_VGG16_WEIGHTS / GPSTOKEN_LPIPS_WEIGHTS; "
            "`gpstoken doctor` lists the search paths)")
        return None
    return LPIPS(vgg_path, lin_path)


def build_feature_loss(fid_path: Optional[str], target: str, weight: float, log) -> Optional[nn.Module]:
    """The Inception-feature loss (MSE between pool features of reconstruction and image)."""
    if target == "none" or weight <= 0:
        return None
    if not fid_path:
        log("Inception-feature loss off: pt_inception-2015-12-05-6726825d.pth not found "
            "(set GPSTOKEN_FID_WEIGHTS; `gpstoken doctor` lists the search paths)")
        return None
    # NOTE: the FID Inception network lives with the metrics code; until it offers a trainable
    # feature extractor this loss stays off even when the weights are present.
    log("Inception-feature loss off: no trainable Inception feature extractor in this version")
    return None
