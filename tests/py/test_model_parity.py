"""GPSToken against the golden outputs of the published implementation (tiny random weights)."""
import os

import pytest
import torch

from py_kernels.config import config_from_metadata
from py_kernels.safetensors_io import load_numpy
from py_kernels.tokenizer import build_gpstoken

TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def tiny(golden_dir):
    torch.set_num_threads(1)
    weights, metadata = load_numpy(os.path.join(golden_dir, "model", "tiny_weights.safetensors"))
    model = build_gpstoken(config_from_metadata(metadata, "tiny_weights.safetensors")).eval()
    model.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()}, strict=True)
    io, _ = load_numpy(os.path.join(golden_dir, "model", "tiny_io.safetensors"))
    return model, {k: torch.from_numpy(v) for k, v in io.items()}


def max_error(actual, expected):
    assert actual.shape == expected.shape
    return float((actual - expected).abs().max())


def test_encoder_tokens_match(tiny):
    model, io = tiny
    with torch.inference_mode():
        tokens = model.encode(io["image"], io["init_gpscodes"], io["regions"])
    assert max_error(tokens, io["tokens"]) < TOLERANCE


def test_rendered_map_matches(tiny):
    model, io = tiny
    with torch.inference_mode():
        rendered = model.render(io["tokens"])
    assert max_error(rendered, io["rendered"]) < TOLERANCE


def test_decoder_output_matches(tiny):
    model, io = tiny
    with torch.inference_mode():
        recon = model.decode(io["rendered"])
    assert max_error(recon, io["recon"]) < TOLERANCE


def test_patch_folded_decode_matches(tiny):
    model, io = tiny
    with torch.inference_mode():
        recon = model.decode(model.render(io["tokens_np2"], tiles=2), tiles=2)
    assert max_error(recon, io["recon_np2"]) < TOLERANCE


def test_forward_returns_recon_and_tokens(tiny):
    model, io = tiny
    with torch.inference_mode():
        recon, tokens = model(io["image"], io["init_gpscodes"], io["regions"])
    assert max_error(tokens, io["tokens"]) < TOLERANCE
    assert max_error(recon, io["recon"]) < 1e-3  # rendered from our tokens, not the golden ones


def test_forward_folds_a_2x2_image(tiny):
    model, io = tiny
    image = torch.cat([torch.cat([io["image"][0], io["image"][1]], 2), torch.cat([io["image"][0], io["image"][1]], 2)], 1)
    codes = torch.cat([io["init_gpscodes"][0], io["init_gpscodes"][1]] * 2)[None]  # [1, 64, 5]
    regions = torch.cat([io["regions"][0], io["regions"][1]] * 2)[None]  # [1, 64, 4]
    with torch.inference_mode():
        recon, tokens = model(image[None], codes, regions, tiles=2)
    assert tokens.shape == (1, 64, 9)
    assert max_error(tokens[0, :16], io["tokens"][0]) < TOLERANCE
    assert max_error(recon, io["recon_np2"]) < 1e-3


def test_refine_false_keeps_the_initial_gaussians(tiny):
    model, io = tiny
    with torch.inference_mode():
        tokens = model.encode(io["image"], io["init_gpscodes"], io["regions"], refine=False)
    assert torch.equal(tokens[..., :5], io["init_gpscodes"])
    assert max_error(tokens[..., 5:], io["tokens"][..., 5:]) < TOLERANCE


@pytest.mark.parametrize("count", [5, 16, 23])
def test_variable_token_count(tiny, count):
    model, io = tiny
    codes = io["init_gpscodes"][:, torch.arange(count) % 16]  # [2, count, 5]
    regions = io["regions"][:, torch.arange(count) % 16]
    with torch.inference_mode():
        tokens = model.encode(io["image"], codes, regions)
        recon = model.decode(model.render(tokens))
    assert tokens.shape == (2, count, 9)
    assert recon.shape == (2, 3, 64, 64)
    assert torch.isfinite(recon).all()


def test_encode_rejects_mismatched_counts(tiny):
    model, io = tiny
    with pytest.raises(ValueError) as error:
        model.encode(io["image"], io["init_gpscodes"], io["regions"][:, :8])
    assert str(error.value) == (
        "image (2, 3, 64, 64), init_gpscodes (2, 16, 5) and regions (2, 8, 4) must share the batch and token counts"
    )
