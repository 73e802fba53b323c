"""train-generator's job on token files: statistics, export and loading for generation."""
import json
import os

import numpy as np
import pytest

from py_kernels import safetensors_io
from py_kernels.sit.train_job import read_token_files, train_generator
from py_kernels.sit.weights import load_sit

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIG = os.path.join(REPO, "experiments", "generate", "tiny.yaml")


def write_tokens(root, rng):
    for name in ("cat", "dog"):
        os.makedirs(os.path.join(root, name))
        for i in range(2):
            layout = np.concatenate([rng.uniform(0.05, 0.3, (16, 2)), np.zeros((16, 1)), rng.uniform(-1, 1, (16, 2))], -1)
            tokens = np.concatenate([layout + rng.normal(0, 0.01, layout.shape), rng.normal(0, 1, (16, 4))], -1)
            safetensors_io.save(os.path.join(root, name, f"{i}.safetensors"),
                                {"tokens": tokens.astype(np.float32), "init_gpscodes": layout.astype(np.float32)})


def test_token_files_classes_from_folders(tmp_path):
    write_tokens(str(tmp_path / "tokens"), np.random.default_rng(0))
    tokens, layouts, classes, names = read_token_files(str(tmp_path / "tokens"))
    assert tokens.shape == (4, 16, 9)
    assert layouts.shape == (4, 16, 5)
    assert classes.tolist() == [0, 0, 1, 1]
    assert names == ["cat", "dog"]


def test_train_generator_exports_loadable_weights(tmp_path):
    write_tokens(str(tmp_path / "tokens"), np.random.default_rng(1))
    events = []
    result = train_generator(
        {"config": CONFIG, "tokens": str(tmp_path / "tokens"), "out": str(tmp_path / "run"), "iterations": 3}, events.append
    )
    assert [e["event"] for e in events] == ["data", "start", "log", "exported"]
    metadata = safetensors_io.read_metadata(result["weights"])
    assert json.loads(metadata["token_means"]) == pytest.approx([-0.01, -0.01, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    assert json.loads(metadata["class_names"]) == ["cat", "dog"]
    model, config = load_sit(result["weights"])
    assert config.tokens == 16


def test_token_files_missing_layout_reported(tmp_path):
    os.makedirs(tmp_path / "tokens")
    path = str(tmp_path / "tokens" / "a.safetensors")
    safetensors_io.save(path, {"tokens": np.zeros((16, 9), dtype=np.float32)})
    with pytest.raises(ValueError) as error:
        read_token_files(str(tmp_path / "tokens"))
    assert str(error.value) == f"{path}: no tensor named init_gpscodes or gpscodes or layout; found ['tokens']"
