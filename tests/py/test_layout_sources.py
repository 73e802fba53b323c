"""Generation from the published layout pickle and from a trained layout generator."""
import os
import pickle

import numpy as np
import pytest
import torch

from py_kernels import safetensors_io
from py_kernels.generate import generate_images, init_random_weights
from py_kernels.layout import LayoutBank
from py_kernels.layout.generator import load_layout_generator
from py_kernels.layout.train import train_layout
from py_kernels.sit.weights import load_sit, select_state_dict

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIG = os.path.join(REPO, "experiments", "generate", "tiny.yaml")


def random_layouts(rng, count):
    return np.concatenate(
        [rng.uniform(0.05, 0.3, (count, 16, 2)), np.zeros((count, 16, 1)), rng.uniform(-0.9, 0.9, (count, 16, 2))], -1
    ).astype(np.float32)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    init_random_weights("generator", CONFIG, str(root / "generator.safetensors"), seed=2)
    init_random_weights("tokenizer", CONFIG, str(root / "tokenizer.safetensors"), seed=2)
    return root


def spec(models, out, **layout_source):
    return dict(
        config=CONFIG, weights=str(models / "generator.safetensors"), tokenizer=str(models / "tokenizer.safetensors"),
        out=str(out), count=3, batch=2, seed=4, classes=[1, 3], cfg_scale=None, guidance_low=None,
        guidance_high=None, steps=None, sampler=None, method=None, device="cpu", clamp_centers=None, **layout_source,
    )


def test_generate_from_published_pickle(models, tmp_path):
    rng = np.random.default_rng(0)
    layouts = {c: [a for a in random_layouts(rng, 2)] for c in range(4)}
    path = tmp_path / "initg.pickle"
    path.write_bytes(pickle.dumps(layouts))
    result = generate_images(spec(models, tmp_path / "out", layouts=str(path)), lambda event: None)
    assert result == {"out": str(tmp_path / "out"), "written": 3, "skipped": 0, "count": 3}
    assert sorted(os.listdir(tmp_path / "out")) == ["000000.png", "000001.png", "000002.png", "generate.json"]


def test_generate_from_layout_generator(models, tmp_path):
    bank = str(tmp_path / "bank.safetensors")
    LayoutBank(random_layouts(np.random.default_rng(1), 8), np.arange(8) % 4, ["a", "b", "c", "d"]).save(bank)
    trained = train_layout({"config": CONFIG, "banks": [bank], "out": str(tmp_path / "layout"), "iterations": 4}, lambda e: None)
    generator = load_layout_generator(trained["weights"])
    layouts = generator.sample([0, 3], torch.Generator().manual_seed(0))
    assert layouts.shape == (2, 16, 5)
    assert float(layouts[..., :2].min()) >= np.float32(1e-5)
    assert float(layouts[..., 3:].abs().max()) <= 1.0
    result = generate_images(spec(models, tmp_path / "out", layout_model=trained["weights"]), lambda event: None)
    assert result["written"] == 3


def test_ema_weights_preferred_over_model():
    tensors = {"ema_model.a": torch.ones(1), "model.a": torch.zeros(1)}
    assert torch.equal(select_state_dict(tensors, "x")["a"], torch.ones(1))
    assert torch.equal(select_state_dict({"model.a": torch.zeros(1)}, "x")["a"], torch.zeros(1))
    assert sorted(select_state_dict({"a": torch.zeros(1)}, "x")) == ["a"]


def test_weights_without_config_reported(tmp_path):
    path = str(tmp_path / "w.safetensors")
    safetensors_io.save(path, {"a": np.zeros(1, dtype=np.float32)})
    with pytest.raises(ValueError) as error:
        load_sit(path)
    assert str(error.value) == f"{path}: no SiT config in the file's metadata; pass the generator config (--config) that built it"


def test_replaced_layout_file_rejected_on_resume(models, tmp_path):
    bank = tmp_path / "bank.safetensors"
    LayoutBank(random_layouts(np.random.default_rng(2), 4), np.arange(4), ["a", "b", "c", "d"]).save(str(bank))
    generate_images(spec(models, tmp_path / "out", layouts=str(bank)), lambda event: None)
    LayoutBank(random_layouts(np.random.default_rng(3), 4), np.arange(4), ["a", "b", "c", "d"]).save(str(bank))
    with pytest.raises(ValueError) as error:
        generate_images(spec(models, tmp_path / "out", layouts=str(bank)), lambda event: None)
    assert str(error.value) == (
        f"{tmp_path / 'out'} contains images made with other options (content of --layouts changed); "
        "resume with the same options or choose a new --out"
    )
