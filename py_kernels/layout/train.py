"""Job behind ``gpstoken train-layout``: fit the layout generator to one or more layout banks."""
import dataclasses
import json

import numpy as np
import torch

from ..job import job
from ..sit import SiT
from ..sit.generator_config import load_generator_config
from ..sit.training import train_flow
from .bank import load_layouts
from .generator import KIND, layout_model_config, layout_stats


def merge_banks(paths):
    """Concatenate banks; classes are matched by name when the banks carry names."""
    banks = [load_layouts(p) for p in paths]
    tokens = {b.tokens for b in banks}
    if len(tokens) != 1:
        raise ValueError(f"layout banks have different token counts {sorted(tokens)}: {paths}")
    names = None
    if all(b.class_names for b in banks):
        names = sorted({n for b in banks for n in b.class_names})
        classes = [np.array([names.index(b.class_names[c]) for c in b.classes]) for b in banks]
    else:
        classes = [b.classes for b in banks]
    return np.concatenate([b.layouts for b in banks]), np.concatenate(classes), names


@job
def train_layout(spec, report):
    """spec: config, banks (list), out (run folder), device, iterations (optional override)."""
    config = load_generator_config(spec["config"])
    section = config.layout_model
    if spec.get("iterations"):
        section = dataclasses.replace(section, iterations=int(spec["iterations"]))
    layouts, classes, names = merge_banks(spec["banks"])

    num_classes = int(classes.max()) + 1
    torch.manual_seed(section.seed)  # the initial weights are part of what a seed reproduces
    model = SiT(layout_model_config(section, layouts.shape[1], num_classes))
    x = torch.from_numpy(layouts)  # [M, N, 5]
    means, stds = layout_stats(x)
    x1 = ((x - means) / stds).permute(0, 2, 1).unsqueeze(-1).contiguous()  # [M, 5, N, 1]

    metadata = {
        "kind": KIND,
        "config": model.config.to_json(),
        "layout_means": json.dumps(means.tolist()),
        "layout_stds": json.dumps(stds.tolist()),
        "class_names": json.dumps(names) if names else "",
        "method": section.method,
        "steps": str(section.steps),
        "banks": json.dumps(spec["banks"]),
        "layout_model": json.dumps(dataclasses.asdict(section)),
    }

    settings = dict(
        lr=section.lr, weight_decay=0.0, batch_size=section.batch_size, iterations=section.iterations,
        log_interval=section.log_interval, save_interval=section.save_interval, keep_checkpoints=2, grad_clip=0.0,
        seed=section.seed, ema_beta=section.ema_beta, ema_update_after_step=0, ema_update_every=1,
    )
    data = {"x1": x1, "y": torch.from_numpy(classes.astype(np.int64))}
    return train_flow(
        model=model, data=data, settings=settings, run_dir=spec["out"], metadata=metadata,
        export_name="layout-generator.safetensors", report=report, device_kind=spec.get("device", "cpu"),
        forward_kwargs=lambda batch: {"y": batch["y"]},
    )
