"""Job entry points started by the TypeScript launcher (``python3 -m py_kernels.job``).

``train.rank:resolve_config`` validates a config with the command-line overrides and returns
what the launcher needs (image size, token count, partition options). ``train.rank:run_rank``
is one training process; the launcher starts one per rank with RANK, WORLD_SIZE, LOCAL_RANK,
MASTER_ADDR, MASTER_PORT and OMP_NUM_THREADS set.

Spec keys of ``run_rank``: ``config`` (YAML path), ``run_dir``, ``shard_manifest``,
``eval_manifest`` (or null), ``overrides`` (``steps``, ``batch``, ``seed``: null keeps the
config's value), ``resume``, ``refine``, ``init``, ``device`` (cpu or cuda), ``threads``,
``weights`` (``lpips_vgg``, ``lpips_lin``, ``fid`` paths or null), ``timeout_s`` and
optionally ``model_factory`` (``module:function``).
"""
import dataclasses
import json
import os
import sys

import torch

from py_kernels.job import job
from py_kernels.train.config import TrainConfig, load_train_config
from py_kernels.train.distributed import init_distributed, shutdown
from py_kernels.train.model_adapter import DEFAULT_FACTORY
from py_kernels.train.trainer import RunOptions, run_training


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


def _log(message: str) -> None:
    sys.stderr.write(f"[rank {os.environ.get('RANK', '0')}] {message}\n")
    sys.stderr.flush()


@job
def run_rank(spec, report):
    config = apply_overrides(load_train_config(spec["config"]), spec.get("overrides") or {})
    torch.set_num_threads(int(spec.get("threads") or 1))
    ctx = init_distributed(spec.get("device", "cpu"), float(spec.get("timeout_s", 600)))
    try:
        if ctx.is_main:
            os.makedirs(spec["run_dir"], exist_ok=True)
            with open(os.path.join(spec["run_dir"], "config.resolved.json"), "w", encoding="utf-8") as handle:
                json.dump(config.to_dict(), handle, indent=2)
        options = RunOptions(
            run_dir=spec["run_dir"],
            shard_manifest=spec["shard_manifest"],
            eval_manifest=spec.get("eval_manifest"),
            model_factory=spec.get("model_factory") or DEFAULT_FACTORY,
            resume=bool(spec.get("resume")),
            refine=bool(spec.get("refine", True)),
            init=str(spec.get("init", "entropy")),
            weights=dict(spec.get("weights") or {}),
        )
        return run_training(config, options, ctx, report, _log)
    finally:
        shutdown(ctx)
