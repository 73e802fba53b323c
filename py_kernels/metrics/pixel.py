"""PSNR and SSIM on 8-bit RGB images, one named preset per published convention.

All arithmetic is float64 on pixel values in [0, 255]. A preset fixes the SSIM window,
the covariance normalisation and the PSNR data range; results name the preset they used.

- ``pytorch-msssim`` (default): ``pytorch_msssim.ssim(x, y, data_range=255)`` (version 1.0,
  the SSIM package pinned in the published GPSToken requirements; its repository publishes no
  metric script): an 11x11 Gaussian window with sigma 1.5, population covariances, 'valid'
  filtering (no padding), the map averaged over pixels and RGB channels, then over images.
  Equals scikit-image's ``structural_similarity(gaussian_weights=True, sigma=1.5,
  use_sample_covariance=False, data_range=255, channel_axis=2)``.
- ``skimage``: scikit-image 0.19 defaults, ``structural_similarity(x, y, channel_axis=2)``
  on uint8 input (7x7 uniform window, sample covariances ``N / (N - 1)``, data range 255).

PSNR is ``10 log10(255^2 / MSE)`` per image over all pixels and channels
(``skimage.metrics.peak_signal_noise_ratio(x, y, data_range=255)``), averaged over images;
identical images give +inf. ``psnr_dataset`` is the PSNR of the mean MSE, another convention.
"""
import math

import numpy as np

DATA_RANGE = 255.0
K1, K2 = 0.01, 0.03

SSIM_PRESETS = {
    "pytorch-msssim": {"window": "gaussian", "size": 11, "sigma": 1.5, "sample_covariance": False},
    "skimage": {"window": "uniform", "size": 7, "sigma": None, "sample_covariance": True},
}
DEFAULT_SSIM_PRESET = "pytorch-msssim"


def window_1d(preset):
    """Return the separable 1D window of a preset (float64, sums to 1)."""
    size = preset["size"]
    if preset["window"] == "uniform":
        return np.full(size, 1.0 / size)
    # scipy.ndimage.gaussian_filter with truncate=3.5 (scikit-image) and pytorch_msssim agree:
    # radius 5 for sigma 1.5, weights exp(-x^2 / (2 sigma^2)) normalised to sum 1.
    x = np.arange(size, dtype=np.float64) - size // 2
    weights = np.exp(-0.5 / preset["sigma"] ** 2 * x**2)
    return weights / weights.sum()


def filter_valid(image, weights):
    """Correlate ``[H, W, C]`` with the separable window over the fully covered pixels only."""
    size = len(weights)
    rows = image.shape[0] - size + 1
    cols = image.shape[1] - size + 1
    vertical = np.zeros((rows,) + image.shape[1:])
    for k, w in enumerate(weights):
        vertical += w * image[k : k + rows]
    out = np.zeros((rows, cols) + image.shape[2:])
    for k, w in enumerate(weights):
        out += w * vertical[:, k : k + cols]
    return out


def ssim(real, fake, preset_name=DEFAULT_SSIM_PRESET):
    """Return the mean SSIM of two ``[H, W, 3]`` uint8 images under a preset.

    scikit-image filters the whole image with reflected borders and then crops
    ``(size - 1) / 2`` pixels on each side, which keeps exactly the windows that lie fully
    inside the image; filtering only those windows gives the same numbers.
    """
    preset = SSIM_PRESETS[preset_name]
    size = preset["size"]
    if min(real.shape[:2]) < size:
        raise ValueError(f"SSIM preset {preset_name!r} needs images of at least {size}x{size}, got {real.shape[1]}x{real.shape[0]}")
    x = real.astype(np.float64)
    y = fake.astype(np.float64)
    weights = window_1d(preset)
    mu_x = filter_valid(x, weights)
    mu_y = filter_valid(y, weights)
    norm = size * size / (size * size - 1.0) if preset["sample_covariance"] else 1.0
    var_x = norm * (filter_valid(x * x, weights) - mu_x * mu_x)
    var_y = norm * (filter_valid(y * y, weights) - mu_y * mu_y)
    cov_xy = norm * (filter_valid(x * y, weights) - mu_x * mu_y)
    c1 = (K1 * DATA_RANGE) ** 2
    c2 = (K2 * DATA_RANGE) ** 2
    numerator = (2 * mu_x * mu_y + c1) * (2 * cov_xy + c2)
    denominator = (mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2)
    per_channel = (numerator / denominator).mean(axis=(0, 1))  # [C]
    return float(per_channel.mean())


def mse(real, fake):
    """Return the mean squared error over all pixels and channels (float64)."""
    diff = real.astype(np.float64) - fake.astype(np.float64)
    return float(np.mean(diff * diff))


def psnr_from_mse(value):
    """Return ``10 log10(255^2 / mse)``; +inf for identical images."""
    if value == 0:
        return math.inf
    return 10.0 * math.log10(DATA_RANGE**2 / value)
