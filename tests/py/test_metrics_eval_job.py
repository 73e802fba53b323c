"""Shard job with the FID network under formula weights: merging shards equals one shard."""
import functools
import os

import numpy as np
import pytest
import torch
from PIL import Image

from py_kernels.metrics import eval_job, inception
from py_kernels.metrics.stats import FeatureAccumulator, inception_score, precision_recall
from py_kernels.safetensors_io import load_numpy, read_metadata
from test_metrics_inception import formula_state_dict, read_layout

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
METRICS = ["psnr", "ssim", "rfid", "sfid", "is", "pr", "swd"]


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pairs")
    real, fake = [], []
    for name in sorted(os.listdir(os.path.join(REPO, "data", "embedded")))[:4]:
        image = Image.open(os.path.join(REPO, "data", "embedded", name)).convert("RGB").resize((64, 64), Image.BICUBIC)
        image.save(folder / f"real-{name}.png")
        image.rotate(5).save(folder / f"fake-{name}.png")
        real.append(str(folder / f"real-{name}.png"))
        fake.append(str(folder / f"fake-{name}.png"))
    return real, fake


@pytest.fixture(scope="module")
def formula_weights(tmp_path_factory, reference_dir):
    model = inception.FIDInceptionV3()
    path = tmp_path_factory.mktemp("weights") / "formula_inception.pth"
    torch.save(formula_state_dict(model, read_layout(reference_dir)), path)
    return str(path)


def run_shards(pairs, weights, count, folder):
    real, fake = pairs
    files = []
    for index in range(count):
        begin, end = index * len(real) // count, (index + 1) * len(real) // count
        spec = {
            "real": real[begin:end], "fake": fake[begin:end], "realOffset": begin, "fakeOffset": begin,
            "paired": True, "metrics": METRICS, "ssimPresets": ["pytorch-msssim", "skimage"],
            "weights": {"fid": weights}, "fakeSize": None, "realStatsGiven": False, "swdLevels": 3,
            "seed": 0, "batchSize": 3, "device": "cpu", "threads": 1,
            "out": str(folder / f"shard-{index}.safetensors"), "metadata": {"settings_key": "test"},
        }
        # The formula weights are not the published file, so the checksum check is lifted here only.
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(inception, "FID_WEIGHTS_SHA256_PREFIX", None)
            eval_job.evaluate_shard(spec, lambda event: None)
        files.append(spec["out"])
    return files


@pytest.fixture(scope="module")
def one_shard(pairs, formula_weights, tmp_path_factory):
    return run_shards(pairs, formula_weights, 1, tmp_path_factory.mktemp("one"))


@pytest.fixture(scope="module")
def two_shards(pairs, formula_weights, tmp_path_factory):
    return run_shards(pairs, formula_weights, 2, tmp_path_factory.mktemp("two"))


@functools.lru_cache(maxsize=None)
def load_shard(path):
    return load_numpy(path)[0]


def merged(files, prefix):
    total = None
    for path in files:
        tensors = load_shard(path)
        part = FeatureAccumulator(tensors[f"{prefix}.sum"].shape[0])
        part.count = int(tensors[f"{prefix}.count"][0])
        part.sum, part.scatter = tensors[f"{prefix}.sum"], tensors[f"{prefix}.scatter"]
        if total is None:
            total = part
            continue
        delta = part.sum / part.count - total.sum / total.count
        total.scatter = total.scatter + part.scatter + np.outer(delta, delta) * (total.count * part.count / (total.count + part.count))
        total.sum = total.sum + part.sum
        total.count += part.count
    return total


def test_two_shards_equal_one(one_shard, two_shards):
    one, two = one_shard, two_shards
    for prefix in ("real.pool3", "fake.pool3", "real.spatial", "fake.spatial"):
        a, b = merged(one, prefix), merged(two, prefix)
        assert a.count == b.count == 4
        scale = np.abs(a.scatter).max()
        assert np.abs(a.scatter - b.scatter).max() <= 1e-9 * scale, prefix
        assert np.abs(a.sum - b.sum).max() <= 1e-9 * np.abs(a.sum).max(), prefix
    spec = {"metrics": ["is", "pr", "swd"], "isSplits": 2, "swdLevels": 3, "seed": 0}
    assert eval_job.finalize({**spec, "shards": one}, lambda e: None) == eval_job.finalize({**spec, "shards": two}, lambda e: None)
    assert read_metadata(one[0])["real_count"] == "4"


def test_scatter_matches_numpy_cov(one_shard):
    files = one_shard
    tensors = load_shard(files[0])
    features = tensors["real.pool3.features"].astype(np.float64)
    stats = merged(files, "real.pool3")
    assert np.abs(stats.scatter / 3 - np.cov(features, rowvar=False)).max() < 1e-9 * np.abs(stats.scatter).max()
    assert tensors["paired.ssim.skimage"].shape == (4,)
    assert tensors["fake.logits"].shape == (4, 1008)
    assert tensors["real.swd.0"].shape == (4 * 128, 147)


def test_inception_score_rules():
    logits = np.zeros((4, 1008))
    assert inception_score(logits, 2) == (pytest.approx(1.0), 0.0)
    with pytest.raises(ValueError, match=r"at least as many images as splits \(10\), got 4"):
        inception_score(logits, 10)


def test_precision_recall_identical_sets():
    rng = np.random.default_rng(0)
    features = rng.standard_normal((20, 8))
    assert precision_recall(features, features) == (1.0, 1.0)
    far = features + 100.0
    assert precision_recall(features, far) == (0.0, 0.0)


def test_accumulator_large_means():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((50, 4)) + 1e8
    acc = FeatureAccumulator(4)
    for chunk in np.array_split(x, 5):
        acc.add(chunk)
    assert np.abs(acc.scatter / 49 - np.cov(x, rowvar=False)).max() < 1e-6


def test_lpips_through_shard_job(pairs, tmp_path):
    from py_kernels.metrics import lpips

    torch.manual_seed(0)
    vgg_path = tmp_path / "vgg16.pth"
    lin_path = tmp_path / "vgg.pth"
    torch.save({f"features.{k}": v for k, v in lpips.vgg16_features().state_dict().items()}, vgg_path)
    torch.save({f"lin{k}.model.1.weight": torch.rand(1, c, 1, 1) for k, c in enumerate(lpips.LAYER_CHANNELS)}, lin_path)
    real, fake = pairs
    spec = {
        "real": real[:2], "fake": [real[0], fake[1]], "realOffset": 0, "fakeOffset": 0, "paired": True,
        "metrics": ["lpips"], "ssimPresets": [], "weights": {"vgg16": str(vgg_path), "lpips": str(lin_path)},
        "fakeSize": None, "realStatsGiven": False, "swdLevels": 0, "seed": 0, "batchSize": 2, "device": "cpu",
        "threads": 1, "out": str(tmp_path / "shard.safetensors"), "metadata": {},
    }
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(lpips, "VGG16_SHA256_PREFIX", None)
        eval_job.evaluate_shard(spec, lambda event: None)
    distances = load_numpy(spec["out"])[0]["paired.lpips"]
    assert distances[0] == 0.0
    assert distances[1] > 0.0
