"""Building blocks of the GPSToken encoder: the convolutional stem block and the region block.

Legend: B images, N tokens (regions), D transformer width, R = rois * rois RoIAlign samples.
"""
import torch
import torch.nn as nn

from ..config import ATTENTION_HEADS, GROUP_NORM_GROUPS


def swish(x: torch.Tensor) -> torch.Tensor:
    return x * torch.sigmoid(x)


class StemBlock(nn.Module):
    """Residual block of the image stem: GroupNorm, swish, conv, twice.

    The published stem reuses a diffusion-style block built with a 512-wide time embedding, so
    its checkpoints carry ``temb_proj`` weights. No time embedding is ever passed, so the
    layer exists only for the key layout and never runs.
    """

    TIME_EMBED_CHANNELS = 512

    def __init__(self, channels: int, device=None):
        super().__init__()
        self.norm1 = nn.GroupNorm(GROUP_NORM_GROUPS, channels, eps=1e-6, affine=True, device=device)
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, device=device)
        self.temb_proj = nn.Linear(self.TIME_EMBED_CHANNELS, channels, device=device)
        self.norm2 = nn.GroupNorm(GROUP_NORM_GROUPS, channels, eps=1e-6, affine=True, device=device)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, device=device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(swish(self.norm1(x)))
        h = self.conv2(swish(self.norm2(h)))
        return x + h


class RegionBlock(nn.Module):
    """Pre-norm transformer block whose tokens first absorb their region's RoIAlign features.

    Order (as published): add ``roimlp`` (a linear map pooling the R RoIAlign samples of each
    channel to one value), then self-attention over the tokens, then a GELU MLP.
    """

    def __init__(self, width: int, roi_samples: int, mlp_ratio: int = 4, device=None):
        super().__init__()
        self.roimlp = nn.Linear(roi_samples, 1, device=device)
        self.ln1 = nn.LayerNorm(width, device=device)
        self.attn1 = nn.MultiheadAttention(width, ATTENTION_HEADS, batch_first=True, device=device)
        self.ln2 = nn.LayerNorm(width, device=device)
        self.mlp = nn.Sequential(
            nn.Linear(width, mlp_ratio * width, device=device),
            nn.GELU(),
            nn.Linear(mlp_ratio * width, width, device=device),
        )

    def forward(self, x: torch.Tensor, roi_features: torch.Tensor) -> torch.Tensor:
        """x [B, N, D], roi_features [B*N, D, R] -> [B, N, D]."""
        b, n, d = x.shape
        x = x + self.roimlp(roi_features).view(b, n, d)  # [B*N, D, 1] -> [B, N, D]
        normed = self.ln1(x)
        attended, _ = self.attn1(normed, normed, normed, need_weights=False)  # [B, N, D]
        x = x + attended
        return x + self.mlp(self.ln2(x))
