"""FID InceptionV3: state-dict layout and pool3 parity under the golden formula weights."""
import math
import os

import numpy as np
import pytest
import torch

from py_kernels.metrics.inception import FIDInceptionV3, load_fid_inception
from py_kernels.metrics.weights import MissingWeightsError, WeightChecksumError
from py_kernels.safetensors_io import load_numpy

torch.set_num_threads(1)


def read_layout(reference_dir):
    rows = []
    with open(os.path.join(reference_dir, "fid_inception_v3.tsv"), encoding="utf-8") as handle:
        next(handle)
        for line in handle:
            key, shape, dtype = line.rstrip("\n").split("\t")
            rows.append((key, tuple(int(d) for d in shape.split("x")) if shape else (), dtype))
    return rows


def formula_tensor(key, shape, position):
    """Deterministic weights of the golden data: a hash of (element index, tensor position)."""
    n = int(np.prod(shape)) if shape else 1
    i = np.arange(n, dtype=np.float64)
    u = np.sin(12.9898 * (i + 1) + 78.233 * (position + 1)) * 43758.5453
    s = 2 * (u - np.floor(u)) - 1
    if key.endswith("running_var"):
        value = 1 + 0.2 * s
    elif key.endswith("running_mean"):
        value = 0.1 * s
    elif len(shape) > 1:
        fan_in = n // shape[0]
        value = s * math.sqrt(3) * math.sqrt(2) / math.sqrt(fan_in)
    elif key.endswith("bn.weight"):
        value = 1 + 0.1 * s
    else:
        value = 0.1 * s
    return torch.from_numpy(value.astype(np.float32).reshape(shape))


def formula_state_dict(model, layout):
    state = model.state_dict()
    for position, (key, shape, dtype) in enumerate(layout):
        if dtype.startswith("int"):
            continue
        state[key] = formula_tensor(key, shape, position)
    return state


def test_state_dict_layout_matches_reference(reference_dir):
    layout = read_layout(reference_dir)
    state = FIDInceptionV3().state_dict()
    assert list(state) == [key for key, _, _ in layout]
    for key, shape, dtype in layout:
        assert tuple(state[key].shape) == shape, key
        assert str(state[key].dtype) == f"torch.{dtype}", key


def test_pool3_matches_golden_under_formula_weights(reference_dir, golden_dir):
    model = FIDInceptionV3()
    model.load_state_dict(formula_state_dict(model, read_layout(reference_dir)), strict=True)
    model.eval()
    tensors, _ = load_numpy(os.path.join(golden_dir, "model", "fid_inception_io.safetensors"))
    images = torch.from_numpy(tensors["images01"])
    with torch.no_grad():
        out = model(images)
    error = np.abs(out["pool3"].numpy() - tensors["pool3"]).max()
    print(f"pool3 max abs error {error:.3e}")
    assert out["pool3"].shape == (3, 2048)
    assert error < 1e-4
    assert out["spatial"].shape == (3, 17 * 17 * 7)
    assert out["logits"].shape == (3, 1008)


def test_missing_and_mismatched_weights(tmp_path):
    with pytest.raises(MissingWeightsError, match="not found"):
        load_fid_inception(str(tmp_path / "pt_inception-2015-12-05-6726825d.pth"))
    bogus = tmp_path / "pt_inception-2015-12-05-6726825d.pth"
    torch.save({"x": torch.zeros(1)}, bogus)
    with pytest.raises(WeightChecksumError, match="expected a hash starting with 6726825d"):
        load_fid_inception(str(bogus))
