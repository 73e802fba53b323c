"""Image decoding for evaluation: Pillow, 8-bit RGB, with the checks the metrics rely on.

Every metric decodes with Pillow (as pytorch-fid and the LPIPS package do), so one decoder
defines the pixels. Greyscale and palette images are expanded to RGB; images with an alpha
channel, 16-bit or floating-point samples are rejected, because any conversion would change
the numbers without the user choosing it.
"""
import os

import numpy as np
from PIL import Image

_ALPHA_MODES = {"RGBA", "LA", "PA", "RGBa", "La"}
_HIGH_DEPTH_MODES = {"I", "F", "I;16", "I;16B", "I;16L", "I;16N", "I;16S"}
_GREY_MODES = {"L", "1"}


def _bits_per_sample(image):
    # Pillow 9 opens 16-bit RGB PNGs as 8-bit "RGB", keeping only the tile's raw mode
    # ("RGB;16B") as a trace, so the raw mode is checked before the image is loaded.
    for tile in getattr(image, "tile", None) or []:
        args = tile[3] if len(tile) > 3 else None
        rawmode = args[0] if isinstance(args, tuple) and args else args
        if isinstance(rawmode, str) and ";16" in rawmode:
            return 16
    return 16 if image.mode in _HIGH_DEPTH_MODES else 8


def probe(path):
    """Return ``{width, height, mode, bits, alpha}`` from the header, without decoding pixels."""
    with Image.open(path) as image:
        alpha = image.mode in _ALPHA_MODES or (image.mode == "P" and "transparency" in image.info)
        return {
            "width": image.width,
            "height": image.height,
            "mode": image.mode,
            "bits": _bits_per_sample(image),
            "alpha": bool(alpha),
        }


def load_rgb(path, size=None):
    """Return ``[H, W, 3]`` uint8 RGB; ``size=(w, h)`` resizes with Pillow's bicubic filter."""
    with Image.open(path) as image:
        info = {"mode": image.mode, "bits": _bits_per_sample(image)}
        if image.mode in _ALPHA_MODES or (image.mode == "P" and "transparency" in image.info):
            raise ValueError(f"{path}: has an alpha channel (mode {image.mode}); save it as RGB first")
        if info["bits"] != 8:
            raise ValueError(f"{path}: has {info['bits']}-bit samples (mode {image.mode}); convert it to 8-bit RGB first")
        rgb = image.convert("RGB")
    if size is not None and rgb.size != tuple(size):
        rgb = rgb.resize(tuple(size), Image.BICUBIC)
    return np.asarray(rgb, dtype=np.uint8)


def list_images(folder):
    """Return the sorted file names of the images in ``folder`` (by extension)."""
    extensions = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"}
    return sorted(name for name in os.listdir(folder) if os.path.splitext(name)[1].lower() in extensions)
