"""SiT over token sequences: published state-dict layout and parity with the published model."""
import csv
import json
import os

import pytest
import torch

from py_kernels.safetensors_io import load_torch
from py_kernels.sit import SiT, SiTConfig, config_from_preset
from py_kernels.sit import model as sit_model
from py_kernels.sit.meta import build_on_meta
from py_kernels.transport import guided_velocity


def read_layout(path):
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return {row["key"]: tuple(int(d) for d in row["shape"].split("x")) for row in rows}


def test_xl_gs_state_dict_matches_published_layout(reference_dir):
    expected = read_layout(os.path.join(reference_dir, "sit_xl_gs.tsv"))
    config = config_from_preset("SiT-XL/2-gs", tokens=128, in_channels=21, num_classes=1000)
    model = build_on_meta(lambda: SiT(config))
    actual = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert next(model.parameters()).device.type == "meta"
    assert sorted(actual) == sorted(expected)
    mismatched = {k: (actual[k], expected[k]) for k in expected if actual[k] != expected[k]}
    assert mismatched == {}


@pytest.fixture(scope="module")
def tiny(golden_dir):
    weights, metadata = load_torch(os.path.join(golden_dir, "model", "sit_tiny_weights.safetensors"))
    model = SiT(SiTConfig.from_dict(json.loads(metadata["config"]))).eval()
    model.load_state_dict(weights, strict=True)
    io, io_meta = load_torch(os.path.join(golden_dir, "model", "sit_tiny_io.safetensors"))
    return model, io, io_meta


def test_tiny_velocity_matches_golden(tiny):
    model, io, _ = tiny
    with torch.no_grad():
        velocity = model(io["x"], io["t"], io["y"], cond=io["cond"])
    assert velocity.shape == (4, 9, 16, 1)
    assert float((velocity - io["velocity"]).abs().max()) < 1e-4


def cfg_batch(io, io_meta):
    # The golden guided batch doubles the first two layouts, as the published script
    # concatenates the layouts of the conditional and unconditional halves.
    y = torch.tensor(json.loads(io_meta["cfg_y"]))
    t = torch.full((4,), float(io_meta["cfg_t"]))
    cond = torch.cat([io["cond"][:2], io["cond"][:2]], dim=0)
    return y, t, cond, float(io_meta["cfg_scale"])


def test_tiny_cfg_velocity_matches_golden(tiny):
    model, io, io_meta = tiny
    y, t, cond, scale = cfg_batch(io, io_meta)
    with torch.no_grad():
        guided = model.forward_with_cfg(io["x"], t, y, scale, cond=cond)
    assert float((guided - io["cfg_velocity"]).abs().max()) < 1e-4


def test_guided_velocity_equals_first_half_of_cfg(tiny):
    model, io, io_meta = tiny
    y, t, cond, scale = cfg_batch(io, io_meta)
    velocity = guided_velocity(model, y[:2], cond[:2], cfg_scale=scale)
    with torch.no_grad():
        guided = velocity(io["x"][:2], t[:2])
    assert float((guided - io["cfg_velocity"][:2]).abs().max()) < 1e-4


@pytest.mark.parametrize("low, high, guided", [(0.0, 1.0, True), (0.6, 1.0, False), (0.0, 0.4, False), (0.5, 0.5, True)])
def test_guidance_interval(tiny, low, high, guided):
    model, io, io_meta = tiny
    y, t, cond, scale = cfg_batch(io, io_meta)
    velocity = guided_velocity(model, y[:2], cond[:2], cfg_scale=scale, guidance_low=low, guidance_high=high)
    with torch.no_grad():
        out = velocity(io["x"][:2], t[:2])
        plain = model(io["x"][:2], t[:2], y[:2], cond=cond[:2])
        reference = model.forward_with_cfg(io["x"], t, y, scale, cond=cond, guidance_low=low, guidance_high=high)
    assert torch.allclose(out, reference[:2], atol=1e-5)
    assert torch.equal(out, plain) is (not guided)


def test_explicit_attention_matches_golden(tiny, monkeypatch):
    model, io, _ = tiny
    monkeypatch.setattr(sit_model, "_HAS_SDPA", False)
    with torch.no_grad():
        explicit = model(io["x"], io["t"], io["y"], cond=io["cond"])
    assert float((explicit - io["velocity"]).abs().max()) < 1e-4


def test_config_rejects_unknown_keys():
    with pytest.raises(ValueError) as error:
        SiTConfig.from_dict({"hidden_size": 64, "heads": 4}, source="gen.yaml model")
    assert str(error.value).startswith("gen.yaml model: unknown keys ['heads']; known keys are [")


def test_unknown_preset_lists_known_ones():
    with pytest.raises(ValueError) as error:
        config_from_preset("SiT-XXL/2", tokens=4, in_channels=9, num_classes=2)
    assert str(error.value) == (
        "unknown SiT model 'SiT-XXL/2'; known models are ['SiT-B/2-gs', 'SiT-L/2-gs', 'SiT-S/2-gs', 'SiT-XL/2-gs']"
    )


def test_wrong_token_count_is_reported():
    model = SiT(SiTConfig(input_size=(4, 1), in_channels=9, hidden_size=16, depth=1, num_heads=2, num_classes=2))
    with pytest.raises(ValueError, match=r"SiT input has spatial shape \(5, 1\), expected \(4, 1\)"):
        model(torch.zeros(1, 9, 5, 1), torch.zeros(1), torch.zeros(1, dtype=torch.long), cond=torch.zeros(1, 5, 5))


def test_guidance_without_null_class_rejected():
    config = SiTConfig(input_size=(4, 1), in_channels=9, hidden_size=16, depth=1, num_heads=2, num_classes=3,
                       class_dropout_prob=0.0)
    model = SiT(config)
    with pytest.raises(ValueError) as error:
        guided_velocity(model, torch.tensor([0]), None, cfg_scale=2.0)
    assert str(error.value) == (
        "classifier-free guidance needs the null class 3, but the label table has 3 rows "
        "(the model was built without label dropout); use a guidance scale of 1"
    )
