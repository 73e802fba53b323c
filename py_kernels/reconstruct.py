"""Bridge entry points for `gpstoken reconstruct`: load a tokenizer once, reconstruct batches.

The TypeScript side decodes, preprocesses and partitions the images, writes one batch as a
safetensors file and passes its path. This module encodes, splats and decodes. It writes the
PNGs (and optionally the tokens) to the paths it is given and returns JSON (paths, timings).

Batch file layout (legend: B images, S image side, T tiles per side, N tokens per tile):
  images         uint8 [B, S, S, 3] RGB, or float32 [B, 3, S, S] in [-1, 1]
  init_gpscodes  float32 [B, T*T*N, 5] rows (sigma_x, sigma_y, rho, x, y), tiles row-major
  regions        float32 [B, T*T*N, 4] rows (x0, y0, x1, y1), tile-local [-1, 1]

PNG quantisation follows the published test script: ``uint8((clamp(v, -1, 1) + 1) * 127.5)``
in float32 with truncation, for the reconstruction and for the ground truth (the input
round-tripped through float32 [-1, 1], which lowers some levels by one).
"""
import os
import time
from typing import Dict, List, Optional

import numpy as np
import torch

from . import safetensors_io
from .bridge import entry_point
from .checkpoints import load_weights, version_metadata
from .config import TokenizerConfig, load_config
from .tokenizer import build_gpstoken

_MODELS: Dict[tuple, "LoadedModel"] = {}


class LoadedModel:
    def __init__(self, model, config: TokenizerConfig, device: torch.device, weights: Optional[str]):
        self.model = model
        self.config = config
        self.device = device
        self.weights = weights

    def describe(self) -> dict:
        return {
            "config": self.config.to_dict(),
            "config_file": self.config.source,
            "weights": self.weights,
            "device": str(self.device),
            "parameters": sum(p.numel() for p in self.model.parameters()),
            "tile_size": self.config.image_size,
            "versions": version_metadata(),
        }


def resolve_device(device: str) -> torch.device:
    """``cpu`` or ``cuda[:i]``; a clear error when CUDA is asked for but not usable."""
    if device == "cpu":
        return torch.device("cpu")
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise RuntimeError(
                f"--device {device} was requested but CUDA is not available to torch {torch.__version__} "
                "(no GPU visible, or a CPU-only build); use --device cpu"
            )
        return torch.device(device)
    raise ValueError(f"--device must be cpu or cuda, got {device!r}")


def _get_model(config: str, weights: Optional[str], device: str, random_init: bool, seed: int) -> LoadedModel:
    stamp = os.stat(weights).st_mtime_ns if weights and os.path.exists(weights) else None
    key = (os.path.abspath(config), weights and os.path.abspath(weights), stamp, device, random_init, seed)
    if key not in _MODELS:
        _MODELS.clear()  # one model per process: a new one replaces the old
        _MODELS[key] = _build(config, weights, device, random_init, seed)
    return _MODELS[key]


def _build(config_path: str, weights: Optional[str], device: str, random_init: bool, seed: int) -> LoadedModel:
    target = resolve_device(device)
    config = load_config(config_path)
    if not weights and not random_init:
        raise ValueError("no weights given: pass --weights FILE, or --random-init for a random-initialised model")
    torch.manual_seed(seed)
    model = build_gpstoken(config)
    if weights:
        load_weights(model, weights, config)
    model.eval().to(target)
    return LoadedModel(model, config, target, weights)


@entry_point
def load_model(config: str, weights: Optional[str] = None, device: str = "cpu", random_init: bool = False, seed: int = 0):
    """Load (or reuse) the tokenizer; returns its description (config, parameters, device)."""
    started = time.perf_counter()
    loaded = _get_model(config, weights, device, random_init, seed)
    return dict(loaded.describe(), seconds=time.perf_counter() - started)


def _read_batch(path: str, device: torch.device):
    tensors, _ = safetensors_io.load_torch(path)
    for name in ("images", "init_gpscodes", "regions"):
        if name not in tensors:
            raise ValueError(f"{path}: batch file lacks '{name}'")
    images = tensors["images"]
    if images.dtype == torch.uint8:
        # float64 division then float32, as the partition and the published loader do.
        images = (images.permute(0, 3, 1, 2).double() / 127.5 - 1.0).float()  # [B, 3, S, S]
    images = images.float().to(device)
    return images, tensors["init_gpscodes"].float().to(device), tensors["regions"].float().to(device)


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """[B, 3, H, W] in [-1, 1] -> [B, H, W, 3] uint8, truncating as the published script does."""
    scaled = (images.clamp(-1, 1).float() + 1.0) * 127.5
    return scaled.permute(0, 2, 3, 1).cpu().numpy().astype(np.uint8)


def _write_png(path: str, pixels: np.ndarray) -> None:
    from PIL import Image

    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    temporary = f"{path}.tmp-{os.getpid()}.png"
    Image.fromarray(pixels, "RGB").save(temporary)
    os.replace(temporary, path)  # a killed run never leaves a half-written PNG that looks done


@entry_point
def reconstruct_batch(
    batch: str,
    outputs: List[dict],
    config: str,
    weights: Optional[str] = None,
    device: str = "cpu",
    refine: bool = True,
    random_init: bool = False,
    seed: int = 0,
):
    """Reconstruct the images of ``batch``; ``outputs[i]`` = {"recon", "gt", "tokens"?} paths for image i."""
    timings = {}
    started = time.perf_counter()
    loaded = _get_model(config, weights, device, random_init, seed)
    timings["load"] = time.perf_counter() - started

    mark = time.perf_counter()
    images, init_gpscodes, regions = _read_batch(batch, loaded.device)
    if len(outputs) != images.shape[0]:
        raise ValueError(f"{batch}: {images.shape[0]} images but {len(outputs)} output entries")
    tiles = _tile_count(images, loaded.config)
    timings["read"] = time.perf_counter() - mark

    mark = time.perf_counter()
    with torch.inference_mode():
        recon, tokens = loaded.model(images, init_gpscodes, regions, tiles=tiles, refine=refine)
        if loaded.device.type == "cuda":
            torch.cuda.synchronize(loaded.device)
    timings["model"] = time.perf_counter() - mark

    mark = time.perf_counter()
    _write_outputs(outputs, recon, images, tokens, init_gpscodes, regions, loaded, tiles, refine)
    timings["write"] = time.perf_counter() - mark
    timings["total"] = time.perf_counter() - started
    return {"images": len(outputs), "tiles": tiles, "outputs": outputs, "timings": timings}


def _tile_count(images: torch.Tensor, config: TokenizerConfig) -> int:
    side = config.image_size
    height, width = images.shape[2], images.shape[3]
    if height != width or height % side:
        raise ValueError(
            f"images are {width}x{height}; the model takes square images whose side is a multiple of {side}"
        )
    return height // side


def _write_outputs(outputs, recon, images, tokens, init_gpscodes, regions, loaded, tiles, refine):
    recon_pixels = to_uint8(recon)
    gt_pixels = to_uint8(images)
    for i, target in enumerate(outputs):
        if target.get("tokens"):
            metadata = dict(
                loaded.config.to_metadata(), tiles=str(tiles), refine=str(bool(refine)).lower(),
                image_size=str(images.shape[-1]),
            )
            os.makedirs(os.path.dirname(target["tokens"]) or ".", exist_ok=True)
            safetensors_io.save(
                target["tokens"],
                {
                    "tokens": tokens[i].float().cpu(),  # [T*T*N, 5 + C] tile-local Gaussians and texture
                    "init_gpscodes": init_gpscodes[i].cpu(),
                    "regions": regions[i].cpu(),
                },
                metadata,
            )
        _write_png(target["gt"], gt_pixels[i])
        _write_png(target["recon"], recon_pixels[i])  # written last: its presence marks the image done
