"""Layout banks: the initial Gaussians of real images, grouped by class, in one safetensors file.

Tensors: ``layouts`` float32 [M, N, 5] rows ``(sigma_x, sigma_y, rho, x, y)`` and ``classes``
int32 [M]. Metadata: ``format`` = ``gpstoken-layout-bank``, ``tokens``, ``class_names``
(JSON list, position = class id), ``source`` and ``partition`` (the partition settings as
JSON). ``gpstoken train-layout --bank`` writes them; the published ``initg.pickle`` is read
into the same structure by :func:`load_layouts`.
"""
import json
import os

import numpy as np

from .. import safetensors_io
from .initg import read_initg

BANK_FORMAT = "gpstoken-layout-bank"


class LayoutBank:
    def __init__(self, layouts, classes, class_names=None, source="<memory>", metadata=None):
        self.layouts = np.asarray(layouts, dtype=np.float32)  # [M, N, 5]
        self.classes = np.asarray(classes, dtype=np.int64)  # [M]
        if self.layouts.ndim != 3 or self.layouts.shape[2] != 5 or len(self.classes) != len(self.layouts):
            raise ValueError(
                f"{source}: a layout bank needs layouts [M, N, 5] and classes [M], got "
                f"{list(self.layouts.shape)} and {list(self.classes.shape)}"
            )
        self.class_names = list(class_names) if class_names else None
        self.source = source
        self.metadata = dict(metadata or {})
        self._members = {int(c): np.flatnonzero(self.classes == c) for c in np.unique(self.classes)}

    @property
    def tokens(self):
        return self.layouts.shape[1]

    @property
    def class_ids(self):
        return sorted(self._members)

    def select(self, ranks, class_ids, seed):
        """Layouts [B, N, 5] for samples given by (rank within their class, class id).

        The j-th sample of class c takes the layout at position j of a seeded permutation of
        the class's layouts, so every layout is used once before any repeats. The choice
        depends only on (seed, class, j), which keeps resumed runs identical. A bank with a
        single class serves every class.
        """
        out = []
        for rank, class_id in zip(ranks, class_ids):
            pool_id = class_id if len(self._members) > 1 else self.class_ids[0]
            if pool_id not in self._members:
                raise ValueError(
                    f"{self.source}: no layouts for class {class_id}; the bank holds classes {self.class_ids[:20]}"
                    f"{' ...' if len(self.class_ids) > 20 else ''}. Pass --classes with classes the bank has."
                )
            members = self._members[pool_id]
            order = np.random.default_rng([seed, pool_id]).permutation(len(members))
            out.append(self.layouts[members[order[rank % len(members)]]])
        return np.stack(out)

    def save(self, path):
        metadata = dict(self.metadata)
        metadata.update({"format": BANK_FORMAT, "tokens": str(self.tokens)})
        if self.class_names:
            metadata["class_names"] = json.dumps(self.class_names)
        safetensors_io.save(path, {"layouts": self.layouts, "classes": self.classes.astype(np.int32)}, metadata)


def load_bank(path):
    tensors, metadata = safetensors_io.load_numpy(path)
    if metadata.get("format") != BANK_FORMAT or "layouts" not in tensors or "classes" not in tensors:
        raise ValueError(
            f"{path}: not a layout bank (expected format={BANK_FORMAT} with tensors 'layouts' and 'classes'); "
            "make one with `gpstoken train-layout --bank`"
        )
    names = json.loads(metadata["class_names"]) if "class_names" in metadata else None
    return LayoutBank(tensors["layouts"], tensors["classes"], names, source=path, metadata=metadata)


def load_layouts(path):
    """A LayoutBank from a bank file (.safetensors) or the published ``initg.pickle``."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"layout file not found: {path}")
    if path.endswith((".pickle", ".pkl")):
        per_class = read_initg(path)
        ids = sorted(per_class)
        layouts = np.concatenate([per_class[c] for c in ids])
        classes = np.concatenate([np.full(len(per_class[c]), c) for c in ids])
        return LayoutBank(layouts, classes, source=path)
    return load_bank(path)
