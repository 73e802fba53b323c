"""The training loop of one rank.

One optimiser step = ``grad_accumulation`` micro-batches. Before ``disc_start`` every step
trains the tokenizer. After it, even steps train the tokenizer and odd steps the
discriminator, as in the published training script. The adversarial term joins
the tokenizer loss from step ``disc_start`` on.

Rank 0 reports JSON events (``start``, ``step``, ``eval``, ``checkpoint``, ``stopped``) and
writes checkpoints and ``metrics.json``; every rank takes part in the collectives.
"""
import hashlib
import json
import math
import os
import random
import time
from dataclasses import dataclass, replace
from typing import Callable, Dict, List, Optional

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel

from py_kernels.checkpoints import save_checkpoint as save_tokenizer
from py_kernels.train import checkpoint as ckpt
from py_kernels.train.config import TrainConfig
from py_kernels.train.data import ShardedBatches, eval_batches, read_samples, read_shard
from py_kernels.train.discriminator import NLayerDiscriminator, RealFakeLogits
from py_kernels.train.distributed import (DistContext, all_gather_objects, all_reduce_mean, any_rank, barrier)
from py_kernels.train.ema import EMA
from py_kernels.train.losses import (D_LOSSES, adaptive_gan_weight, adopt_weight, generator_adversarial_loss,
                                     pixel_loss)
from py_kernels.train.model_adapter import build_model, last_layer_weight, reconstruct
from py_kernels.train.perceptual import build_feature_loss, build_lpips
from py_kernels.train.stop import StopRequest

PSNR_CONVENTION = "per-image PSNR on 8-bit RGB (reconstruction clamped to [-1, 1], rounded), data range 255, mean over images"


@dataclass(frozen=True)
class RunOptions:
    run_dir: str
    shard_manifest: str
    eval_manifest: Optional[str]
    model_factory: str
    resume: bool
    refine: bool
    init: str
    weights: Dict[str, Optional[str]]


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2 ** 32)
    torch.manual_seed(seed)


def psnr_per_image(reconstruction: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """PSNR [B] of 8-bit versions of two [B, 3, H, W] images in [-1, 1]."""
    def to_uint8(x):
        return ((x.clamp(-1, 1) + 1) * 127.5).round()

    mse = (to_uint8(reconstruction) - to_uint8(image)).pow(2).mean(dim=(1, 2, 3))
    return 10 * torch.log10(255.0 ** 2 / mse)


@torch.no_grad()
def evaluate(models: Dict[str, torch.nn.Module], samples, config: TrainConfig, refine: bool, device) -> Dict:
    """Mean PSNR of each model over the held-out samples."""
    result = {"images": len(samples)}
    for name, model in models.items():
        was_training = model.training
        model.eval()
        scores = []
        for image, gpscodes, regions in eval_batches(samples, config.train.batch_size, config.tokens,
                                                      config.data.params.size, device):
            scores.append(psnr_per_image(reconstruct(model, image, gpscodes, regions, refine), image).cpu())
        model.train(was_training)
        result[name] = float(torch.cat(scores).double().mean())
    return result


def _count(module) -> int:
    return sum(p.numel() for p in module.parameters())


class NonFiniteLossError(FloatingPointError):
    """The loss or the weights became NaN or infinite; training stops without saving them."""


def _finite_or_none(value):
    """``value`` with every non-finite float replaced by None, so the JSON stays valid."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_or_none(v) for v in value]
    return value


def _write_json(path: str, value) -> None:
    temporary = f"{path}.tmp-{os.getpid()}"
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(_finite_or_none(value), handle, indent=2, allow_nan=False)
    os.replace(temporary, path)


def _weights_finite(*modules) -> bool:
    return all(bool(torch.isfinite(p).all()) for module in modules for p in module.parameters())


def _divergence_message(what: str, step: int, run_dir: str, lr: float) -> str:
    last = ckpt.latest_checkpoint(run_dir)
    if last is None:
        kept = "no checkpoint was saved"
        rerun = "and rerun"
    else:
        kept = f"the last finite checkpoint is {last}"
        rerun = "and rerun with --resume to continue from it (the config's lr wins over the stored one)"
    return (f"{what} at step {step}; training stopped without saving these weights and {kept}. "
            f"Lower train.lr (now {lr:g}) or set train.grad_clip {rerun}")


def run_training(config: TrainConfig, options: RunOptions, ctx: DistContext,
                 report: Callable[[dict], None], log: Callable[[str], None]) -> dict:
    """Train (or only evaluate when ``train.iterations`` is 0) and return the final summary."""
    t = config.train
    d = config.loss.discriminator
    device = ctx.device
    main = ctx.is_main
    emit = report if main else (lambda event: None)

    # ---- models and optimisers (identical initial weights on every rank) ----
    seed_everything(t.seed)
    model = build_model(options.model_factory, config.model).to(device).train()
    disc = NLayerDiscriminator(d.disc_in_channels, d.disc_ndf, d.disc_num_layers, d.disc_norm).to(device).train()
    ema = EMA(model, t.ema_beta, t.ema_update_after_step, t.ema_update_every, t.ema_inv_gamma, t.ema_power)
    opt_ae = torch.optim.Adam(model.parameters(), lr=t.lr, betas=tuple(t.betas), weight_decay=t.weight_decay)
    opt_disc = torch.optim.Adam(disc.parameters(), lr=t.lr, betas=tuple(t.betas), weight_decay=t.weight_decay)
    def quiet(message: str) -> None:
        """A notice shown once by the launcher (rank 0 only) and kept in the rank log."""
        log(message)
        emit({"event": "log", "message": message})

    lpips = build_lpips(options.weights.get("lpips_vgg"), options.weights.get("lpips_lin"), d.perceptual_weight,
                        device, quiet)
    feature_loss = build_feature_loss(options.weights.get("fid"), config.loss.perceptual.target,
                                      config.loss.perceptual.weight, device, quiet)

    # ---- resume ----
    step, micro_step = 0, 0
    seed_everything(t.seed + 1_000_003 * ctx.rank)  # per-rank streams for dropout and the like
    if options.resume:
        path = ckpt.latest_checkpoint(options.run_dir)
        if path is None:
            quiet(f"--resume: no checkpoint in {options.run_dir}/checkpoints; starting from step 0")
        else:
            tensors, metadata = ckpt.load_checkpoint(path, device)
            ckpt.check_fits(tensors, path, options.run_dir, config.source, model=model, disc=disc)
            saved_world = json.loads(metadata.get("world_size", "1"))
            saved_batch = json.loads(metadata.get("batch_size", "0"))
            if saved_world != ctx.world_size or saved_batch != t.batch_size:
                raise ckpt.ResumeMismatchError(
                    f"{path} was written by {saved_world} ranks with batch {saved_batch}; this run has "
                    f"{ctx.world_size} ranks with batch {t.batch_size}. Resume with --ranks {saved_world} "
                    f"--batch {saved_batch} so the data order and random state continue exactly")
            step, micro_step = ckpt.restore_training_state(tensors, metadata, model=model, ema=ema, disc=disc,
                                                           opt_ae=opt_ae, opt_disc=opt_disc, device=device)
            # The config's optimiser settings win over the stored ones, so a resumed run can lower lr.
            for group in opt_ae.param_groups + opt_disc.param_groups:
                group.update(lr=t.lr, betas=tuple(t.betas), weight_decay=t.weight_decay)
            rng = ckpt.rng_state_of(tensors, ctx.rank)
            if rng is not None:
                ckpt.restore_rng(rng, device)
            emit({"event": "resumed", "step": step, "checkpoint": path})

    # Written only now, so a refused resume leaves the run's own config in place.
    if main:
        os.makedirs(options.run_dir, exist_ok=True)
        _write_json(os.path.join(options.run_dir, "config.resolved.json"), config.to_dict())

    # ---- data ----
    shard = read_shard(options.shard_manifest)
    if shard.world_size != ctx.world_size or shard.rank != ctx.rank:
        raise ValueError(f"{options.shard_manifest} is for rank {shard.rank} of {shard.world_size}, "
                         f"but this process is rank {ctx.rank} of {ctx.world_size}")
    shard = replace(shard, batch_size=t.batch_size)
    batches = ShardedBatches(shard, t.seed, config.tokens, config.data.params.size, config.data.params.hflip)
    eval_samples = read_samples(options.eval_manifest)[1] if options.eval_manifest else None

    # ---- wrap for data parallelism ----
    if ctx.distributed:
        ids = [device.index] if device.type == "cuda" else None
        # Unused parameters occur with --no-refine (the refinement layers get no gradient).
        model_ddp = DistributedDataParallel(model, device_ids=ids, find_unused_parameters=True)
        disc_ddp = DistributedDataParallel(RealFakeLogits(disc), device_ids=ids)
    else:
        model_ddp, disc_ddp = model, RealFakeLogits(disc)

    last_layer = last_layer_weight(model)
    d_loss_fn = D_LOSSES[d.disc_loss]
    global_batch = t.batch_size * ctx.world_size * t.grad_accumulation
    emit({"event": "start", "step": step, "total_steps": t.iterations, "parameters": _count(model),
          "discriminator_parameters": _count(disc), "samples": len(shard.samples),
          "eval_samples": len(eval_samples) if eval_samples else 0, "global_batch": global_batch,
          "world_size": ctx.world_size, "device": str(device), "refine": options.refine, "init": options.init,
          "lpips": lpips is not None, "feature_loss": feature_loss is not None})

    metrics_path = os.path.join(options.run_dir, "metrics.json")
    history: List[dict] = []
    if main and options.resume and os.path.exists(metrics_path):
        with open(metrics_path, "r", encoding="utf-8") as handle:
            history = [e for e in json.load(handle).get("eval", []) if e["step"] <= step]

    def run_eval():
        if eval_samples is None:
            return None
        result = None
        if main:
            result = {"step": step, **evaluate({"psnr": model, "psnr_ema": ema.model}, eval_samples, config,
                                               options.refine, device)}
            history.append(result)
            emit({"event": "eval", **result})
            write_metrics()
        barrier(ctx)
        return result

    def write_metrics():
        _write_json(metrics_path, {"config": config.to_dict(), "versions": ckpt.versions(), "step": step,
                                   "init": options.init, "refine": options.refine,
                                   "psnr_convention": PSNR_CONVENTION, "eval": history})

    last_saved = step if options.resume else -1

    def save():
        nonlocal last_saved
        # The weights are identical on every rank, so every rank takes the same branch.
        if not _weights_finite(model, disc):
            raise NonFiniteLossError(_divergence_message("the weights became non-finite", step, options.run_dir, t.lr))
        states = all_gather_objects(ckpt.capture_rng(device), ctx)
        if main:
            path = ckpt.save_checkpoint(
                options.run_dir, step=step, micro_step=micro_step, model=model, ema=ema, disc=disc, opt_ae=opt_ae,
                opt_disc=opt_disc, rng_states=states, config_json=config.to_json(),
                extra={"world_size": ctx.world_size, "batch_size": t.batch_size, "init": options.init,
                       "refine": options.refine, "seed": t.seed}, keep=t.keep_checkpoints)
            emit({"event": "checkpoint", "step": step, "path": path})
        last_saved = step

    # ---- training ----
    stopped = False
    started = time.perf_counter()
    start_step = step
    window: Dict[str, float] = {}
    with StopRequest() as stop:
        while step < t.iterations:
            optimizer_idx = step % 2 if step > d.disc_start else 0
            disc_factor = adopt_weight(d.disc_factor, step, d.disc_start)
            parts = {}
            for micro in range(t.grad_accumulation):
                image, gpscodes, regions = batches.batch(micro_step, device)
                syncing = micro == t.grad_accumulation - 1 or not ctx.distributed
                ddp = model_ddp if optimizer_idx == 0 else disc_ddp
                sync_context = ddp.no_sync() if not syncing else _null_context()
                with sync_context:
                    if optimizer_idx == 0:
                        recon = reconstruct(model_ddp, image, gpscodes, regions, options.refine)
                        losses = {"pixel": pixel_loss(recon, image, config.loss.pixel.type)}
                        nll = config.loss.pixel.weight * losses["pixel"]
                        if lpips is not None:
                            losses["lpips"] = lpips(recon, image)
                            nll = nll + d.perceptual_weight * losses["lpips"]
                        total = nll
                        if disc_factor > 0:
                            disc.requires_grad_(False)
                            losses["g"] = generator_adversarial_loss(disc(recon))
                            disc.requires_grad_(True)
                            losses["d_weight"] = adaptive_gan_weight(nll, losses["g"], last_layer, d.disc_weight)
                            total = total + losses["d_weight"] * disc_factor * losses["g"]
                        if feature_loss is not None:
                            losses["feature"] = feature_loss(recon, image)
                            total = total + config.loss.perceptual.weight * losses["feature"]
                    else:
                        with torch.no_grad():
                            recon = reconstruct(model_ddp, image, gpscodes, regions, options.refine)
                        logits_real, logits_fake = disc_ddp(image, recon.detach())
                        losses = {"d": disc_factor * d_loss_fn(logits_real, logits_fake)}
                        total = losses["d"]
                    (total / t.grad_accumulation).backward()
                losses["total"] = total
                for name, value in losses.items():
                    parts[name] = parts.get(name, 0.0) + float(value.detach()) / t.grad_accumulation
                micro_step += 1

            # A NaN/inf loss would poison the weights and every later checkpoint: stop on all ranks.
            bad = sorted(name for name, value in parts.items() if not math.isfinite(value))
            if any_rank(bool(bad), ctx):
                what = (f"the training loss became non-finite ({', '.join(f'{n} = {parts[n]}' for n in bad)})" if bad
                        else "the training loss became non-finite on another rank")
                raise NonFiniteLossError(_divergence_message(what, step + 1, options.run_dir, t.lr))

            if optimizer_idx == 0:
                if t.grad_clip > 0:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), t.grad_clip)
                opt_ae.step()
                opt_ae.zero_grad(set_to_none=True)
                ema.update(model)
            else:
                opt_disc.step()
                opt_disc.zero_grad(set_to_none=True)
            step += 1

            # ---- log, evaluate, save, stop ----
            for name, value in parts.items():
                window[name] = value
            if step % t.log_interval == 0 or step == t.iterations or step == start_step + 1:
                names = sorted(window)
                means = all_reduce_mean(torch.tensor([window[n] for n in names], dtype=torch.float64), ctx)
                elapsed = time.perf_counter() - started
                rate = (step - start_step) * global_batch / max(elapsed, 1e-9)
                emit({"event": "step", "step": step, "total_steps": t.iterations,
                      "loss": float(means[names.index("total")]), "losses": {n: float(v) for n, v in zip(names, means)}, "optimizer": "disc" if optimizer_idx else "ae",
                      "epoch": batches.indices(micro_step - 1)[0], "images_per_s": rate,
                      "eta_s": (t.iterations - step) * elapsed / max(step - start_step, 1)})
                window = {}
            if t.eval_interval and step % t.eval_interval == 0 and step != t.iterations:
                run_eval()
            if step % t.save_interval == 0:
                save()
            if any_rank(stop.requested, ctx):
                stopped = True
                break

    # ---- finish ----
    if last_saved != step and (step > 0 or options.resume):
        save()
    final_eval = run_eval()
    if main:
        if step > 0:
            extra = {"train_step": step, "train_config": config.to_json(), "init": options.init,
                     "refine": json.dumps(options.refine)}
            save_tokenizer(model, os.path.join(options.run_dir, "model.safetensors"), config.model, extra)
            save_tokenizer(ema.model, os.path.join(options.run_dir, "model_ema.safetensors"), config.model, extra)
        if eval_samples is None:
            write_metrics()
        if stopped:
            emit({"event": "stopped", "step": step})
    return {"step": step, "stopped": stopped, "eval": final_eval, "run_dir": options.run_dir,
            "checkpoint": ckpt.latest_checkpoint(options.run_dir) if main else None,
            "rank": ctx.rank, "weights_sha256": weights_digest(model)}


def weights_digest(model) -> str:
    """sha256 of every parameter's bytes in state-dict order (ranks compare their copies)."""
    digest = hashlib.sha256()
    for name, value in model.state_dict().items():
        digest.update(name.encode())
        digest.update(value.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


class _null_context:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
