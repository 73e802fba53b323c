// The published GPSToken preprocessing: scale the shorter side to `size`, then a centre crop
// to size x size. The published data pipeline (datasets/base.py, albumentations 1.3.1) runs
// `SmallestMaxSize(max_size=size)`, whose default interpolation is OpenCV's INTER_LINEAR,
// then `CenterCrop(size, size)`, on the array from Pillow's `convert("RGB")`.
import { resizeImage, resizeOpenCvLinear, type ResizeFilter } from './resize.ts';
import type { RgbImage } from './types.ts';

/** 'published' is the reference recipe (OpenCV bilinear); a Pillow filter name resizes with Pillow instead. */
export type PreprocessMethod = 'published' | ResizeFilter;

/** Rounds half to even, as Python 3's round() does on the float albumentations computes. */
function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Returns the size after scaling the shorter side to `size`, as albumentations 1.3.1
 * computes it: scale = size / min(width, height), each side round(side * scale).
 */
export function shorterSideTarget(width: number, height: number, size: number): { width: number; height: number } {
  const scale = size / Math.min(width, height);
  if (scale === 1) return { width, height };
  return { width: roundHalfEven(width * scale), height: roundHalfEven(height * scale) };
}

/** Crops the central size x size square; the top-left corner is floor((side - size) / 2), as albumentations' CenterCrop. */
export function centerCrop(img: RgbImage, size: number): RgbImage {
  if (!Number.isInteger(size) || size < 1 || size > img.width || size > img.height) {
    throw new RangeError(`centre crop of ${size}x${size} does not fit a ${img.width}x${img.height} image`);
  }
  const x0 = Math.floor((img.width - size) / 2);
  const y0 = Math.floor((img.height - size) / 2);
  return cropImage(img, x0, y0, size, size);
}

/** Copies the width x height block whose top-left pixel is (x0, y0). */
export function cropImage(img: RgbImage, x0: number, y0: number, width: number, height: number): RgbImage {
  if (x0 < 0 || y0 < 0 || x0 + width > img.width || y0 + height > img.height) {
    throw new RangeError(`crop ${width}x${height} at (${x0}, ${y0}) leaves the ${img.width}x${img.height} image`);
  }
  const out = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const start = ((y0 + y) * img.width + x0) * 3;
    out.set(img.data.subarray(start, start + width * 3), y * width * 3);
  }
  return { width, height, data: out };
}

/** Scales the shorter side to `size` and centre-crops to size x size (the published recipe by default). */
export function preprocessImage(img: RgbImage, size: number, method: PreprocessMethod = 'published'): RgbImage {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`preprocess size must be a positive integer, got ${size}`);
  const target = shorterSideTarget(img.width, img.height, size);
  if (target.width < size || target.height < size) {
    throw new RangeError(`scaling ${img.width}x${img.height} to a shorter side of ${size} gave ${target.width}x${target.height}`);
  }
  const scaled = method === 'published' ? resizeOpenCvLinear(img, target.width, target.height) : resizeImage(img, target.width, target.height, method);
  return scaled.width === size && scaled.height === size ? scaled : centerCrop(scaled, size);
}
