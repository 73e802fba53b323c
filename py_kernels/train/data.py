"""Training samples from the partition cache and their deterministic order.

The TypeScript launcher decodes every image once, preprocesses it to the training size and
stores, per image, ``cache/<key>.safetensors`` with ``image`` (U8 [H, W, 3]) and the initial
partition for both orientations: ``gpscodes`` [N, 5] and ``regions`` [N, 4] for the image as
it is, ``gpscodes_flip`` and ``regions_flip`` for its horizontal mirror (the partition is
recomputed on the mirrored pixels, as the published dataset does after flipping).

Order: epoch ``e`` visits the samples in ``permutation(seed, e)``; global micro-batch ``j`` of
the epoch is positions ``[j * G, (j + 1) * G)`` with ``G = batch * world_size``, and rank ``r``
reads its slice ``[j * G + r * batch, j * G + (r + 1) * batch)``. The flip of each visit comes
from the same (seed, epoch) generator. Everything depends on (seed, micro-step) only, so a
resumed run and a run with more ranks but the same global batch see the same images.
Samples that do not fill a last global batch are skipped for that epoch.
"""
import json
import os
from dataclasses import dataclass
from typing import List, Optional, Tuple

import numpy as np
import torch

from py_kernels.safetensors_io import load_numpy


class DataError(ValueError):
    """A manifest or cache file that cannot be used; the message names the file."""


@dataclass(frozen=True)
class Sample:
    source: str  # the original image file, for messages
    cache: str  # absolute path of the cache file


@dataclass(frozen=True)
class Shard:
    rank: int
    world_size: int
    batch_size: int
    samples: List[Sample]


def _resolve(path: str, base: str) -> str:
    return path if os.path.isabs(path) else os.path.join(base, path)


def read_samples(manifest_path: str) -> Tuple[dict, List[Sample]]:
    """Read a manifest ``{"samples": [{"source", "cache"}...], ...}``; paths are relative to it."""
    try:
        with open(manifest_path, "r", encoding="utf-8") as handle:
            manifest = json.load(handle)
    except OSError as error:
        raise DataError(f"{manifest_path}: cannot read the manifest ({error.strerror})") from error
    except json.JSONDecodeError as error:
        raise DataError(f"{manifest_path}: not valid JSON ({error})") from error
    base = os.path.dirname(os.path.abspath(manifest_path))
    entries = manifest.get("samples")
    if not isinstance(entries, list) or not entries:
        raise DataError(f"{manifest_path}: 'samples' must be a non-empty list")
    samples = [Sample(source=str(e["source"]), cache=_resolve(str(e["cache"]), base)) for e in entries]
    return manifest, samples


def read_shard(manifest_path: str) -> Shard:
    manifest, samples = read_samples(manifest_path)
    try:
        return Shard(rank=int(manifest["rank"]), world_size=int(manifest["world_size"]),
                     batch_size=int(manifest["batch_size"]), samples=samples)
    except KeyError as error:
        raise DataError(f"{manifest_path}: shard manifest lacks the key {error.args[0]!r}") from error


def epoch_order(seed: int, epoch: int, count: int) -> Tuple[np.ndarray, np.ndarray]:
    """The visiting order and the flip decisions of one epoch, from (seed, epoch) alone."""
    generator = np.random.default_rng([seed, epoch])
    order = generator.permutation(count)
    flips = generator.random(count) < 0.5
    return order, flips


def load_cached(sample: Sample, flip: bool, tokens: int, size: int):
    """One sample as tensors: image [3, H, W] in [-1, 1], gpscodes [N, 5], regions [N, 4]."""
    try:
        tensors, _ = load_numpy(sample.cache)
    except (OSError, ValueError) as error:
        raise DataError(f"{sample.cache} (cache of {sample.source}): cannot read it ({error}); "
                        "delete the file so that `gpstoken train` rebuilds it") from error
    suffix = "_flip" if flip else ""
    image = tensors["image"]
    if flip:
        image = image[:, ::-1, :]
    gpscodes = tensors[f"gpscodes{suffix}"]
    regions = tensors[f"regions{suffix}"]
    if image.shape != (size, size, 3) or gpscodes.shape != (tokens, 5) or regions.shape != (tokens, 4):
        raise DataError(
            f"{sample.cache} (cache of {sample.source}): expected image [{size}, {size}, 3], gpscodes "
            f"[{tokens}, 5], regions [{tokens}, 4]; found {list(image.shape)}, {list(gpscodes.shape)}, "
            f"{list(regions.shape)}")
    # Pixels map to [-1, 1] as v / 127.5 - 1, the published preprocessing.
    pixels = torch.from_numpy(np.ascontiguousarray(image).astype(np.float32) / 127.5 - 1.0)
    return pixels.permute(2, 0, 1), torch.from_numpy(gpscodes), torch.from_numpy(regions)


class ShardedBatches:
    """The micro-batches one rank reads, addressed by global micro-step."""

    def __init__(self, shard: Shard, seed: int, tokens: int, size: int, hflip: bool):
        self.shard = shard
        self.seed = seed
        self.tokens = tokens
        self.size = size
        self.hflip = hflip
        self.global_batch = shard.batch_size * shard.world_size
        self.steps_per_epoch = len(shard.samples) // self.global_batch
        if self.steps_per_epoch == 0:
            raise DataError(
                f"{len(shard.samples)} training images cannot fill one global batch of "
                f"{self.global_batch} (batch {shard.batch_size} x {shard.world_size} ranks); "
                "add images or lower --batch or --ranks")
        self._cached_epoch: Optional[int] = None

    def _order(self, epoch: int):
        if self._cached_epoch != epoch:
            self._order_value = epoch_order(self.seed, epoch, len(self.shard.samples))
            self._cached_epoch = epoch
        return self._order_value

    def indices(self, micro_step: int) -> Tuple[int, List[int], List[bool]]:
        """(epoch, sample indices, flips) of this rank's part of global micro-batch ``micro_step``."""
        epoch, position = divmod(micro_step, self.steps_per_epoch)
        order, flips = self._order(epoch)
        start = position * self.global_batch + self.shard.rank * self.shard.batch_size
        chosen = order[start:start + self.shard.batch_size]
        return epoch, [int(i) for i in chosen], [bool(flips[i]) and self.hflip for i in chosen]

    def batch(self, micro_step: int, device: torch.device):
        """image [B, 3, H, W], gpscodes [B, N, 5], regions [B, N, 4] on ``device``."""
        _, chosen, flips = self.indices(micro_step)
        items = [load_cached(self.shard.samples[i], f, self.tokens, self.size) for i, f in zip(chosen, flips)]
        return tuple(torch.stack(column).to(device) for column in zip(*items))


def eval_batches(samples: List[Sample], batch_size: int, tokens: int, size: int, device: torch.device):
    """Held-out samples in manifest order, never flipped."""
    for start in range(0, len(samples), batch_size):
        items = [load_cached(s, False, tokens, size) for s in samples[start:start + batch_size]]
        yield tuple(torch.stack(column).to(device) for column in zip(*items))
