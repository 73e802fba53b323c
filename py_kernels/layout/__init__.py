"""Layouts (the Gaussians of all tokens): banks from real images, the published pickle, a generator."""
from .bank import LayoutBank, load_bank, load_layouts
from .gaussians import clamp_gaussians
from .initg import UnsafePickleError, read_initg

__all__ = ["LayoutBank", "UnsafePickleError", "clamp_gaussians", "load_bank", "load_layouts", "read_initg"]
