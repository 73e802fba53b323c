"""Sliced Wasserstein distance between Laplacian-pyramid patch sets (Karras et al. 2018, ProGAN).

Definition (ProGAN's ``metrics/sliced_wasserstein.py``, parameters as published):
- each image (RGB, float values 0..255) is decomposed into a Laplacian pyramid with the
  5x5 binomial kernel ``[1, 4, 6, 4, 1]^2 / 256`` and mirrored borders, one level per
  resolution from the full size down to 16 pixels;
- from every level, ``patches_per_image`` (128) random 7x7 patches per image are taken
  as 147-d descriptors;
- per level and per set, descriptors are normalised by their per-channel mean and standard
  deviation over all patches and pixels;
- per level, ``repeats`` (4) times ``directions`` (128) random unit directions project both
  sets, and the sorted projections are compared by their mean absolute difference. The
  mean over repeats, times 1e3, is the level's distance, and ``swd`` is the mean over levels.

Determinism: patch positions come from a generator seeded by (seed, set, image index in the
whole set), so splitting a set across workers or shards gives the same descriptors; the
directions come from a generator seeded by (seed, level).
"""
import numpy as np
from scipy import ndimage

PATCH_SIZE = 7
PATCHES_PER_IMAGE = 128
REPEATS = 4
DIRECTIONS = 128
MIN_RESOLUTION = 16
_BINOMIAL = np.float32([1, 4, 6, 4, 1])
_KERNEL = (np.outer(_BINOMIAL, _BINOMIAL) / 256.0).astype(np.float32)[None, None]  # [1, 1, 5, 5]


def level_count(height, width):
    """Return the number of pyramid levels: halve the smaller side while it stays >= 16."""
    side = min(height, width)
    if side < MIN_RESOLUTION:
        raise ValueError(f"SWD needs images of at least {MIN_RESOLUTION}x{MIN_RESOLUTION}, got {width}x{height}")
    count = 0
    while side >= MIN_RESOLUTION:
        count += 1
        side //= 2
    return count


def _pyr_down(x):
    return ndimage.convolve(x, _KERNEL, mode="mirror")[:, :, ::2, ::2]


def _pyr_up(x):
    n, c, h, w = x.shape
    up = np.zeros((n, c, h * 2, w * 2), dtype=np.float32)
    up[:, :, ::2, ::2] = x
    return ndimage.convolve(up, _KERNEL * 4.0, mode="mirror")


def laplacian_pyramid(images, levels):
    """Return ``levels`` arrays ``[N, 3, H / 2^k, W / 2^k]`` (float32) for ``[N, 3, H, W]``."""
    pyramid = [np.float32(images)]
    for _ in range(1, levels):
        pyramid.append(_pyr_down(pyramid[-1]))
        pyramid[-2] -= _pyr_up(pyramid[-1])[:, :, : pyramid[-2].shape[2], : pyramid[-2].shape[3]]
    return pyramid


def image_seed(seed, set_index, image_index):
    return np.random.SeedSequence([int(seed), int(set_index), int(image_index)])


def descriptors(image_hwc, levels, seed, set_index, image_index, patches=PATCHES_PER_IMAGE):
    """Return per-level descriptors ``[patches, 147]`` (float32) of one ``[H, W, 3]`` uint8 image."""
    chw = np.transpose(image_hwc, (2, 0, 1))[None].astype(np.float32)  # [1, 3, H, W]
    rng = np.random.default_rng(image_seed(seed, set_index, image_index))
    half = PATCH_SIZE // 2
    out = []
    for level in laplacian_pyramid(chw, levels):
        _, _, h, w = level.shape
        ys = rng.integers(half, h - half, size=patches)
        xs = rng.integers(half, w - half, size=patches)
        offsets = np.arange(-half, half + 1)
        rows = (ys[:, None] + offsets)[:, :, None]  # [P, 7, 1]
        cols = (xs[:, None] + offsets)[:, None, :]  # [P, 1, 7]
        patch = level[0][:, rows, cols]  # [3, P, 7, 7]
        out.append(np.ascontiguousarray(patch.transpose(1, 0, 2, 3)).reshape(patches, -1))
    return out


def normalise(desc):
    """Normalise ``[M, 147]`` descriptors per colour channel over all patches and pixels."""
    d = desc.reshape(desc.shape[0], 3, -1).astype(np.float64)
    d = (d - d.mean(axis=(0, 2), keepdims=True)) / d.std(axis=(0, 2), keepdims=True)
    return d.reshape(desc.shape[0], -1)


def sliced_wasserstein(a, b, rng, repeats=REPEATS, directions=DIRECTIONS):
    """Return the mean over repeats of the mean absolute difference of sorted projections."""
    if a.shape[0] != b.shape[0]:
        # Unequal set sizes: compare the sorted projections at matching quantiles.
        count = min(a.shape[0], b.shape[0])
    else:
        count = a.shape[0]
    results = []
    for _ in range(repeats):
        dirs = rng.standard_normal((a.shape[1], directions))
        dirs /= np.sqrt(np.sum(dirs * dirs, axis=0, keepdims=True))
        proj_a = np.sort(a @ dirs, axis=0)
        proj_b = np.sort(b @ dirs, axis=0)
        if proj_a.shape[0] != count or proj_b.shape[0] != count:
            proj_a = proj_a[np.linspace(0, proj_a.shape[0] - 1, count).round().astype(int)]
            proj_b = proj_b[np.linspace(0, proj_b.shape[0] - 1, count).round().astype(int)]
        results.append(float(np.mean(np.abs(proj_a - proj_b))))
    return float(np.mean(results))


def swd_from_descriptors(real_levels, fake_levels, seed):
    """Return ``{"swd": mean, "levels": [per-level x 1e3]}`` from per-level descriptor sets."""
    if len(real_levels) != len(fake_levels):
        raise ValueError(
            f"SWD needs the same pyramid depth for both sets, got {len(real_levels)} and {len(fake_levels)} levels; "
            "the two folders hold images of different sizes"
        )
    per_level = []
    for index, (real, fake) in enumerate(zip(real_levels, fake_levels)):
        rng = np.random.default_rng(np.random.SeedSequence([int(seed), 1000 + index]))
        per_level.append(1e3 * sliced_wasserstein(normalise(real), normalise(fake), rng))
    return {"swd": float(np.mean(per_level)), "levels": per_level}
