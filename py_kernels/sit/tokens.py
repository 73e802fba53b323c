"""Between tokenizer tokens and the generator's normalised state.

The generator models the token ``[sigma_x, sigma_y, rho, x, y, texture...]`` minus its
conditioning layout on the first five channels (the refinement residual), normalised per
channel by the config's means and stds, and laid out as ``[B, C, N, 1]``. Sampling reverses
each step and clamps the Gaussians, as the published generate script does.
"""
import torch

from ..layout.gaussians import clamp_gaussians

GAUSSIAN_CHANNELS = 5


class TokenStats:
    def __init__(self, means, stds):
        self.means = torch.as_tensor(means, dtype=torch.float32)  # [C]
        self.stds = torch.as_tensor(stds, dtype=torch.float32)  # [C]
        if self.means.shape != self.stds.shape or self.means.dim() != 1:
            raise ValueError(f"token means {list(self.means.shape)} and stds {list(self.stds.shape)} must be equal 1-D lists")

    def normalize(self, tokens):
        return (tokens - self.means.to(tokens)) / self.stds.to(tokens)  # [..., C]

    def denormalize(self, tokens):
        return tokens * self.stds.to(tokens) + self.means.to(tokens)  # [..., C]

    def to_lists(self):
        return self.means.tolist(), self.stds.tolist()


def compute_stats(residuals):
    """Per-channel mean and std (over tokens and images) of residual tokens [M, N, C]."""
    flat = residuals.reshape(-1, residuals.shape[-1]).double()
    stds = flat.std(dim=0).clamp_min(1e-6)
    return TokenStats(flat.mean(dim=0).float(), stds.float())


def residual_tokens(tokens, layouts):
    """Tokens [B, N, C] with the conditioning layout [B, N, 5] subtracted from the Gaussians."""
    return torch.cat([tokens[..., :GAUSSIAN_CHANNELS] - layouts, tokens[..., GAUSSIAN_CHANNELS:]], dim=-1)


def to_state(tokens):
    return tokens.permute(0, 2, 1).unsqueeze(-1).contiguous()  # [B, N, C] -> [B, C, N, 1]


def from_state(state):
    return state[..., 0].permute(0, 2, 1).contiguous()  # [B, C, N, 1] -> [B, N, C]


def tokens_from_sample(state, layouts, stats, clamp_centers=False):
    """Decode-ready tokens [B, N, C] from a sampled state [B, C, N, 1] and its layouts [B, N, 5]."""
    tokens = stats.denormalize(from_state(state))
    gaussians = clamp_gaussians(tokens[..., :GAUSSIAN_CHANNELS] + layouts.to(tokens), clamp_centers)
    return torch.cat([gaussians, tokens[..., GAUSSIAN_CHANNELS:]], dim=-1)
