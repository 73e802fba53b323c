"""A small flow-matching model over the five Gaussian parameters of all N tokens of a layout.

It is a SiT without layout condition (learnt positional embedding over the token axis, which
follows the partition's region order), trained on layout banks with ``gpstoken
train-layout``, so new layouts need no stored images. Layouts are normalised per channel by
the bank's statistics. Samples are integrated with an ODE (Heun by default) and clamped into
valid Gaussians with centres inside the image.

Weights file: the EMA weights with plain SiT keys; metadata ``kind`` = ``layout-generator``,
``config`` (SiT config JSON), ``layout_means`` / ``layout_stds``, ``class_names``, ``method``
and ``steps``.
"""
import json

import torch

from .. import safetensors_io
from ..sit import SiT, SiTConfig
from .gaussians import clamp_gaussians

KIND = "layout-generator"


def layout_model_config(section, tokens, num_classes):
    return SiTConfig(
        input_size=(tokens, 1), in_channels=5, hidden_size=section.hidden_size, depth=section.depth,
        num_heads=section.num_heads, num_classes=num_classes, class_dropout_prob=section.class_dropout_prob,
        learn_sigma=False, cond_channels=None,
    )


def layout_stats(layouts):
    """Per-channel mean and std [5] of layouts [M, N, 5]; rho of a partition is always 0, so
    stds are floored to keep normalisation finite."""
    flat = layouts.reshape(-1, 5).double()
    return flat.mean(0).float(), flat.std(0).clamp_min(1e-3).float()


class LayoutGenerator:
    def __init__(self, model, means, stds, method="heun", steps=50, class_names=None):
        self.model = model.eval()
        self.means = torch.as_tensor(means, dtype=torch.float32)
        self.stds = torch.as_tensor(stds, dtype=torch.float32)
        self.method = method
        self.steps = steps
        self.class_names = class_names

    @property
    def device(self):
        return next(self.model.parameters()).device

    def class_index(self, class_id):
        # A generator trained on a bank without classes serves every class.
        return 0 if self.model.num_classes == 1 else int(class_id)

    @torch.no_grad()
    def sample(self, class_ids, generator):
        from ..transport import SamplerOptions, sample

        n = self.model.config.tokens
        y = torch.tensor([self.class_index(c) for c in class_ids], device=self.device)
        if int(y.max()) >= self.model.num_classes:
            raise ValueError(f"the layout generator knows classes [0, {self.model.num_classes}), got {int(y.max())}")
        noise = torch.randn(len(class_ids), 5, n, 1, generator=generator, device=generator.device).to(self.device)
        velocity = lambda x, t: self.model(x, t, y)  # noqa: E731
        state, _ = sample(velocity, noise, SamplerOptions(sampler="ode", method=self.method, steps=self.steps))
        layouts = state[..., 0].permute(0, 2, 1) * self.stds.to(state) + self.means.to(state)  # [B, N, 5]
        return clamp_gaussians(layouts, clamp_centers=True)


def load_layout_generator(path, device="cpu"):
    tensors, metadata = safetensors_io.load_torch(path)
    if metadata.get("kind") != KIND:
        raise ValueError(f"{path}: not a layout generator (metadata kind={metadata.get('kind')!r}); train one with `gpstoken train-layout`")
    config = SiTConfig.from_dict(json.loads(metadata["config"]), source=f"{path} metadata")
    model = SiT(config)
    model.load_state_dict(tensors, strict=True)
    names = json.loads(metadata["class_names"]) if metadata.get("class_names") else None
    return LayoutGenerator(
        model.to(device), json.loads(metadata["layout_means"]), json.loads(metadata["layout_stds"]),
        metadata.get("method", "heun"), int(metadata.get("steps", 50)), names,
    )
