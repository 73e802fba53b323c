"""The restricted reader of the published layout pickle."""
import os
import pickle

import numpy as np
import pytest

from py_kernels.layout.initg import UnsafePickleError, read_initg


class RunsShell:
    def __reduce__(self):
        return (os.system, ("touch pwned-marker",))


class CallsEval:
    def __reduce__(self):
        return (eval, ("1 + 1",))


@pytest.mark.parametrize(
    "payload, refused",
    [
        ({0: [RunsShell()]}, f"{os.system.__module__}.system"),
        ([CallsEval()], "builtins.eval"),
    ],
)
def test_malicious_pickle_refused(tmp_path, monkeypatch, payload, refused):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "initg.pickle"
    path.write_bytes(pickle.dumps(payload))
    with pytest.raises(UnsafePickleError) as error:
        read_initg(str(path))
    assert str(error.value) == (
        f"{path}: rejected global '{refused}'; a layout pickle may only hold numpy arrays in dicts and "
        "lists, so this file was not read. Either build a layout bank from the images with `gpstoken train-layout "
        "--bank BANK.safetensors --images DIR` (it partitions the images afresh and does not read pickles), or, "
        "only if you trust this file, convert it to a bank in a Python session as docs/generate.md shows under "
        "'Converting a trusted layout pickle'."
    )
    assert not (tmp_path / "pwned-marker").exists()


def test_reads_numpy_layouts_per_class(tmp_path):
    rng = np.random.default_rng(0)
    data = {3: [rng.random((8, 6)).astype(np.float32) for _ in range(2)], 7: [rng.random((8, 5))]}
    path = tmp_path / "initg.pickle"
    path.write_bytes(pickle.dumps(data, protocol=2))
    layouts = read_initg(str(path))
    assert sorted(layouts) == [3, 7]
    assert layouts[3].shape == (2, 8, 5)
    assert layouts[3].dtype == np.float32
    assert np.array_equal(layouts[3][1], data[3][1][:, :5])
    assert np.allclose(layouts[7][0], data[7][0])


def test_rejects_wrong_layout_shape(tmp_path):
    path = tmp_path / "initg.pickle"
    path.write_bytes(pickle.dumps({0: [np.zeros((8, 3))]}))
    with pytest.raises(ValueError) as error:
        read_initg(str(path))
    assert str(error.value) == f"{path}: class 0 has layouts of shapes [(8, 3)], expected one [N, >=5] shape"
