"""Job behind ``gpstoken train-generator``: fit SiT to token sets.

Training pairs are (token [N, 5 + C], conditioning layout [N, 5], class). They come from
one of two sources:

- token files, as ``gpstoken reconstruct --save-tokens`` writes them: ``tokens`` [N, 5 + C]
  or [M, N, 5 + C] plus ``init_gpscodes`` [..., N, 5]. The class is the file's sub-folder,
  as in an ImageFolder.
- images encoded here with the tokenizer, using the partitions that the TypeScript side
  computed: a ``partitions`` file with ``images`` uint8 [M, S, S, 3], ``gpscodes`` [M, N, 5],
  ``regions`` [M, N, 4], ``classes`` [M] and metadata ``files`` and ``class_names``.

The target is the token minus its layout on the Gaussian channels, normalised per channel
by the config's statistics, or by statistics computed from the training set when the
config has none; those are stored in the exported weights (``token_means``/``token_stds``).
"""
import dataclasses
import json
import os

import numpy as np
import torch

from .. import safetensors_io
from ..job import job
from .generator_config import config_json, load_generator_config
from .model import SiT
from .tokens import TokenStats, compute_stats, residual_tokens, to_state
from .training import train_flow

TOKEN_KEYS = ("tokens",)
LAYOUT_KEYS = ("init_gpscodes", "gpscodes", "layout")


def _pick(tensors, keys, path):
    for key in keys:
        if key in tensors:
            return tensors[key]
    raise ValueError(f"{path}: no tensor named {' or '.join(keys)}; found {sorted(tensors)}")


def read_token_files(root):
    """Tokens [M, N, K], layouts [M, N, 5], classes [M] and class names from a folder of token files."""
    entries = sorted(os.listdir(root))
    folders = [e for e in entries if os.path.isdir(os.path.join(root, e))]
    groups = [(name, os.path.join(root, name)) for name in folders] or [(os.path.basename(os.path.abspath(root)), root)]
    tokens, layouts, classes = [], [], []
    for class_id, (_, folder) in enumerate(groups):
        for name in sorted(os.listdir(folder)):
            if not name.endswith(".safetensors"):
                continue
            path = os.path.join(folder, name)
            tensors, _ = safetensors_io.load_numpy(path)
            t, g = _pick(tensors, TOKEN_KEYS, path), _pick(tensors, LAYOUT_KEYS, path)
            t, g = t.reshape(-1, *t.shape[-2:]), g.reshape(-1, *g.shape[-2:])
            if t.shape[:2] != g.shape[:2] or g.shape[-1] != 5:
                raise ValueError(f"{path}: tokens {list(t.shape)} and layout {list(g.shape)} do not pair up as [.., N, K] and [.., N, 5]")
            tokens.append(t)
            layouts.append(g)
            classes.append(np.full(len(t), class_id))
    if not tokens:
        raise ValueError(f"{root}: no token files (*.safetensors); write them with `gpstoken reconstruct --save-tokens`")
    return (torch.from_numpy(np.concatenate(tokens)).float(), torch.from_numpy(np.concatenate(layouts)).float(),
            torch.from_numpy(np.concatenate(classes)), [name for name, _ in groups])


@torch.no_grad()
def encode_partitions(partitions_path, tokenizer, device, batch=16):
    """Encode the images stored in a partitions file with the tokenizer."""
    tensors, metadata = safetensors_io.load_numpy(partitions_path)
    pixels = tensors["images"]  # [M, S, S, 3] uint8, the images the partition saw
    out = []
    for start in range(0, len(pixels), batch):
        images = pixels[start:start + batch].astype(np.float32)
        image = torch.from_numpy(images / 127.5 - 1).permute(0, 3, 1, 2).to(device)  # [B, 3, H, W]
        codes = torch.from_numpy(tensors["gpscodes"][start:start + batch]).to(device)
        regions = torch.from_numpy(tensors["regions"][start:start + batch]).to(device)
        out.append(tokenizer.encode(image, codes, regions).cpu())  # [B, N, 5 + C]
    return (torch.cat(out), torch.from_numpy(tensors["gpscodes"]).float(),
            torch.from_numpy(tensors["classes"].astype(np.int64)), json.loads(metadata["class_names"]))


@job
def train_generator(spec, report):
    """spec: config, out, device, and tokens (folder) or partitions + tokenizer (+ tokenizer_config)."""
    config = load_generator_config(spec["config"])
    train = config.train
    if spec.get("iterations"):
        train = dataclasses.replace(train, iterations=int(spec["iterations"]))
    if spec.get("tokens"):
        tokens, layouts, classes, names = read_token_files(spec["tokens"])
    else:
        from ..generate import load_tokenizer

        tokenizer, _ = load_tokenizer(spec["tokenizer"], spec.get("tokenizer_config"), config, spec.get("device", "cpu"))
        tokens, layouts, classes, names = encode_partitions(spec["partitions"], tokenizer, spec.get("device", "cpu"))
    model_config = config.model
    if tokens.shape[1:] != (model_config.tokens, model_config.in_channels):
        raise ValueError(
            f"training tokens are [{tokens.shape[1]}, {tokens.shape[2]}] per image; the generator in {spec['config']} "
            f"expects [{model_config.tokens}, {model_config.in_channels}]"
        )
    if int(classes.max()) >= model_config.num_classes:
        raise ValueError(f"{len(names)} classes in the data but model.num_classes is {model_config.num_classes}")
    residuals = residual_tokens(tokens, layouts)  # [M, N, K]
    stats = TokenStats(config.means, config.stds) if config.means else compute_stats(residuals)
    means, stds = stats.to_lists()
    metadata = {
        "config": model_config.to_json(),
        "generator_config": config_json(config),
        "token_means": json.dumps(means),
        "token_stds": json.dumps(stds),
        "class_names": json.dumps(names),
    }
    report({"event": "data", "images": int(tokens.shape[0]), "classes": len(names)})
    data = {"x1": to_state(stats.normalize(residuals)), "y": classes.long(), "cond": layouts}
    torch.manual_seed(train.seed)  # the initial weights are part of what a seed reproduces
    return train_flow(
        model=SiT(model_config), data=data, settings=dataclasses.asdict(train), run_dir=spec["out"], metadata=metadata,
        export_name="generator.safetensors", report=report, device_kind=spec.get("device", "cpu"),
        forward_kwargs=lambda batch: {"y": batch["y"], "cond": batch["cond"]},
    )
