"""The decoder from a splatted texture map to an image (see :mod:`.model`)."""
from .model import Decoder, TileNorm
from .tiles import merge_tiles, split_tiles

__all__ = ["Decoder", "TileNorm", "merge_tiles", "split_tiles"]
