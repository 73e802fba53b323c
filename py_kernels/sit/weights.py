"""Load SiT weights from safetensors: published checkpoints and this project's own."""
import json

import torch

from ..safetensors_io import load_torch
from .config import SiTConfig
from .model import SiT

EMA_PREFIX = "ema_model."


def select_state_dict(tensors, path, prefer_ema=True):
    """Return plain model keys from a checkpoint that may hold ``ema_model.``/``model.`` copies.

    The published generator file stores the EMA weights under ``ema_model.``; the sampler
    uses those, as the published script does.
    """
    ema = {k[len(EMA_PREFIX):]: v for k, v in tensors.items() if k.startswith(EMA_PREFIX)}
    if ema and prefer_ema:
        return ema
    plain = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    if plain:
        return plain
    if ema:
        return ema
    return dict(tensors)


def load_sit(path, config=None, device="cpu"):
    """Return ``(model, config)``; the config comes from the file's metadata unless given."""
    tensors, metadata = load_torch(path)
    if config is None:
        if "config" not in metadata:
            raise ValueError(
                f"{path}: no SiT config in the file's metadata; pass the generator config (--config) that built it"
            )
        config = SiTConfig.from_dict(json.loads(metadata["config"]), source=f"{path} metadata")
    model = SiT(config)
    state = select_state_dict(tensors, path)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ValueError(
            f"{path}: weights do not fit the SiT config {config}: missing keys {sorted(missing)[:5]}"
            f"{' ...' if len(missing) > 5 else ''}, unexpected keys {sorted(unexpected)[:5]}"
            f"{' ...' if len(unexpected) > 5 else ''}"
        )
    return model.to(device).eval(), config
