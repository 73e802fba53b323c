"""Build a model on the meta device (shapes only, no memory), on torch 1.13 and 2.x alike.

torch 1.13 has no ``with torch.device("meta")``, so a TorchFunctionMode adds
``device="meta"`` to the factory calls that module constructors make.
"""
import torch
from torch.overrides import TorchFunctionMode

_FACTORIES = {torch.empty, torch.zeros, torch.ones, torch.full, torch.rand, torch.randn, torch.tensor, torch.arange}


class _MetaFactories(TorchFunctionMode):
    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        if func in _FACTORIES:
            kwargs["device"] = "meta"
        return func(*args, **kwargs)


def build_on_meta(factory):
    """Call ``factory()`` with every parameter and buffer allocated on the meta device."""
    with _MetaFactories():
        return factory()
