"""Backend jobs of ``gpstoken eval``: probe folders, evaluate one shard, finalise merged shards.

A shard job decodes its slice of the image lists, computes the paired metrics per image and
the feature statistics of each set, and writes one ``.safetensors`` file (tensor names below;
settings and file names in ``__metadata__``). The Fréchet distances are computed from those
statistics by the TypeScript side; IS, precision/recall and SWD need the per-image arrays of
every shard and are computed by :func:`finalize`.

Shard file tensors (``n`` images of the shard, ``P`` = 128 patches per image):
- ``paired.mse`` ``[n]``, ``paired.ssim.<preset>`` ``[n]``, ``paired.lpips`` ``[n]`` (float64)
- ``<set>.pool3.{count,sum,scatter}``, ``<set>.spatial.{count,sum,scatter}`` (``set`` is
  ``real`` or ``fake``)
- ``fake.logits`` ``[n, 1008]`` (IS), ``<set>.pool3.features`` ``[n, 2048]`` (precision/recall)
- ``<set>.swd.<level>`` ``[m P, 147]`` float32 (SWD descriptors of the shard's images whose
  index in the whole set is below ``swdMaxImages``; about 75 KB per image and level)
"""
import json
import os
import struct

import numpy as np

from py_kernels.job import job
from py_kernels.metrics import pixel, swd
from py_kernels.metrics.images import load_rgb, probe
from py_kernels.metrics.stats import FeatureAccumulator, inception_score, precision_recall
from py_kernels.safetensors_io import save

INCEPTION_METRICS = {"rfid", "sfid", "is", "pr"}


@job
def probe_images(spec, report):
    """Return the header facts of every file in ``spec["files"]`` (errors per file, not raised)."""
    results = []
    for path in spec["files"]:
        try:
            results.append({"file": path, **probe(path)})
        except Exception as error:  # noqa: BLE001 - one unreadable file is reported, not fatal
            results.append({"file": path, "error": f"{type(error).__name__}: {error}"})
    return results


def _device(name):
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return name


def _to_tensor01(images, device):
    import torch

    batch = torch.from_numpy(np.stack(images)).to(device)  # [B, H, W, 3] uint8
    return batch.permute(0, 3, 1, 2).float() / 255.0  # [B, 3, H, W] in [0, 1]


class _SetFeatures:
    """The Inception outputs and SWD descriptors gathered for one image set of a shard."""

    def __init__(self, name, metrics, levels):
        self.name = name
        self.pool3 = FeatureAccumulator(2048) if metrics & {"rfid", "pr"} else None
        self.spatial = FeatureAccumulator(17 * 17 * 7) if "sfid" in metrics else None
        self.keep_features = "pr" in metrics
        self.keep_logits = "is" in metrics and name == "fake"
        self.features, self.logits = [], []
        self.swd_levels = [[] for _ in range(levels)] if "swd" in metrics else None

    def add_network_outputs(self, outputs):
        pool3 = outputs["pool3"].double().cpu().numpy()
        if self.pool3 is not None:
            self.pool3.add(pool3)
        if self.spatial is not None:
            self.spatial.add(outputs["spatial"].double().cpu().numpy())
        if self.keep_features:
            self.features.append(pool3.astype(np.float32))
        if self.keep_logits:
            self.logits.append(outputs["logits"].float().cpu().numpy())

    def add_swd(self, image, levels, seed, set_index, image_index):
        for level, desc in enumerate(swd.descriptors(image, levels, seed, set_index, image_index)):
            self.swd_levels[level].append(desc)

    def tensors(self):
        out = {}
        if self.pool3 is not None:
            out.update(self.pool3.tensors(f"{self.name}.pool3"))
        if self.spatial is not None:
            out.update(self.spatial.tensors(f"{self.name}.spatial"))
        if self.keep_features:
            out[f"{self.name}.pool3.features"] = np.concatenate(self.features) if self.features else np.zeros((0, 2048), np.float32)
        if self.keep_logits:
            out["fake.logits"] = np.concatenate(self.logits) if self.logits else np.zeros((0, 1008), np.float32)
        if self.swd_levels is not None:
            for level, parts in enumerate(self.swd_levels):
                out[f"{self.name}.swd.{level}"] = np.concatenate(parts) if parts else np.zeros((0, 147), np.float32)
        return out


def _load_networks(spec, metrics, device):
    networks, digests = {}, {}
    if metrics & INCEPTION_METRICS:
        from py_kernels.metrics.inception import load_fid_inception

        networks["inception"], digests["fid"] = load_fid_inception(spec["weights"]["fid"], device)
    if "lpips" in metrics:
        from py_kernels.metrics.lpips import load_lpips

        networks["lpips"], lpips_digests = load_lpips(spec["weights"]["vgg16"], spec["weights"]["lpips"], device)
        digests.update(lpips_digests)
    return networks, digests


def _batches(count, size):
    for begin in range(0, count, size):
        yield begin, min(begin + size, count)


@job
def evaluate_shard(spec, report):
    """Evaluate one shard and write its statistics file; return a small summary.

    ``spec``: ``real``/``fake`` (file lists of this shard), ``realOffset``/``fakeOffset``
    (index of the first file in the whole set, for per-image seeds), ``paired`` (the lists
    are aligned pairs), ``metrics``, ``ssimPresets``, ``weights``, ``fakeSize`` (``[w, h]``
    to resize fake images to, or null), ``realStatsGiven`` (skip real Inception features),
    ``swdLevels``, ``swdMaxImages``, ``seed``, ``batchSize``, ``device``, ``threads``, ``out``, ``metadata``.
    """
    import torch

    torch.set_num_threads(int(spec.get("threads") or 1))
    metrics = set(spec["metrics"])
    device = _device(spec.get("device", "auto"))
    networks, digests = _load_networks(spec, metrics, device)
    levels = int(spec.get("swdLevels") or 0)
    swd_max_images = int(spec.get("swdMaxImages") or 1 << 62)
    seed = int(spec["seed"])
    batch_size = int(spec.get("batchSize") or 16)
    fake_size = tuple(spec["fakeSize"]) if spec.get("fakeSize") else None

    # With saved reference statistics only the real SWD descriptors are still computed here.
    real_set = _SetFeatures("real", metrics & {"swd"} if spec.get("realStatsGiven") else metrics, levels)
    fake_set = _SetFeatures("fake", metrics, levels)
    paired = {"mse": [], "lpips": []}
    paired.update({f"ssim.{p}": [] for p in spec["ssimPresets"]})
    need_real_images = real_set.pool3 is not None or real_set.spatial is not None or real_set.swd_levels is not None
    total = len(spec["fake"]) + (len(spec["real"]) if not spec["paired"] else 0)
    done = 0

    def run_set(files, offset, features, set_index, size):
        nonlocal done
        for begin, end in _batches(len(files), batch_size):
            images = [load_rgb(path, size) for path in files[begin:end]]
            _process(images, features, set_index, offset + begin)
            done += end - begin
            report({"event": "progress", "done": done, "total": total})

    def _process(images, features, set_index, first_index):
        if "inception" in networks and (features.pool3 or features.spatial or features.keep_logits):
            with torch.no_grad():
                features.add_network_outputs(networks["inception"](_to_tensor01(images, device)))
        if features.swd_levels is not None:
            for k, image in enumerate(images):
                if first_index + k < swd_max_images:
                    features.add_swd(image, levels, seed, set_index, first_index + k)

    if spec["paired"]:
        for begin, end in _batches(len(spec["fake"]), batch_size):
            reals = [load_rgb(path) for path in spec["real"][begin:end]]
            fakes = [load_rgb(path, fake_size) for path in spec["fake"][begin:end]]
            _paired_metrics(reals, fakes, spec, metrics, networks, device, paired)
            _process(reals, real_set, 0, spec["realOffset"] + begin)
            _process(fakes, fake_set, 1, spec["fakeOffset"] + begin)
            done += end - begin
            report({"event": "progress", "done": done, "total": total})
    else:
        if need_real_images:
            run_set(spec["real"], spec["realOffset"], real_set, 0, None)
        run_set(spec["fake"], spec["fakeOffset"], fake_set, 1, fake_size)

    tensors = {**real_set.tensors(), **fake_set.tensors()}
    for key, values in paired.items():
        if values:
            tensors[f"paired.{key}"] = np.asarray(values, dtype=np.float64)
    metadata = dict(spec.get("metadata") or {})
    metadata["weights_sha256"] = json.dumps(digests)
    metadata["real_count"] = str(len(spec["real"]))
    metadata["fake_count"] = str(len(spec["fake"]))
    os.makedirs(os.path.dirname(os.path.abspath(spec["out"])), exist_ok=True)
    save(spec["out"], tensors, metadata)
    return {"file": spec["out"], "weights": digests, "real": len(spec["real"]), "fake": len(spec["fake"])}


def _paired_metrics(reals, fakes, spec, metrics, networks, device, paired):
    import torch

    for real, fake in zip(reals, fakes):
        if "psnr" in metrics:
            paired["mse"].append(pixel.mse(real, fake))
        if "ssim" in metrics:
            for preset in spec["ssimPresets"]:
                paired[f"ssim.{preset}"].append(pixel.ssim(real, fake, preset))
    if "lpips" in metrics:
        with torch.no_grad():
            x = _to_tensor01(reals, device) * 2 - 1
            y = _to_tensor01(fakes, device) * 2 - 1
            paired["lpips"].extend(float(v) for v in networks["lpips"](x, y).double().cpu())


def _read_tensor(path, key):
    """Read one tensor of a safetensors file without loading the others (shards hold
    covariance-sized statistics next to the per-image arrays read here)."""
    with open(path, "rb") as handle:
        (length,) = struct.unpack("<Q", handle.read(8))
        header = json.loads(handle.read(length))
        entry = header.get(key)
        if entry is None:
            raise ValueError(f"{path}: shard file has no tensor {key!r}; it was computed without that metric")
        begin, end = entry["data_offsets"]
        dtype = np.dtype({"F32": "<f4", "F64": "<f8", "I64": "<i8"}[entry["dtype"]])
        handle.seek(8 + length + begin)
        data = np.frombuffer(handle.read(end - begin), dtype=dtype)
    return data.reshape([int(d) for d in entry["shape"]])


def _concat(files, key):
    return np.concatenate([_read_tensor(path, key) for path in files])


@job
def finalize(spec, report):
    """Compute IS, precision/recall and SWD from the per-image arrays of ``spec["shards"]``."""
    files = spec["shards"]
    metrics = set(spec["metrics"])
    out = {}
    if "is" in metrics:
        mean, std = inception_score(_concat(files, "fake.logits"), int(spec["isSplits"]))
        out["is"], out["is_std"] = mean, std
    if "pr" in metrics:
        precision, recall = precision_recall(_concat(files, "real.pool3.features"), _concat(files, "fake.pool3.features"), k=3)
        out["precision"], out["recall"] = precision, recall
    if "swd" in metrics:
        levels = int(spec["swdLevels"])
        real = [_concat(files, f"real.swd.{level}") for level in range(levels)]
        fake = [_concat(files, f"fake.swd.{level}") for level in range(levels)]
        result = swd.swd_from_descriptors(real, fake, int(spec["seed"]))
        out["swd"], out["swd_levels"] = result["swd"], result["levels"]
    report({"event": "progress", "done": 1, "total": 1})
    return out
