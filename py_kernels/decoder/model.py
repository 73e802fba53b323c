"""VQGAN-style decoder from the splatted texture map to the image, with the tile-aware norm.

Module names match the published checkpoint keys (``decoder.conv_in``, ``decoder.mid.block_1``,
``decoder.up.<level>.block.<i>``, ``decoder.norm_out``, ``decoder.conv_out``).

Above 256x256 the image is decoded as a T x T grid of 256x256 tiles merged into one map
(``tiles`` = T). Convolutions and upsampling run over the whole map, so neighbouring tiles
see each other. The mid attention runs per tile. The norms of the residual blocks compute
their GroupNorm statistics per tile, then bicubically interpolate the T x T grid of means
and standard deviations to the map size. This removes the per-tile colour shifts of a plain
per-tile GroupNorm. ``norm_out`` alone takes its statistics over the whole map (the
published decoder does all of this). With T = 1 every norm is GroupNorm except that
the published code divides by ``std + eps`` instead of ``sqrt(var + eps)``; we keep that.

Legend: B images, T tiles per side, G norm groups, C channels, H x W a map.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..config import GROUP_NORM_GROUPS, DecoderConfig
from .tiles import merge_tiles, split_tiles

NORM_EPS = 1e-6


def swish(x: torch.Tensor) -> torch.Tensor:
    return x * torch.sigmoid(x)


class TileNorm(nn.GroupNorm):
    """GroupNorm whose statistics are taken per tile and interpolated across the whole map."""

    def __init__(self, channels: int, device=None):
        super().__init__(GROUP_NORM_GROUPS, channels, eps=NORM_EPS, affine=True, device=device)

    def forward(self, x: torch.Tensor, tiles: int = 1) -> torch.Tensor:
        b, c, h, w = x.shape
        g = self.num_groups
        grouped = split_tiles(x, tiles).reshape(b * tiles * tiles, g, c // g, h // tiles, w // tiles)
        std, mean = torch.std_mean(grouped, dim=(2, 3, 4), keepdim=True, unbiased=False)  # [B*T*T, G, 1, 1, 1]
        if tiles > 1:
            mean = _spread_statistic(mean, tiles, h, w)  # [B*T*T, G, 1, H/T, W/T]
            std = _spread_statistic(std, tiles, h, w)
        normed = ((grouped - mean) / (std + self.eps)).reshape(-1, c, h // tiles, w // tiles)
        normed = normed * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)
        return merge_tiles(normed, tiles)


def _spread_statistic(stat: torch.Tensor, tiles: int, h: int, w: int) -> torch.Tensor:
    """[B*T*T, G, 1, 1, 1] per-tile values -> [B*T*T, G, 1, H/T, W/T] bicubic over the grid."""
    g = stat.shape[1]
    grid = merge_tiles(stat.reshape(-1, g, 1, 1), tiles)  # [B, G, T, T]
    full = F.interpolate(grid, size=(h, w), mode="bicubic", align_corners=False)  # [B, G, H, W]
    return split_tiles(full, tiles).reshape(-1, g, 1, h // tiles, w // tiles)


class ResnetBlock(nn.Module):
    """norm, swish, conv, norm, swish, dropout, conv, plus a 1x1 shortcut when widths differ."""

    def __init__(self, in_channels: int, out_channels: int, dropout: float = 0.0, device=None):
        super().__init__()
        self.norm1 = TileNorm(in_channels, device=device)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1, device=device)
        self.norm2 = TileNorm(out_channels, device=device)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, device=device)
        if in_channels != out_channels:
            self.nin_shortcut = nn.Conv2d(in_channels, out_channels, 1, device=device)

    def forward(self, x: torch.Tensor, tiles: int = 1) -> torch.Tensor:
        h = self.conv1(swish(self.norm1(x, tiles)))
        h = self.conv2(self.dropout(swish(self.norm2(h, tiles))))
        if hasattr(self, "nin_shortcut"):
            x = self.nin_shortcut(x)
        return x + h


class SpatialAttention(nn.Module):
    """Single-head self-attention over the pixels of a map, with 1x1-conv projections."""

    def __init__(self, channels: int, device=None):
        super().__init__()
        self.norm = nn.GroupNorm(GROUP_NORM_GROUPS, channels, eps=NORM_EPS, affine=True, device=device)
        self.q = nn.Conv2d(channels, channels, 1, device=device)
        self.k = nn.Conv2d(channels, channels, 1, device=device)
        self.v = nn.Conv2d(channels, channels, 1, device=device)
        self.proj_out = nn.Conv2d(channels, channels, 1, device=device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        normed = self.norm(x)
        q = self.q(normed).reshape(b, c, h * w).transpose(1, 2)  # [B, HW, C]
        k = self.k(normed).reshape(b, c, h * w)  # [B, C, HW]
        v = self.v(normed).reshape(b, c, h * w)  # [B, C, HW]
        weights = torch.softmax(torch.bmm(q, k) * c ** -0.5, dim=2)  # [B, HW(query), HW(key)]
        out = torch.bmm(v, weights.transpose(1, 2)).reshape(b, c, h, w)  # [B, C, H, W]
        return x + self.proj_out(out)


class Upsample(nn.Module):
    def __init__(self, channels: int, with_conv: bool, device=None):
        super().__init__()
        if with_conv:
            self.conv = nn.Conv2d(channels, channels, 3, padding=1, device=device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        return self.conv(x) if hasattr(self, "conv") else x


class Decoder(nn.Module):
    """conv_in, mid (resnet, attention, resnet), up levels from coarse to fine, norm_out, conv_out."""

    def __init__(self, config: DecoderConfig, device=None):
        super().__init__()
        self.config = config
        levels = len(config.ch_mult)
        channels = config.ch * config.ch_mult[-1]
        resolution = config.resolution // 2 ** (levels - 1)

        self.conv_in = nn.Conv2d(config.z_channels, channels, 3, padding=1, device=device)
        self.mid = nn.Module()
        self.mid.block_1 = ResnetBlock(channels, channels, config.dropout, device)
        self.mid.attn_1 = SpatialAttention(channels, device)
        self.mid.block_2 = ResnetBlock(channels, channels, config.dropout, device)

        # Built from the coarsest level down but stored finest first, as the checkpoints are.
        up_levels = []
        for level in reversed(range(levels)):
            up = nn.Module()
            up.block = nn.ModuleList()
            up.attn = nn.ModuleList()
            out_channels = config.ch * config.ch_mult[level]
            for _ in range(config.num_res_blocks + 1):
                up.block.append(ResnetBlock(channels, out_channels, config.dropout, device))
                channels = out_channels
                if resolution in config.attn_resolutions:
                    up.attn.append(SpatialAttention(channels, device))
            if level != 0:
                up.upsample = Upsample(channels, config.resamp_with_conv, device)
                resolution *= 2
            up_levels.insert(0, up)
        self.up = nn.ModuleList(up_levels)

        self.norm_out = TileNorm(channels, device)
        self.conv_out = nn.Conv2d(channels, config.out_ch, 3, padding=1, device=device)

    def forward(self, z: torch.Tensor, tiles: int = 1) -> torch.Tensor:
        """[B, z_channels, T*h, T*w] rendered map -> [B, out_ch, T*H, T*W] image in about [-1, 1]."""
        h = self.conv_in(z)  # [B, C, T*h, T*w]
        h = self.mid.block_1(h, tiles)
        h = merge_tiles(self.mid.attn_1(split_tiles(h, tiles)), tiles)  # attention within each tile
        h = self.mid.block_2(h, tiles)

        for level in reversed(range(len(self.up))):
            up = self.up[level]
            for i, block in enumerate(up.block):
                h = block(h, tiles)
                if len(up.attn) > 0:
                    h = up.attn[i](h)  # the published decoder runs these over the whole map
            if hasattr(up, "upsample"):
                h = up.upsample(h)

        if self.config.give_pre_end:
            return h
        # The published decoder calls norm_out without the tile count: its statistics span
        # the whole merged map. Kept as is, since the trained conv_out expects it.
        return self.conv_out(swish(self.norm_out(h)))
