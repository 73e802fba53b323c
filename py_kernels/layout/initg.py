"""Read the published per-class layout file ``initg.pickle`` without running pickled code.

The file is a pickle of ``{class_id: [array [N, >=5], ...]}`` (a list indexed by class is
accepted too), each array the initial Gaussians of one real image. A plain ``pickle.load``
would execute whatever globals the file names, so :class:`LayoutUnpickler` admits only the
globals that numpy array reconstruction needs and refuses every other one before it runs.
"""
import collections
import pickle

import numpy as np

# (module, name) pairs a numpy array pickle refers to. numpy 2 writes ``numpy._core``;
# pickle protocols 0 to 2 store the array bytes as text rebuilt by ``_codecs.encode``.
ALLOWED_GLOBALS = {
    ("_codecs", "encode"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("collections", "OrderedDict"),
}


class UnsafePickleError(pickle.UnpicklingError):
    """The pickle names a global that is not needed to rebuild numpy arrays and containers."""


class LayoutUnpickler(pickle.Unpickler):
    def __init__(self, handle, source):
        super().__init__(handle)
        self.source = source

    def find_class(self, module, name):
        if (module, name) in ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise UnsafePickleError(
            f"{self.source}: rejected global '{module}.{name}'; a layout pickle may only hold "
            "numpy arrays in dicts and lists, so this file was not read. Either build a layout bank from "
            "the images with `gpstoken train-layout --bank BANK.safetensors --images DIR` (it partitions "
            "the images afresh and does not read pickles), or, only if you trust this file, convert it to "
            "a bank in a Python session as docs/generate.md shows under 'Converting a trusted layout pickle'."
        )


def load_restricted(path):
    """Unpickle ``path`` admitting only numpy arrays and plain containers."""
    with open(path, "rb") as handle:
        return LayoutUnpickler(handle, path).load()


def read_initg(path, channels=5):
    """Return ``{class_id: float32 array [K, N, channels]}`` from a published layout pickle."""
    raw = load_restricted(path)
    if isinstance(raw, (list, tuple)):
        raw = dict(enumerate(raw))
    if not isinstance(raw, (dict, collections.OrderedDict)):
        raise ValueError(f"{path}: expected a dict of class id -> list of layouts, got {type(raw).__name__}")
    layouts = {}
    for key, entries in raw.items():
        if not isinstance(entries, (list, tuple)) or not entries:
            raise ValueError(f"{path}: class {key!r} contains {type(entries).__name__}, expected a non-empty list of arrays")
        arrays = [np.asarray(entry, dtype=np.float32) for entry in entries]
        shapes = {a.shape for a in arrays}
        if len(shapes) != 1 or arrays[0].ndim != 2 or arrays[0].shape[1] < channels:
            raise ValueError(f"{path}: class {key!r} has layouts of shapes {sorted(shapes)}, expected one [N, >={channels}] shape")
        layouts[int(key)] = np.stack([a[:, :channels] for a in arrays])  # [K, N, 5]
    return layouts
