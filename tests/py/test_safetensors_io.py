import os

import numpy as np
import pytest

from py_kernels import safetensors_io


def test_round_trip(tmp_path):
    path = str(tmp_path / "t.safetensors")
    tensors = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.array([1, 2], dtype=np.int64)}
    safetensors_io.save(path, tensors, {"config": {"x": 1}, "note": "hi"})
    loaded, metadata = safetensors_io.load_numpy(path)
    assert set(loaded) == {"a", "b"}
    np.testing.assert_array_equal(loaded["a"], tensors["a"])
    assert loaded["b"].dtype == np.int64
    assert metadata == {"config": '{"x": 1}', "note": "hi"}


def test_reads_golden_header(golden_dir):
    tensors, _ = safetensors_io.load_numpy(os.path.join(golden_dir, "model", "splat_io.safetensors"))
    assert tensors["colors"].shape == (48, 6)


def test_truncated_file_is_rejected(tmp_path):
    path = str(tmp_path / "t.safetensors")
    safetensors_io.save(path, {"a": np.zeros((100,), np.float32)})
    with open(path, "rb") as handle:
        data = handle.read()
    with open(path, "wb") as handle:
        handle.write(data[:-10])
    with pytest.raises(safetensors_io.SafetensorsError, match="truncated"):
        safetensors_io.load_numpy(path)
