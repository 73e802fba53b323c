"""Straightforward numpy port of the entropy-driven partition, for speed comparison only.

The published implementation uses OpenCV (cv2.resize, cv2.Sobel); OpenCV is not installed
here, so this port writes the same steps with numpy: float32 bilinear resize to 64x64 with
OpenCV's half-pixel recipe, 3x3 Sobel in float64 with replicated borders, np.histogram,
entropy, and the same split loop. bench/partition.bench.ts runs it on the same photos and
reports the time ratio; it also prints the layouts so the bench can check they agree.

Usage: python3 partition_reference.py --tokens 64,128,256 [--repeat R] IMAGE...
Prints one JSON object: {"ms_per_image": {"64": ...}, "cpu_ms_per_image": {...},
"layouts": {"128": [[[x0, y0, x1, y1], ...] per image]}}; CPU time is this process's user +
system time, which a busy shared machine disturbs less than wall time.
"""

import argparse
import json
import time

import numpy as np
from PIL import Image

SIDE = 64


def grey01(path):
    """Grey map in [0, 1] as the reference computes it (float32 throughout)."""
    rgb = np.asarray(Image.open(path).convert("RGB")).astype(np.uint8)
    img = (rgb / 127.5 - 1.0).astype(np.float32)
    grey = 0.299 * img[:, :, 0] + 0.587 * img[:, :, 1] + 0.114 * img[:, :, 2]
    return (grey + 1.0) / 2.0


def axis_tables(n, clamp):
    scale = 1.0 / (SIDE / n)
    f = ((np.arange(SIDE) + 0.5) * scale - 0.5).astype(np.float32)
    s = np.floor(f).astype(np.int64)
    f = (f - s.astype(np.float32)).astype(np.float32)
    if clamp:
        low = s < 0
        s[low], f[low] = 0, 0
        high = s >= n - 1
        s[high], f[high] = n - 1, 0
    i0 = np.clip(s, 0, n - 1)
    i1 = np.clip(s + 1, 0, n - 1)
    return i0, i1, (np.float32(1) - f).astype(np.float32), f


def resize64(region):
    h, w = region.shape
    x0, x1, wx0, wx1 = axis_tables(w, True)
    y0, y1, wy0, wy1 = axis_tables(h, False)
    horizontal = region[:, x0] * wx0 + region[:, x1] * wx1
    return horizontal[y0, :] * wy0[:, None] + horizontal[y1, :] * wy1[:, None]


def entropy(region):
    img = resize64(region).astype(np.float64)
    p = np.pad(img, 1, mode="edge")
    derivative = p[:, 2:] - p[:, :-2]
    smooth = p[:, :-2] + 2 * p[:, 1:-1] + p[:, 2:]
    gx = 2 * derivative[1:-1] + (derivative[2:] + derivative[:-2])
    gy = smooth[2:] - smooth[:-2]
    magnitude = np.sqrt(gx**2 + gy**2)
    hist, _ = np.histogram(magnitude, bins=512, range=(-5.5, 5.5))
    hist = hist / (hist.sum() + 1e-5)
    return -np.sum(hist * np.log2(hist + 1e-10))


def score(grey, box, weight):
    x0, y0, x1, y1 = box
    h, w = y1 - y0 + 1, x1 - x0 + 1
    return entropy(grey[y0 : y1 + 1, x0 : x1 + 1]) ** weight * h * w


def split(grey, box, weight):
    x0, y0, x1, y1 = box
    w, h = x1 - x0 + 1, y1 - y0 + 1
    xm, ym = x0 + w // 2, y0 + h // 2
    cut_x = [(x0, y0, xm - 1, y1), (xm, y0, x1, y1)]
    cut_y = [(x0, y0, x1, ym - 1), (x0, ym, x1, y1)]
    if w != h:
        halves = cut_x if w > h else cut_y
        return [(score(grey, b, weight), b) for b in halves]
    sx = [(score(grey, b, weight), b) for b in cut_x]
    sy = [(score(grey, b, weight), b) for b in cut_y]
    return sx if min(s for s, _ in sx) < min(s for s, _ in sy) else sy


def partition(grey, tokens, weight=2.5, minhw=8):
    h, w = grey.shape
    root = (0, 0, w - 1, h - 1)
    candidates = [(score(grey, root, weight), root)]
    while len(candidates) < tokens:
        candidates.sort(key=lambda c: c[0], reverse=True)
        for i, (_, (x0, y0, x1, y1)) in enumerate(candidates):
            if x1 - x0 > minhw or y1 - y0 > minhw:
                break
        else:
            raise ValueError(f"only {len(candidates)} regions reachable with minhw {minhw}")
        _, box = candidates.pop(i)
        candidates.extend(split(grey, box, weight))
    return [list(map(int, box)) for _, box in candidates]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", default="64,128,256")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("images", nargs="+")
    args = parser.parse_args()
    greys = [grey01(path) for path in args.images]
    timings, cpu_timings, layouts = {}, {}, {}
    for tokens in [int(t) for t in args.tokens.split(",")]:
        partition(greys[0], tokens)
        start, cpu_start = time.perf_counter(), time.process_time()
        for _ in range(args.repeat):
            layouts[str(tokens)] = [partition(grey, tokens) for grey in greys]
        count = len(greys) * args.repeat
        timings[str(tokens)] = (time.perf_counter() - start) * 1000 / count
        cpu_timings[str(tokens)] = (time.process_time() - cpu_start) * 1000 / count
    print(json.dumps({"ms_per_image": timings, "cpu_ms_per_image": cpu_timings, "layouts": layouts}))


if __name__ == "__main__":
    main()
