"""Layout banks, the Gaussian clamp, token normalisation and the layout generator's training."""
import numpy as np
import pytest
import torch

from py_kernels.layout import LayoutBank, clamp_gaussians, load_bank
from py_kernels.layout.train import train_layout
from py_kernels.sit.tokens import TokenStats, from_state, residual_tokens, to_state, tokens_from_sample


def make_bank(classes):
    layouts = np.zeros((len(classes), 4, 5), dtype=np.float32)
    layouts[:, :, 0] = np.arange(len(classes))[:, None] / 100 + 0.05  # sigma_x tags the layout
    layouts[:, :, 1] = 0.2
    return LayoutBank(layouts, classes, ["a", "b"])


def tags(layouts):
    return [int(round((v - 0.05) * 100)) for v in layouts[:, 0, 0]]


def test_bank_uses_each_class_layout_once_before_repeating():
    bank = make_bank([0, 1, 0, 1, 0])
    chosen = tags(bank.select([0, 1, 2, 3], [0, 0, 0, 0], seed=3))
    assert sorted(chosen[:3]) == [0, 2, 4]
    assert chosen[3] == chosen[0]
    assert tags(bank.select([2], [0], seed=3)) == chosen[2:3]


def test_bank_missing_class_names_available_ones():
    bank = make_bank([0, 1])
    with pytest.raises(ValueError) as error:
        bank.select([0], [5], seed=0)
    assert str(error.value) == (
        "<memory>: no layouts for class 5; the bank holds classes [0, 1]. Pass --classes with classes the bank has."
    )


def test_bank_round_trip(tmp_path):
    bank = make_bank([0, 1, 1])
    path = str(tmp_path / "bank.safetensors")
    bank.save(path)
    loaded = load_bank(path)
    assert np.array_equal(loaded.layouts, bank.layouts)
    assert loaded.classes.tolist() == [0, 1, 1]
    assert loaded.class_names == ["a", "b"]


def test_clamp_gaussians_bounds():
    raw = torch.tensor([[-0.5, 1.5, 1.2, 1.3, -1.4], [0.3, 0.2, -2.0, 0.1, 0.2]])
    published = clamp_gaussians(raw)
    assert published[0].tolist() == pytest.approx([1e-5, 1 - 1e-5, 1 - 1e-5, 1.3, -1.4])
    assert published[1].tolist() == pytest.approx([0.3, 0.2, -(1 - 1e-5), 0.1, 0.2])
    strict = clamp_gaussians(raw, clamp_centers=True)
    assert strict[0, 3:].tolist() == [1.0, -1.0]


def test_tokens_round_trip_through_state():
    tokens = torch.randn(2, 4, 7)
    layouts = torch.rand(2, 4, 5) * 0.5 + 0.1
    layouts[..., 2] = 0
    tokens[..., :5] = layouts + 0.01 * torch.randn(2, 4, 5)
    stats = TokenStats(torch.randn(7) * 0.1, torch.rand(7) + 0.5)
    state = to_state(stats.normalize(residual_tokens(tokens, layouts)))
    assert state.shape == (2, 7, 4, 1)
    assert torch.equal(from_state(state), stats.normalize(residual_tokens(tokens, layouts)))
    back = tokens_from_sample(state, layouts, stats)
    assert torch.allclose(back, tokens, atol=1e-5)


def test_layout_training_resume_is_exact(tmp_path):
    rng = np.random.default_rng(0)
    layouts = np.concatenate([rng.uniform(0.05, 0.3, (6, 8, 2)), np.zeros((6, 8, 1)), rng.uniform(-1, 1, (6, 8, 2))], -1)
    bank = str(tmp_path / "bank.safetensors")
    LayoutBank(layouts, [0, 1, 0, 1, 0, 1], ["a", "b"]).save(bank)
    config = str(tmp_path / "config.yaml")
    with open(config, "w") as handle:
        handle.write(
            "model: {name: SiT-S/2-gs, latent_size: 8, num_classes: 2, in_channels: 9, hidden_size: 32, depth: 1, num_heads: 2}\n"
            "layout_model: {hidden_size: 16, depth: 1, num_heads: 2, batch_size: 4, iterations: 12, log_interval: 4, save_interval: 6}\n"
        )
    events = []
    whole = train_layout({"config": config, "banks": [bank], "out": str(tmp_path / "whole")}, events.append)
    train_layout({"config": config, "banks": [bank], "out": str(tmp_path / "split"), "iterations": 6}, events.append)
    split = train_layout({"config": config, "banks": [bank], "out": str(tmp_path / "split")}, events.append)
    assert split["resumed_from"] == 6
    from py_kernels.safetensors_io import load_numpy

    a, _ = load_numpy(whole["weights"])
    b, _ = load_numpy(split["weights"])
    assert sorted(a) == sorted(b)
    assert all(np.array_equal(a[k], b[k]) for k in a)
