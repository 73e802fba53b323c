"""SiT (Scalable Interpolant Transformer) over GPSToken token sequences.

A token sequence of N tokens with C channels (5 Gaussian parameters + texture features) is
laid out as a one-pixel-wide image ``[B, C, N, 1]``, the layout the published generator
uses, so patch size 1 turns each token into one transformer position. The layout
condition (the Gaussians of the conditioning layout, ``[B, N, 5]``) is embedded by
``cond_embedder`` and replaces the positional embedding: with a layout, token order carries
no meaning, and ``pos_embed`` is only used when no layout is given.

Module names match the published state dict (``x_embedder.proj``, ``t_embedder.mlp``,
``y_embedder.embedding_table``, ``cond_embedder``, ``blocks.K.attn.qkv`` ...), so published
checkpoints load without renaming.

Letters: B batch, N tokens, C channels, D hidden size, H heads.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from .config import SiTConfig


def modulate(x, shift, scale):
    # adaLN: x [B, N, D], shift/scale [B, D]
    return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)


class TimestepEmbedder(nn.Module):
    """Sinusoidal features of t (cos half first, as in DiT/SiT) followed by a two-layer MLP."""

    def __init__(self, hidden_size, frequency_size=256):
        super().__init__()
        self.frequency_size = frequency_size
        self.mlp = nn.Sequential(nn.Linear(frequency_size, hidden_size), nn.SiLU(), nn.Linear(hidden_size, hidden_size))

    @staticmethod
    def sinusoid(t, dim, max_period=10000):
        half = dim // 2
        freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
        args = t[:, None].float() * freqs[None]  # [B, half]
        embedding = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
        if dim % 2:
            embedding = torch.cat([embedding, torch.zeros_like(embedding[:, :1])], dim=-1)
        return embedding

    def forward(self, t):
        return self.mlp(self.sinusoid(t, self.frequency_size))  # [B, D]


class LabelEmbedder(nn.Module):
    """Class-label table with one extra row, index ``num_classes``, for the null class."""

    def __init__(self, num_classes, hidden_size, dropout_prob):
        super().__init__()
        self.num_classes = num_classes
        self.dropout_prob = dropout_prob
        self.embedding_table = nn.Embedding(num_classes + int(dropout_prob > 0), hidden_size)

    def forward(self, labels, train):
        if train and self.dropout_prob > 0:
            # Label dropout trains the unconditional model used by classifier-free guidance.
            drop = torch.rand(labels.shape[0], device=labels.device) < self.dropout_prob
            labels = torch.where(drop, torch.full_like(labels, self.num_classes), labels)
        return self.embedding_table(labels)


class PatchEmbed(nn.Module):
    """Conv patch embedding: ``[B, C, N, 1]`` to ``[B, N, D]`` (timm's PatchEmbed layout)."""

    def __init__(self, input_size, patch_size, in_channels, hidden_size):
        super().__init__()
        self.input_size = tuple(input_size)
        self.patch_size = patch_size
        self.num_patches = (self.input_size[0] // patch_size) * (self.input_size[1] // patch_size)
        self.proj = nn.Conv2d(in_channels, hidden_size, kernel_size=patch_size, stride=patch_size)

    def forward(self, x):
        if tuple(x.shape[2:]) != self.input_size:
            raise ValueError(f"SiT input has spatial shape {tuple(x.shape[2:])}, expected {self.input_size}")
        return self.proj(x).flatten(2).transpose(1, 2)  # [B, N, D]


_HAS_SDPA = hasattr(F, "scaled_dot_product_attention")


class Attention(nn.Module):
    """Multi-head self-attention; fused kernel on torch 2.x, explicit softmax on torch 1.13."""

    def __init__(self, dim, num_heads):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"hidden size {dim} is not divisible by {num_heads} heads")
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim ** -0.5
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, n, d = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)  # each [B, H, N, D/H]
        if _HAS_SDPA:
            out = F.scaled_dot_product_attention(q, k, v)
        else:
            weights = (q * self.scale) @ k.transpose(-2, -1)  # [B, H, N, N]
            out = weights.softmax(dim=-1) @ v
        return self.proj(out.transpose(1, 2).reshape(b, n, d))


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU(approximate="tanh")
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class SiTBlock(nn.Module):
    """Transformer block with adaLN-Zero conditioning on c = t embedding + label embedding."""

    def __init__(self, hidden_size, num_heads, mlp_ratio):
        super().__init__()
        self.norm1 = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.attn = Attention(hidden_size, num_heads)
        self.norm2 = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.mlp = Mlp(hidden_size, int(hidden_size * mlp_ratio))
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(hidden_size, 6 * hidden_size))

    def forward(self, x, c):
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = self.adaLN_modulation(c).chunk(6, dim=1)
        x = x + gate_msa.unsqueeze(1) * self.attn(modulate(self.norm1(x), shift_msa, scale_msa))
        x = x + gate_mlp.unsqueeze(1) * self.mlp(modulate(self.norm2(x), shift_mlp, scale_mlp))
        return x


class FinalLayer(nn.Module):
    def __init__(self, hidden_size, patch_size, out_channels):
        super().__init__()
        self.norm_final = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.linear = nn.Linear(hidden_size, patch_size * patch_size * out_channels)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(hidden_size, 2 * hidden_size))

    def forward(self, x, c):
        shift, scale = self.adaLN_modulation(c).chunk(2, dim=1)
        return self.linear(modulate(self.norm_final(x), shift, scale))


class SiT(nn.Module):
    """SiT velocity model; ``forward(x [B, C, N, 1], t [B], y [B], cond [B, N, 5])``."""

    def __init__(self, config: SiTConfig):
        super().__init__()
        self.config = config
        d = config.hidden_size
        self.in_channels = config.in_channels
        self.out_channels = config.in_channels * 2 if config.learn_sigma else config.in_channels
        self.patch_size = config.patch_size
        self.num_classes = config.num_classes

        self.x_embedder = PatchEmbed(config.input_size, config.patch_size, config.in_channels, d)
        self.t_embedder = TimestepEmbedder(d)
        self.y_embedder = LabelEmbedder(config.num_classes, d, config.class_dropout_prob)
        # With patch size 1 the published model learns pos_embed; it is unused whenever a
        # layout condition is passed, so it is frozen then (DDP would flag it as unused).
        learn_pos = config.patch_size == 1 and config.cond_channels is None
        self.pos_embed = nn.Parameter(torch.zeros(1, self.x_embedder.num_patches, d), requires_grad=learn_pos)
        if config.cond_channels is not None:
            self.cond_embedder = nn.Sequential(nn.Linear(config.cond_channels, d), nn.SiLU(), nn.Linear(d, d))
        self.blocks = nn.ModuleList([SiTBlock(d, config.num_heads, config.mlp_ratio) for _ in range(config.depth)])
        self.final_layer = FinalLayer(d, config.patch_size, self.out_channels)
        self.initialize_weights()

    def initialize_weights(self):
        """Initialise as SiT does: Xavier linears, adaLN and output layers zeroed."""

        def basic_init(module):
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)

        self.apply(basic_init)
        if self.patch_size > 1:
            grid = int(self.x_embedder.num_patches ** 0.5)
            table = sincos_2d(self.pos_embed.shape[-1], grid)
            self.pos_embed.data.copy_(torch.from_numpy(table).float().unsqueeze(0))
        weight = self.x_embedder.proj.weight.data
        nn.init.xavier_uniform_(weight.view(weight.shape[0], -1))
        nn.init.zeros_(self.x_embedder.proj.bias)
        nn.init.normal_(self.y_embedder.embedding_table.weight, std=0.02)
        nn.init.normal_(self.t_embedder.mlp[0].weight, std=0.02)
        nn.init.normal_(self.t_embedder.mlp[2].weight, std=0.02)
        for block in self.blocks:
            nn.init.zeros_(block.adaLN_modulation[-1].weight)
            nn.init.zeros_(block.adaLN_modulation[-1].bias)
        for layer in (self.final_layer.adaLN_modulation[-1], self.final_layer.linear):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def unpatchify(self, x):
        # [B, T, p*p*C_out] -> [B, C_out, H, W]
        p, c = self.patch_size, self.out_channels
        h, w = self.config.input_size[0] // p, self.config.input_size[1] // p
        x = x.reshape(x.shape[0], h, w, p, p, c)
        x = torch.einsum("nhwpqc->nchpwq", x)
        return x.reshape(x.shape[0], c, h * p, w * p)

    def forward(self, x, t, y, cond=None):
        if cond is None:
            h = self.x_embedder(x) + self.pos_embed  # [B, N, D]
        else:
            h = self.x_embedder(x) + self.cond_embedder(cond)  # [B, N, D]
        c = self.t_embedder(t) + self.y_embedder(y, self.training)  # [B, D]
        for block in self.blocks:
            h = block(h, c)
        out = self.unpatchify(self.final_layer(h, c))  # [B, C_out, N, 1]
        if self.config.learn_sigma:
            # The published model predicts 2C channels and keeps only the first C (velocity).
            out = out[:, : self.in_channels]
        return out

    def forward_with_cfg(self, x, t, y, cfg_scale, cond=None, guidance_low=0.0, guidance_high=1.0):
        """Classifier-free guidance over a doubled batch, as the published sampler calls it.

        The first half of ``x`` is the state; ``y`` holds the class labels then the null
        labels. Guidance applies while ``guidance_low <= t[0] <= guidance_high`` (t in
        [0, 1], 1 = data; the published script's integers are these times 1000); outside
        the interval the plain model output is returned. ``cond`` is used as given, so
        callers pass the layout twice.
        """
        t0 = float(t[0])
        if not guidance_low <= t0 <= guidance_high:
            return self.forward(x, t, y, cond=cond)
        half = x[: len(x) // 2]
        out = self.forward(torch.cat([half, half], dim=0), t, y, cond=cond)
        guided, rest = out[:, : self.in_channels], out[:, self.in_channels :]
        conditional, unconditional = torch.split(guided, len(guided) // 2, dim=0)
        mixed = unconditional + cfg_scale * (conditional - unconditional)
        return torch.cat([torch.cat([mixed, mixed], dim=0), rest], dim=1)


def sincos_1d(dim, positions):
    import numpy as np

    omega = 1.0 / 10000 ** (np.arange(dim // 2, dtype=np.float64) / (dim / 2.0))
    out = np.einsum("m,d->md", positions.reshape(-1), omega)  # [M, dim/2]
    return np.concatenate([np.sin(out), np.cos(out)], axis=1)


def sincos_2d(dim, grid_size):
    """Fixed 2D sin-cos table used by SiT for patch sizes above 1: ``[grid^2, dim]``."""
    import numpy as np

    coords = np.arange(grid_size, dtype=np.float32)
    grid_w, grid_h = np.meshgrid(coords, coords)
    return np.concatenate([sincos_1d(dim // 2, grid_w), sincos_1d(dim // 2, grid_h)], axis=1)
