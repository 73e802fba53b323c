"""Flow-matching training loop shared by the token generator (SiT) and the layout generator.

The whole training set lives in memory as tensors (fine for CPU-scale experiments and for
token sets of tens of thousands of images; see docs/generate.md). Every random draw of step
``s`` on rank ``r`` comes from a seed derived from (seed, r, s). The data order of each epoch
comes from (seed, epoch). So a run resumed from a checkpoint continues exactly as an
uninterrupted one would.

Checkpoints: ``RUN/checkpoints/step-XXXXXXXX.safetensors`` with ``model.*``, ``ema.*`` and
``opt.<i>.<name>`` (AdamW state of parameter i); metadata holds the step, the resolved config
and versions. ``RUN/latest.json`` names the newest one. A run resumes from it whenever it
exists. SIGINT/SIGTERM stop the loop after the step in flight: the checkpoint of that step is
saved, a ``stopped`` event names it, and TrainingStopped (a KeyboardInterrupt, exit code 130)
ends the job. ``RUN/<export_name>`` holds the EMA
weights with plain keys and the model config in its metadata, ready for ``gpstoken generate``.
"""
import functools
import json
import os
import time

import numpy as np
import torch

from .. import safetensors_io
from ..train.checkpoint import versions
from ..train.distributed import all_reduce_mean, any_rank, barrier, init_distributed, shutdown
from ..train.ema import EMA
from ..train.stop import StopRequest, TrainingStopped
from ..transport import training_losses


def derived_seed(*parts):
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1, dtype=np.uint64)[0]) >> 1


@functools.lru_cache(maxsize=4)
def epoch_order(seed, epoch, count):
    return np.random.default_rng([seed, epoch]).permutation(count)


def batch_indices(seed, step, batch, rank, world, count):
    """Indices of the global batch ``step`` for this rank; epochs are seeded permutations."""
    global_batch = batch * world
    start = step * global_batch + rank * batch
    picks = []
    for position in range(start, start + batch):
        epoch, offset = divmod(position, count)
        picks.append(epoch_order(seed, epoch, count)[offset])
    return np.array(picks)


def _optimizer_state(optimizer):
    tensors = {}
    for index, param in enumerate(p for group in optimizer.param_groups for p in group["params"]):
        for name, value in optimizer.state.get(param, {}).items():
            tensors[f"opt.{index}.{name}"] = torch.as_tensor(value).detach().cpu().reshape(torch.as_tensor(value).shape)
    return tensors


def _load_optimizer(optimizer, tensors, device):
    params = [p for group in optimizer.param_groups for p in group["params"]]
    for key, value in tensors.items():
        if not key.startswith("opt."):
            continue
        _, index, name = key.split(".", 2)
        optimizer.state[params[int(index)]][name] = value.to(device) if name != "step" else value.cpu()


def save_checkpoint(run_dir, step, model, ema, optimizer, metadata, keep):
    folder = os.path.join(run_dir, "checkpoints")
    os.makedirs(folder, exist_ok=True)
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    tensors.update({f"ema.{k}": v for k, v in ema.state_dict().items()})
    tensors.update(_optimizer_state(optimizer))
    path = os.path.join(folder, f"step-{step:08d}.safetensors")
    safetensors_io.save(path, tensors, {**metadata, "step": str(step), "ema_step": str(ema.step)})
    with open(os.path.join(run_dir, "latest.json.tmp"), "w") as handle:
        json.dump({"step": step, "path": os.path.relpath(path, run_dir)}, handle)
    os.replace(os.path.join(run_dir, "latest.json.tmp"), os.path.join(run_dir, "latest.json"))
    old = sorted(f for f in os.listdir(folder) if f.startswith("step-") and f.endswith(".safetensors"))
    for name in old[:-keep] if keep > 0 else []:
        os.remove(os.path.join(folder, name))
    return path


def latest_checkpoint(run_dir):
    marker = os.path.join(run_dir, "latest.json")
    if not os.path.isfile(marker):
        return None
    with open(marker) as handle:
        return os.path.join(run_dir, json.load(handle)["path"])


def export_weights(path, state_dict, metadata):
    safetensors_io.save(path, {k: v for k, v in state_dict.items()}, metadata)


def train_flow(*, model, data, settings, run_dir, metadata, export_name, report, device_kind="cpu", forward_kwargs):
    """Train ``model`` by flow matching on ``data`` and export its EMA weights.

    data: dict of tensors with a common first dimension M: ``x1`` (normalised targets) and
    the keyword inputs that ``forward_kwargs(batch)`` turns into model arguments.
    settings: lr, weight_decay, batch_size, iterations, log_interval, save_interval,
    keep_checkpoints, grad_clip, seed, ema_beta, ema_update_after_step, ema_update_every.
    """
    ctx = init_distributed(device_kind)
    try:
        return _train(ctx, model, data, settings, run_dir, metadata, export_name, report, forward_kwargs)
    finally:
        shutdown(ctx)


def _train(ctx, model, data, s, run_dir, metadata, export_name, report, forward_kwargs):
    device = ctx.device
    model = model.to(device).train()
    ema = EMA(model, beta=s["ema_beta"], update_after_step=s["ema_update_after_step"], update_every=s["ema_update_every"])
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=s["lr"], weight_decay=s["weight_decay"])
    start = 0
    resume_path = latest_checkpoint(run_dir)
    if resume_path:
        tensors, meta = safetensors_io.load_torch(resume_path)
        model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
        ema.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("ema.")}, int(meta["ema_step"]))
        _load_optimizer(optimizer, tensors, device)
        start = int(meta["step"])
        if ctx.is_main:
            report({"event": "resumed", "step": start, "checkpoint": resume_path})
    trainable = model
    if ctx.distributed:
        trainable = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)

    count = int(data["x1"].shape[0])
    window, started = [], time.time()
    step = start
    saved = start
    with StopRequest() as stop:
        if ctx.is_main:
            report({"event": "start", "parameters": sum(p.numel() for p in params), "samples": count,
                    "ranks": ctx.world_size, "step": start, "iterations": s["iterations"]})
        for step in range(start, s["iterations"]):
            torch.manual_seed(derived_seed(s["seed"], ctx.rank, step))
            picks = torch.from_numpy(batch_indices(s["seed"], step, s["batch_size"], ctx.rank, ctx.world_size, count))
            batch = {k: v[picks].to(device) for k, v in data.items()}
            loss = training_losses(trainable, batch["x1"], forward_kwargs(batch))["loss"].mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if s["grad_clip"] > 0:
                torch.nn.utils.clip_grad_norm_(params, s["grad_clip"])
            optimizer.step()
            ema.update(model)
            window.append(loss.detach())
            done = step + 1
            if done % s["log_interval"] == 0 or done == s["iterations"]:
                mean = float(all_reduce_mean(torch.stack(window).mean(), ctx))
                if ctx.is_main:
                    rate = len(window) / max(time.time() - started, 1e-9)
                    report({"event": "log", "step": done, "loss": mean, "steps_per_s": rate})
                window, started = [], time.time()
            if done % s["save_interval"] == 0 or done == s["iterations"]:
                if ctx.is_main:
                    save_checkpoint(run_dir, done, model, ema, optimizer, metadata, s["keep_checkpoints"])
                saved = done
                barrier(ctx)
            # Every rank takes part, so all of them stop after the same step.
            if done < s["iterations"] and any_rank(stop.requested, ctx):
                path = os.path.join(run_dir, "checkpoints", f"step-{done:08d}.safetensors")
                if ctx.is_main and saved != done:
                    path = save_checkpoint(run_dir, done, model, ema, optimizer, metadata, s["keep_checkpoints"])
                barrier(ctx)
                if ctx.is_main:
                    report({"event": "stopped", "step": done, "checkpoint": path})
                raise TrainingStopped(done, path)
    export = os.path.join(run_dir, export_name)
    if ctx.is_main:
        export_weights(export, ema.state_dict(), {**metadata, "step": str(s["iterations"]), "versions": json.dumps(versions())})
        report({"event": "exported", "path": export})
    barrier(ctx)
    return {"weights": export, "steps": s["iterations"], "resumed_from": start}
