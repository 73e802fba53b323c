"""Trainer tests on a 32x32 micro tokenizer: config errors, data order, resume, 2 ranks == 1 rank."""
import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import REPO_ROOT
from py_kernels import safetensors_io
from py_kernels.train.config import ConfigError, train_config_from_dict
from py_kernels.train.data import ShardedBatches, Shard, Sample, epoch_order
from py_kernels.train.distributed import DistContext
from py_kernels.train.resolve import apply_overrides
from py_kernels.train.checkpoint import ResumeMismatchError, check_fits
from py_kernels.train.trainer import NonFiniteLossError, RunOptions, _write_json, run_training

MICRO_MODEL = {
    "gpsconfig": {"rois": 2, "gpsenc_n": 1, "gpsenc_c": 32, "gps_c": 4, "gps_num": 8, "gps_rs": [16, 16]},
    "decoderconfig": {"z_channels": 4, "resolution": 32, "ch": 32, "ch_mult": [1, 1], "num_res_blocks": 0},
}


def micro_document(**train):
    return {
        "model": MICRO_MODEL,
        "train": {"lr": 1e-3, "batch_size": 2, "iterations": 6, "log_interval": 1, "save_interval": 3,
                  "eval_interval": 0, "ema_update_after_step": 1, "ema_update_every": 1, **train},
        "loss": {"discriminator": {"disc_start": 4, "disc_ndf": 8, "disc_num_layers": 2, "disc_norm": "none"}},
        "data": {"params": {"size": 32, "adaptive_minhw": 4}},
    }


def grid_layout(size, tokens):
    """A 2 x (tokens / 2) grid in the published region and Gaussian conventions."""
    rows, cols = 2, tokens // 2
    codes, regions = [], []
    for r in range(rows):
        for c in range(cols):
            x0, x1 = c * size // cols, (c + 1) * size // cols - 1
            y0, y1 = r * size // rows, (r + 1) * size // rows - 1
            codes.append([(x1 - x0) / size * 2 / 3, (y1 - y0) / size * 2 / 3, 0,
                          ((x1 + x0) / 2 / (size - 1) - 0.5) * 2, ((y1 + y0) / 2 / (size - 1) - 0.5) * 2])
            regions.append([(v / (size - 1) - 0.5) * 2 for v in (x0, y0, x1, y1)])
    return np.array(codes, np.float32), np.array(regions, np.float32)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """Eight embedded photos at 32x32 in a cache folder, a samples manifest and an eval manifest."""
    root = tmp_path_factory.mktemp("train-data")
    photos = sorted(os.listdir(os.path.join(REPO_ROOT, "data", "embedded")))[:8]
    codes, regions = grid_layout(32, 8)
    samples = []
    for index, name in enumerate(photos):
        image = Image.open(os.path.join(REPO_ROOT, "data", "embedded", name)).convert("RGB").resize((32, 32), Image.BILINEAR)
        cache = root / f"sample-{index}.safetensors"
        safetensors_io.save(str(cache), {"image": np.asarray(image, np.uint8), "gpscodes": codes, "regions": regions,
                                         "gpscodes_flip": codes, "regions_flip": regions})
        samples.append({"source": name, "cache": cache.name})
    (root / "eval.json").write_text(json.dumps({"samples": samples[:4]}))
    return root, samples


def write_config(folder, document):
    path = folder / "config.json"  # JSON is valid YAML
    path.write_text(json.dumps(document))
    return str(path)


def write_shard(folder, dataset, rank, world, batch):
    root, samples = dataset
    path = folder / f"rank-{rank}.json"
    path.write_text(json.dumps({"rank": rank, "world_size": world, "batch_size": batch,
                                "samples": [{"source": s["source"], "cache": str(root / s["cache"])} for s in samples]}))
    return str(path)


def train_in_process(run_dir, dataset, document, resume=False, eval_data=False, refine=True):
    root, samples = dataset
    os.makedirs(run_dir / "shards", exist_ok=True)
    config = train_config_from_dict(document, "micro")
    events = []
    options = RunOptions(run_dir=str(run_dir), shard_manifest=write_shard(run_dir / "shards", dataset, 0, 1, 2),
                         eval_manifest=str(root / "eval.json") if eval_data else None,
                         model_factory="py_kernels.tokenizer:build_gpstoken", resume=resume, refine=refine,
                         init="grid", weights={})
    ctx = DistContext(rank=0, world_size=1, local_rank=0, device=torch.device("cpu"))
    result = run_training(config, options, ctx, events.append, lambda message: None)
    return result, events


def step_losses(events):
    return {e["step"]: e["losses"] for e in events if e["event"] == "step"}


# ---- config ----

CONFIG_ERRORS = [
    ({"train": {"lr": 1e-3, "batchsize": 2}}, "micro: train: unknown key 'batchsize'; known keys: batch_size, betas, "
     "ema_beta, ema_inv_gamma, ema_power, ema_update_after_step, ema_update_every, eval_interval, grad_accumulation, "
     "grad_clip, iterations, keep_checkpoints, log_interval, lr, save_interval, seed, weight_decay"),
    ({"train": {"lr": "fast"}}, "micro: train.lr: expected a number, got 'fast'"),
    ({"loss": {"pixel": {"type": "l2"}}}, "micro: loss.pixel.type must be 'mse' or 'l1', got 'l2'"),
    ({"loss": {"discriminator": {"disc_conditional": True}}},
     "micro: loss.discriminator.disc_conditional: true is not supported (GPSToken trains an unconditional discriminator)"),
    ({"data": {"params": {"size": 64}}},
     "micro: data.params.size (64) must equal the image size the model decodes (gps_rs 16 x 2^(len(ch_mult) - 1) = 32)"),
    ({"optimizer": {}}, "micro: unknown top-level key 'optimizer'; known keys: model, train, loss, data"),
]


@pytest.mark.parametrize("change, message", CONFIG_ERRORS)
def test_config_rejects_invalid(change, message):
    document = micro_document()
    for section, values in change.items():
        document[section] = values if section not in document else {**document[section], **values}
    if "data" in change:
        document["data"] = change["data"]
    with pytest.raises(ConfigError) as error:
        train_config_from_dict(document, "micro")
    assert str(error.value) == message


def test_published_config_loads(reference_dir):
    from py_kernels.train.config import load_train_config

    config = load_train_config(os.path.join(reference_dir, "gpstoken_m128.yaml"))
    assert config.train.betas == (0.5, 0.9)
    assert config.loss.discriminator.disc_start == 600000
    assert config.loss.discriminator.disc_weight == 0.3
    assert config.data.params.size == 256
    assert config.tokens == 128


def test_overrides_replace_steps_batch_seed():
    config = apply_overrides(train_config_from_dict(micro_document(), "micro"), {"steps": 0, "batch": 4, "seed": 7})
    assert (config.train.iterations, config.train.batch_size, config.train.seed) == (0, 4, 7)
    with pytest.raises(ValueError, match=r"^--batch must be a positive integer, got 0$"):
        apply_overrides(config, {"batch": 0})


# ---- data order ----

def test_epoch_order_depends_on_seed_and_epoch_only():
    first, flips = epoch_order(23, 5, 10)
    again, flips_again = epoch_order(23, 5, 10)
    assert first.tolist() == again.tolist()
    assert flips.tolist() == flips_again.tolist()
    assert sorted(first.tolist()) == list(range(10))
    assert epoch_order(23, 6, 10)[0].tolist() != first.tolist()


def test_rank_slices_make_the_single_process_batch():
    samples = [Sample(source=str(i), cache=str(i)) for i in range(10)]
    single = ShardedBatches(Shard(0, 1, 4, samples), 3, 8, 32, True)
    ranks = [ShardedBatches(Shard(r, 2, 2, samples), 3, 8, 32, True) for r in range(2)]
    for micro_step in range(5):  # crosses the epoch boundary (2 batches of 4 per epoch)
        epoch, indices, flips = single.indices(micro_step)
        parts = [b.indices(micro_step) for b in ranks]
        assert parts[0][1] + parts[1][1] == indices
        assert parts[0][2] + parts[1][2] == flips
        assert parts[0][0] == epoch == micro_step // 2


# ---- training ----

def test_resume_continues_the_same_losses(tmp_path, dataset):
    straight, straight_events = train_in_process(tmp_path / "straight", dataset, micro_document(iterations=6))
    train_in_process(tmp_path / "split", dataset, micro_document(iterations=3))
    resumed, resumed_events = train_in_process(tmp_path / "split", dataset, micro_document(iterations=6), resume=True)

    expected = step_losses(straight_events)
    got = step_losses(resumed_events)
    assert sorted(got) == [4, 5, 6]
    for step in (4, 5, 6):
        assert got[step] == expected[step]
    # Both adversarial phases are covered.
    assert "g" in expected[5]
    assert "d" in expected[6]
    assert resumed["weights_sha256"] == straight["weights_sha256"]


def test_accumulation_equals_larger_batch(tmp_path, dataset):
    _, accumulated = train_in_process(tmp_path / "accumulated", dataset,
                                      micro_document(iterations=2, batch_size=2, grad_accumulation=2))
    _, single = train_in_process(tmp_path / "single", dataset, micro_document(iterations=2, batch_size=4))
    accumulated_losses = step_losses(accumulated)
    single_losses = step_losses(single)
    assert sorted(single_losses) == sorted(accumulated_losses) == [1, 2]
    for step, losses in single_losses.items():
        assert accumulated_losses[step]["pixel"] == pytest.approx(losses["pixel"], rel=1e-5)


def test_no_refine_keeps_the_geometry_head(tmp_path, dataset):
    train_in_process(tmp_path / "fixed", dataset, micro_document(iterations=2), refine=False)
    weights, _ = safetensors_io.load_numpy(str(tmp_path / "fixed" / "model.safetensors"))
    assert np.all(weights["to_gps.0.weight"] == 0)  # initialised to zero, never updated
    assert np.all(weights["to_gps.0.bias"] == 0)
    assert np.any(weights["to_gps.1.weight"] != 0)


def test_steps_zero_only_evaluates(tmp_path, dataset):
    result, events = train_in_process(tmp_path / "untrained", dataset, micro_document(iterations=0), eval_data=True)
    metrics = json.loads((tmp_path / "untrained" / "metrics.json").read_text())
    assert result["step"] == 0
    assert [e["event"] for e in events if e["event"] != "log"] == ["start", "eval"]
    assert metrics["eval"][0]["images"] == 4
    assert 0 < metrics["eval"][0]["psnr"] < 30
    assert not os.path.exists(tmp_path / "untrained" / "checkpoints")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_ranks(run_dir, dataset, world, batch):
    """Start ``world`` rank processes as the launcher does and return their event lists."""
    root, samples = dataset
    os.makedirs(run_dir / "shards", exist_ok=True)
    config_path = write_config(run_dir, micro_document(iterations=4, batch_size=batch, save_interval=100))
    port = str(free_port())
    processes = []
    for rank in range(world):
        spec = run_dir / f"spec-{rank}.json"
        spec.write_text(json.dumps({"config": config_path, "run_dir": str(run_dir),
                                    "shard_manifest": write_shard(run_dir / "shards", dataset, rank, world, batch),
                                    "threads": 1, "device": "cpu", "init": "grid", "refine": True, "timeout_s": 120}))
        env = {**os.environ, "RANK": str(rank), "WORLD_SIZE": str(world), "LOCAL_RANK": str(rank),
               "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": port, "OMP_NUM_THREADS": "1"}
        processes.append(subprocess.Popen([sys.executable, "-m", "py_kernels.job", "train.rank:run_rank", str(spec)],
                                          cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outputs = [p.communicate(timeout=180) for p in processes]
    for process, (_, stderr) in zip(processes, outputs):
        assert process.returncode == 0, stderr
    return [[json.loads(line) for line in stdout.splitlines() if line.startswith("{")] for stdout, _ in outputs]



def test_two_ranks_equal_one_rank(tmp_path, dataset):
    two = run_ranks(tmp_path / "two", dataset, world=2, batch=2)
    one = run_ranks(tmp_path / "one", dataset, world=1, batch=4)
    results = [next(e["result"] for e in events if e["event"] == "done") for events in two]
    single = next(e["result"] for e in one[0] if e["event"] == "done")

    assert results[0]["weights_sha256"] == results[1]["weights_sha256"]
    assert [e for e in two[1] if e["event"] not in ("done",)] == []  # only rank 0 reports progress
    two_losses = step_losses(two[0])
    one_losses = step_losses(one[0])
    assert sorted(two_losses) == sorted(one_losses) == [1, 2, 3, 4]
    for step in one_losses:
        assert two_losses[step]["pixel"] == pytest.approx(one_losses[step]["pixel"], rel=1e-5)
    two_weights, _ = safetensors_io.load_numpy(str(tmp_path / "two" / "model.safetensors"))
    one_weights, _ = safetensors_io.load_numpy(str(tmp_path / "one" / "model.safetensors"))
    differences = np.concatenate([np.abs(two_weights[k] - v).ravel() for k, v in one_weights.items()])
    # Adam divides by the gradient RMS, so float noise in near-zero gradients (conv biases in
    # front of GroupNorm) moves a few weights by a fraction of lr = 1e-3. Ranks that trained on
    # different data, or without all-reduced gradients, differ by about lr almost everywhere.
    assert differences.max() < 2e-3
    assert np.quantile(differences, 0.999) < 1e-5
    assert differences.mean() < 1e-6
    assert single["step"] == results[0]["step"] == 4


def test_nan_loss_stops_without_saving_nan_weights(tmp_path, dataset):
    run = tmp_path / "diverged"
    with pytest.raises(NonFiniteLossError) as error:
        train_in_process(run, dataset, micro_document(lr=1e12, iterations=6, save_interval=1))
    message = str(error.value)
    step = int(message.split(" at step ")[1].split(";")[0])
    last = run / "checkpoints" / f"step-{step - 1:08d}.safetensors"
    assert message.startswith("the training loss became non-finite (")
    assert message.endswith(f"; training stopped without saving these weights and the last finite checkpoint is {last}. "
                            "Lower train.lr (now 1e+12) or set train.grad_clip and rerun with --resume to continue "
                            "from it (the config's lr wins over the stored one)")
    tensors, _ = safetensors_io.load_numpy(str(last))
    assert all(np.isfinite(v).all() for k, v in tensors.items() if k.startswith(("model.", "ema.")))
    assert not os.path.exists(run / "checkpoints" / f"step-{step:08d}.safetensors")
    assert not os.path.exists(run / "model.safetensors")


def test_metrics_json_has_null_for_non_finite(tmp_path):
    path = str(tmp_path / "metrics.json")
    _write_json(path, {"eval": [{"step": 2, "psnr": float("nan"), "psnr_ema": float("inf"), "images": 4}]})
    text = (tmp_path / "metrics.json").read_text()
    assert json.loads(text) == {"eval": [{"step": 2, "psnr": None, "psnr_ema": None, "images": 4}]}
    assert "NaN" not in text
    assert "Infinity" not in text


def test_resume_with_another_model_is_one_short_report(tmp_path, dataset):
    run = tmp_path / "run"
    train_in_process(run, dataset, micro_document(iterations=1, save_interval=1))
    saved_config = (run / "config.resolved.json").read_text()
    wider = micro_document(iterations=2)
    wider["model"] = {**MICRO_MODEL, "gpsconfig": {**MICRO_MODEL["gpsconfig"], "gpsenc_c": 64}}
    with pytest.raises(ResumeMismatchError) as error:
        train_in_process(run, dataset, wider, resume=True)
    lines = str(error.value).splitlines()
    checkpoint = run / "checkpoints" / "step-00000001.safetensors"
    assert lines[0] == f"{checkpoint}: checkpoint does not fit the model built from --config micro:"
    assert lines[1:7] == [
        "  model:",
        "    mis-shaped keys (21):",
        "      roialign_layer.weight: expected [64, 128, 1, 1], found [32, 128, 1, 1]",
        "      roialign_layer.bias: expected [64], found [32]",
        "      gps_embed.weight: expected [1, 64], found [1, 32]",
        "      ... and 18 more",
    ]
    assert lines[-1] == (f"The run was trained with the config saved in {run / 'config.resolved.json'}; resume with "
                         "that config, or choose a new --out to train this one from scratch.")
    assert len(lines) == 8
    assert (run / "config.resolved.json").read_text() == saved_config


def test_check_fits_accepts_scalars_stored_as_one_element():
    """safetensors stores 0-d tensors (BatchNorm's num_batches_tracked) as [1]; that still fits."""
    norm = torch.nn.BatchNorm2d(4)
    tensors = {f"disc.{k}": v.reshape(1) if v.dim() == 0 else v for k, v in norm.state_dict().items()}
    check_fits(tensors, "step.safetensors", "run", "config.yaml", disc=norm)
    tensors["disc.running_mean"] = torch.zeros(5)
    with pytest.raises(ResumeMismatchError) as error:
        check_fits(tensors, "step.safetensors", "run", "config.yaml", disc=norm)
    assert str(error.value).splitlines()[1:4] == ["  disc:", "    mis-shaped keys (1):",
                                                  "      running_mean: expected [4], found [5]"]
