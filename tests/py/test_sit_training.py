"""train-generator's job on token files: statistics, export and loading for generation."""
import json
import os
import signal

import numpy as np
import pytest

from py_kernels import safetensors_io
from py_kernels.sit.train_job import read_token_files, train_generator
from py_kernels.sit.weights import load_sit
from py_kernels.train.stop import TrainingStopped

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


def test_stop_request_saves_a_checkpoint_and_the_rerun_resumes(tmp_path):
    """SIGTERM (what the CLI sends on Ctrl-C) stops after the step in flight; the rerun ends
    with the same weights as an uninterrupted run."""
    write_tokens(str(tmp_path / "tokens"), np.random.default_rng(2))
    spec = {"config": CONFIG, "tokens": str(tmp_path / "tokens"), "iterations": 3}
    whole = train_generator({**spec, "out": str(tmp_path / "whole")}, lambda event: None)

    def stop_at_start(event):
        if event["event"] == "start":
            os.kill(os.getpid(), signal.SIGTERM)

    run = str(tmp_path / "run")
    with pytest.raises(TrainingStopped) as stopped:
        train_generator({**spec, "out": run}, stop_at_start)
    checkpoint = os.path.join(run, "checkpoints", "step-00000001.safetensors")
    assert (stopped.value.step, stopped.value.checkpoint) == (1, checkpoint)
    assert os.path.isfile(checkpoint)
    assert not os.path.exists(os.path.join(run, "generator.safetensors"))

    events = []
    result = train_generator({**spec, "out": run}, events.append)
    assert [e for e in events if e["event"] == "resumed"] == [{"event": "resumed", "step": 1, "checkpoint": checkpoint}]
    assert result["resumed_from"] == 1
    resumed, _ = safetensors_io.load_numpy(result["weights"])
    uninterrupted, _ = safetensors_io.load_numpy(whole["weights"])
    assert sorted(resumed) == sorted(uninterrupted)
    for key, value in uninterrupted.items():
        np.testing.assert_array_equal(resumed[key], value, err_msg=key)
