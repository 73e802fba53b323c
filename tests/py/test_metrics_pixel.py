"""PSNR/SSIM presets against scikit-image 0.19 on photo pairs (JPEG-recompressed and blurred)."""
import io
import os

import numpy as np
import pytest
from PIL import Image, ImageFilter
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from py_kernels.metrics.pixel import SSIM_PRESETS, mse, psnr_from_mse, ssim

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def photo_pairs():
    names = sorted(os.listdir(os.path.join(REPO, "data", "embedded")))[:3]
    for name in names:
        image = Image.open(os.path.join(REPO, "data", "embedded", name)).convert("RGB")
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=30)
        recompressed = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
        blurred = image.filter(ImageFilter.GaussianBlur(1.2))
        for label, other in (("jpeg30", recompressed), ("blur", blurred)):
            # A non-square crop checks that rows and columns are not swapped.
            yield f"{name}-{label}", np.asarray(image)[:200, :231], np.asarray(other)[:200, :231]


PAIRS = list(photo_pairs())
SKIMAGE_ARGS = {
    "pytorch-msssim": dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255, channel_axis=2),
    "skimage": dict(channel_axis=2),
}


@pytest.mark.parametrize("preset", sorted(SSIM_PRESETS))
@pytest.mark.parametrize("label,real,fake", PAIRS, ids=[p[0] for p in PAIRS])
def test_ssim_matches_skimage(preset, label, real, fake):
    expected = structural_similarity(real, fake, **SKIMAGE_ARGS[preset])
    assert abs(ssim(real, fake, preset) - expected) < 1e-6


@pytest.mark.parametrize("label,real,fake", PAIRS, ids=[p[0] for p in PAIRS])
def test_psnr_matches_skimage(label, real, fake):
    expected = peak_signal_noise_ratio(real, fake, data_range=255)
    assert abs(psnr_from_mse(mse(real, fake)) - expected) < 1e-6


def test_identical_images():
    _, real, _ = PAIRS[0]
    assert psnr_from_mse(mse(real, real)) == float("inf")
    assert ssim(real, real) == pytest.approx(1.0, abs=1e-12)


def test_image_smaller_than_window():
    tiny = np.zeros((10, 12, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match=r"SSIM preset 'pytorch-msssim' needs images of at least 11x11, got 12x10"):
        ssim(tiny, tiny)
