"""The GPSToken tokenizer (see :mod:`.model`)."""
from .model import GPSToken, build_gpstoken, merge_tile_tokens, refine_gaussians, region_boxes

__all__ = ["GPSToken", "build_gpstoken", "merge_tile_tokens", "refine_gaussians", "region_boxes"]
