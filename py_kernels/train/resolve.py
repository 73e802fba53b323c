"""Config resolution for the launcher, kept free of torch so that it starts in well under a second.

``train.resolve:resolve_config`` validates a config with the command-line overrides and
returns what the launcher needs before any rank starts: image size, token count and the
partition options.
"""
import dataclasses

from py_kernels.job import job
from py_kernels.train.config import TrainConfig, load_train_config


def apply_overrides(config: TrainConfig, overrides: dict) -> TrainConfig:
    """The config with ``--steps``, ``--batch`` and ``--seed`` applied (None keeps a value)."""
    changes = {}
    for flag, key in (("steps", "iterations"), ("batch", "batch_size"), ("seed", "seed")):
        value = overrides.get(flag)
        if value is not None:
            if not isinstance(value, int) or isinstance(value, bool) or value < (1 if flag == "batch" else 0):
                raise ValueError(f"--{flag} must be a {'positive' if flag == 'batch' else 'non-negative'} integer, got {value!r}")
            changes[key] = value
    return dataclasses.replace(config, train=dataclasses.replace(config.train, **changes)) if changes else config


@job
def resolve_config(spec, report):
    config = apply_overrides(load_train_config(spec["config"]), spec.get("overrides") or {})
    params = config.data.params
    return {
        "image_size": params.size,
        "tokens": config.tokens,
        "adaptive_weight": config.model.gps.gps_adaptive_w,
        "minhw": params.adaptive_minhw,
        "hflip": params.hflip,
        "batch_size": config.train.batch_size,
        "iterations": config.train.iterations,
        "grad_accumulation": config.train.grad_accumulation,
        "seed": config.train.seed,
        "resolved": config.to_dict(),
    }


