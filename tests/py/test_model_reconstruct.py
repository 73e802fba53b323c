"""Bridge entry points of `gpstoken reconstruct` on the golden tiny model (64x64 tiles)."""
import os

import numpy as np
import pytest
import torch
from PIL import Image

from py_kernels import safetensors_io
from py_kernels.checkpoints import save_checkpoint
from py_kernels.config import config_from_metadata
from py_kernels.reconstruct import _get_model, load_model, reconstruct_batch, resolve_device, to_uint8
from py_kernels.tokenizer import build_gpstoken


@pytest.fixture(scope="module")
def setup(golden_dir, tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("reconstruct")
    weights = os.path.join(golden_dir, "model", "tiny_weights.safetensors")
    _, metadata = safetensors_io.load_numpy(weights)
    config_path = root / "tiny.yaml"
    config = config_from_metadata(metadata, str(config_path))
    import yaml

    config_path.write_text(yaml.safe_dump({"model": config.to_dict()}))
    io, _ = safetensors_io.load_numpy(os.path.join(golden_dir, "model", "tiny_io.safetensors"))
    return root, str(config_path), weights, io


def outputs_for(root, names, tokens=True):
    return [
        {"recon": str(root / "imgs" / f"{n}.png"), "gt": str(root / "gt" / f"{n}.png"),
         "tokens": str(root / "tokens" / f"{n}.safetensors") if tokens else None}
        for n in names
    ]


def read_png(path):
    return np.asarray(Image.open(path).convert("RGB")).astype(np.int16)


def test_batch_matches_golden_reconstruction(setup):
    root, config, weights, io = setup
    batch = str(root / "batch.safetensors")
    safetensors_io.save(batch, {k: io[k] for k in ("image", "init_gpscodes", "regions")} | {"images": io["image"]})
    outputs = outputs_for(root, ["a", "b"])
    result = reconstruct_batch(batch, outputs, config, weights=weights)
    assert (result["images"], result["tiles"]) == (2, 1)
    assert set(result["timings"]) == {"load", "read", "model", "write", "total"}
    expected = to_uint8(torch.from_numpy(io["recon"]))  # [2, 64, 64, 3]
    for i, target in enumerate(outputs):
        assert np.abs(read_png(target["recon"]) - expected[i]).max() <= 1
        assert np.array_equal(read_png(target["gt"]), to_uint8(torch.from_numpy(io["image"]))[i])
        tokens, metadata = safetensors_io.load_numpy(target["tokens"])
        assert np.abs(tokens["tokens"] - io["tokens"][i]).max() < 1e-4
        assert (metadata["tiles"], metadata["refine"], metadata["image_size"]) == ("1", "true", "64")


def test_tiled_batch_folds_four_tiles(setup):
    root, config, weights, io = setup
    top = np.concatenate([io["image"][0], io["image"][1]], axis=2)  # [3, 64, 128]
    image = np.concatenate([top, top], axis=1)[None]  # [1, 3, 128, 128]
    codes = np.concatenate([io["init_gpscodes"][0], io["init_gpscodes"][1]] * 2)[None]  # [1, 64, 5]
    regions = np.concatenate([io["regions"][0], io["regions"][1]] * 2)[None]
    batch = str(root / "tiled.safetensors")
    safetensors_io.save(batch, {"images": image, "init_gpscodes": codes, "regions": regions})
    outputs = outputs_for(root, ["tiled"], tokens=False)
    result = reconstruct_batch(batch, outputs, config, weights=weights)
    assert result["tiles"] == 2
    expected = to_uint8(torch.from_numpy(io["recon_np2"]))[0]
    assert np.abs(read_png(outputs[0]["recon"]) - expected).max() <= 1


def test_uint8_images_and_reference_quantisation(setup):
    root, config, weights, io = setup
    pixels = np.arange(64 * 64 * 3, dtype=np.int64).reshape(1, 64, 64, 3) % 256
    batch = str(root / "u8.safetensors")
    safetensors_io.save(
        batch, {"images": pixels.astype(np.uint8), "init_gpscodes": io["init_gpscodes"][:1], "regions": io["regions"][:1]}
    )
    outputs = outputs_for(root, ["u8"], tokens=False)
    reconstruct_batch(batch, outputs, config, weights=weights)
    # The float32 round trip of the published script lowers 95 of the 256 levels by one.
    levels = ((np.arange(256) / 127.5 - 1).astype(np.float32) + np.float32(1)) * np.float32(127.5)
    assert np.array_equal(read_png(outputs[0]["gt"]), levels.astype(np.uint8)[pixels[0]])


def test_load_model_describes_and_caches(setup):
    _, config, weights, _ = setup
    first = load_model(config, weights=weights)
    model = _get_model(config, weights, "cpu", False, 0)
    load_model(config, weights=weights)
    assert _get_model(config, weights, "cpu", False, 0) is model
    assert (first["tile_size"], first["device"], first["config"]["gpsconfig"]["gps_num"]) == (64, "cpu", 16)
    assert first["weights"] == weights
    assert first["config_file"] == config


def test_weights_or_random_init_required(setup):
    _, config, _, _ = setup
    with pytest.raises(ValueError) as error:
        load_model(config)
    assert str(error.value) == "no weights given: pass --weights FILE, or --random-init for a random-initialised model"


def test_wrong_weights_give_the_report(setup, tmp_path):
    _, config, _, _ = setup
    other = build_gpstoken(config_from_metadata(
        {"gpsconfig": '{"gps_c": 8, "gpsenc_c": 16, "gpsenc_n": 1, "rois": 2, "gps_rs": [16, 16]}',
         "decoderconfig": '{"z_channels": 8, "ch": 32, "ch_mult": [1, 1, 2], "num_res_blocks": 1}'}, "other"))
    path = str(tmp_path / "other.safetensors")
    save_checkpoint(other, path, other.config)
    with pytest.raises(ValueError) as error:
        load_model(config, weights=path)
    assert str(error.value).startswith(f"{path}: checkpoint does not fit the model built from {config}:")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_gpu_is_a_clear_error():
    with pytest.raises(RuntimeError) as error:
        resolve_device("cuda")
    assert str(error.value) == (
        f"--device cuda was requested but CUDA is not available to torch {torch.__version__} "
        "(no GPU visible, or a CPU-only build); use --device cpu"
    )
