"""Strict checkpoint loading and saving of GPSToken weights."""
import json
import os

import pytest
import torch

from py_kernels import safetensors_io
from py_kernels.checkpoints import CheckpointError, load_weights, read_state_dict, save_checkpoint, unwrap_state_dict
from py_kernels.config import config_from_metadata
from py_kernels.tokenizer import build_gpstoken


@pytest.fixture(scope="module")
def golden(golden_dir):
    path = os.path.join(golden_dir, "model", "tiny_weights.safetensors")
    state, metadata = safetensors_io.load_torch(path)
    return path, state, config_from_metadata(metadata, "tiny.yaml")


def fresh(config):
    torch.manual_seed(0)
    return build_gpstoken(config)


def test_golden_weights_load(golden):
    path, state, config = golden
    model = fresh(config)
    load_weights(model, path)
    assert torch.equal(model.state_dict()["to_gps.1.weight"], state["to_gps.1.weight"])


def write(tmp_path, state, name="w.safetensors"):
    path = str(tmp_path / name)
    safetensors_io.save(path, state)
    return path


def test_renamed_key_is_reported(tmp_path, golden):
    _, state, config = golden
    state = dict(state)
    state["to_gps.1.weights"] = state.pop("to_gps.1.weight")
    path = write(tmp_path, state)
    with pytest.raises(CheckpointError) as error:
        load_weights(fresh(config), path)
    assert str(error.value).splitlines()[:5] == [
        f"{path}: checkpoint does not fit the model built from tiny.yaml:",
        "  missing keys (1):",
        "    to_gps.1.weight",
        "  unexpected keys (1):",
        "    to_gps.1.weights",
    ]


def test_wrong_shape_is_reported(tmp_path, golden):
    _, state, config = golden
    state = dict(state, **{"decoder.conv_in.weight": torch.zeros(64, 8, 3, 3)})
    path = write(tmp_path, state)
    with pytest.raises(CheckpointError) as error:
        load_weights(fresh(config), path)
    assert str(error.value).splitlines()[1:3] == [
        "  mis-shaped keys (1):",
        "    decoder.conv_in.weight: expected [64, 4, 3, 3], found [64, 8, 3, 3]",
    ]


def test_nan_is_reported_and_nothing_loaded(tmp_path, golden):
    _, state, config = golden
    bad = state["gps_embed.weight"].clone()
    bad[0, :2] = float("nan")
    bad[0, 2] = float("inf")
    path = write(tmp_path, dict(state, **{"gps_embed.weight": bad}))
    model = fresh(config)
    before = model.gps_embed.weight.detach().clone()
    with pytest.raises(CheckpointError) as error:
        load_weights(model, path)
    assert str(error.value).splitlines() == [
        f"{path}: checkpoint holds non-finite weights:",
        "  non-finite weights (1):",
        "    gps_embed.weight: 2 NaN, 1 infinite",
        "The training that wrote them diverged; load an earlier checkpoint of that run, "
        "or retrain with a lower learning rate.",
    ]
    assert torch.equal(model.gps_embed.weight, before)


def test_other_config_is_named_in_the_hint(tmp_path, golden):
    _, state, config = golden
    other = config_from_metadata(
        {"gpsconfig": json.dumps(dict(config.to_dict()["gpsconfig"], gps_c=8)),
         "decoderconfig": json.dumps(dict(config.to_dict()["decoderconfig"], z_channels=8))},
        "other.yaml",
    )
    path = str(tmp_path / "saved.safetensors")
    save_checkpoint(fresh(config), path, config)
    with pytest.raises(CheckpointError) as error:
        load_weights(fresh(other), path)
    message = str(error.value)
    assert message.startswith(f"{path}: checkpoint does not fit the model built from other.yaml:")
    assert "The checkpoint's metadata records a different config" in message


def test_save_records_config_and_versions(tmp_path, golden):
    _, _, config = golden
    path = str(tmp_path / "saved.safetensors")
    model = fresh(config)
    save_checkpoint(model, path, config, extra={"step": 7})
    metadata = safetensors_io.read_metadata(path)
    assert json.loads(metadata["gpsconfig"]) == config.to_dict()["gpsconfig"]
    assert json.loads(metadata["decoderconfig"]) == config.to_dict()["decoderconfig"]
    assert metadata["torch"] == torch.__version__
    assert metadata["step"] == "7"
    assert {"python", "gpstoken_commit"} <= set(metadata)
    reloaded = fresh(config)
    load_weights(reloaded, path)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), reloaded.state_dict().values()))


@pytest.mark.parametrize(
    "container",
    [
        lambda s: s,
        lambda s: {"state_dict": s, "epoch": 3},
        lambda s: {"model": {f"module.{k}": v for k, v in s.items()}},
        lambda s: {"ema": dict(s, decay=torch.tensor(0.999), num_updates=torch.tensor(10))},
    ],
)
def test_torch_files_are_unwrapped(tmp_path, golden, container):
    path, state, config = golden
    target = str(tmp_path / "w.pt")
    torch.save(container(state), target)
    loaded, _ = read_state_dict(target)
    assert sorted(loaded) == sorted(state)
    load_weights(fresh(config), target)


def test_pickled_objects_are_refused(tmp_path):
    target = str(tmp_path / "evil.pth")
    torch.save({"state_dict": {"w": torch.zeros(1)}, "obj": object()}, target)
    with pytest.raises(CheckpointError) as error:
        read_state_dict(target)
    assert "cannot be read with torch.load(weights_only=True)" in str(error.value)


def test_unwrap_rejects_dict_without_weights():
    with pytest.raises(CheckpointError) as error:
        unwrap_state_dict({"epoch": 1, "lr": 0.1}, "x.pt")
    assert str(error.value) == (
        "x.pt: contains a dict with keys ['epoch', 'lr'] but no weights; expected a state dict or one under "
        "state_dict, model, ema, model_ema, ema_model"
    )


def test_unknown_format_and_missing_file(tmp_path):
    with pytest.raises(CheckpointError) as error:
        read_state_dict(str(tmp_path / "nope.safetensors"))
    assert str(error.value) == f"{tmp_path / 'nope.safetensors'}: no such checkpoint file"
    other = tmp_path / "w.npz"
    other.write_bytes(b"x")
    with pytest.raises(CheckpointError) as error:
        read_state_dict(str(other))
    assert str(error.value).startswith(f"{other}: unknown checkpoint format")
