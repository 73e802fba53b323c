"""The few things the trainer needs from a tokenizer model, whatever its return format.

The tokenizer is built by ``build_gpstoken(config)`` from :mod:`py_kernels.tokenizer`; other
factories (``module:function`` returning an ``nn.Module``) can stand in for research models
or tests. A forward pass may return the reconstruction, a tuple whose first element is the
reconstruction, or a dict with a ``reconstruction`` (or ``recon``) entry.
"""
import importlib
import inspect

import torch
from torch import nn

DEFAULT_FACTORY = "py_kernels.tokenizer:build_gpstoken"


def build_model(factory: str, config) -> nn.Module:
    module_name, _, function_name = factory.partition(":")
    try:
        function = getattr(importlib.import_module(module_name), function_name)
    except (ImportError, AttributeError) as error:
        raise RuntimeError(f"model factory {factory!r} cannot be imported ({error})") from error
    return function(config)


def _accepts_refine(model: nn.Module) -> bool:
    try:
        return "refine" in inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        return False


def reconstruct(model: nn.Module, image, gpscodes, regions, refine: bool) -> torch.Tensor:
    """Reconstruction [B, 3, H, W] of ``image`` from its initial Gaussians and regions."""
    core = model.module if hasattr(model, "module") else model
    kwargs = {"init_gpscodes": gpscodes, "regions": regions}
    if _accepts_refine(core):
        kwargs["refine"] = refine
    elif not refine:
        raise RuntimeError(f"{type(core).__name__}.forward has no 'refine' argument, so --no-refine cannot apply")
    output = model(image, **kwargs)
    if isinstance(output, dict):
        output = output.get("reconstruction", output.get("recon"))
    elif isinstance(output, (tuple, list)):
        output = output[0]
    if not torch.is_tensor(output):
        raise RuntimeError(f"{type(core).__name__}.forward returned no reconstruction tensor")
    return output


def last_layer_weight(model: nn.Module) -> torch.Tensor:
    """The decoder's output convolution weight, where the adaptive GAN weight is measured."""
    core = model.module if hasattr(model, "module") else model
    if hasattr(core, "get_last_layer_weight"):
        return core.get_last_layer_weight()
    decoder = getattr(core, "decoder", None)
    if decoder is not None and hasattr(decoder, "conv_out"):
        return decoder.conv_out.weight
    raise RuntimeError(f"{type(core).__name__} has neither get_last_layer_weight() nor decoder.conv_out")
