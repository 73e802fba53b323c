"""State-dict layouts built from the published YAML configs against the published manifests."""
import os

import pytest

from py_kernels.config import load_config
from py_kernels.tokenizer import build_gpstoken


def read_manifest(path):
    with open(path, encoding="utf-8") as handle:
        rows = [line.rstrip("\n").split("\t") for line in handle if line.strip()]
    assert rows[0] == ["key", "shape", "dtype"]
    return [(key, shape, dtype) for key, shape, dtype in rows[1:]]


def layout(model):
    return [
        (key, "x".join(str(d) for d in tensor.shape), str(tensor.dtype).replace("torch.", ""))
        for key, tensor in model.state_dict().items()
    ]


@pytest.mark.parametrize("name", ["gpstoken_s64", "gpstoken_m128", "gpstoken_l256", "gpstoken_generator"])
def test_layout_matches_published_manifest(reference_dir, name):
    config = load_config(os.path.join(reference_dir, f"{name}.yaml"))
    model = build_gpstoken(config, device="meta")
    manifest = "gpstoken_m128" if name == "gpstoken_generator" else name
    expected = read_manifest(os.path.join(reference_dir, f"{manifest}.tsv"))
    assert sorted(layout(model)) == sorted(expected)
