// Resizing that reproduces two reference libraries on 8-bit RGB:
// - Pillow 9.4's `Image.resize` (ImagingResample in libImaging/Resample.c), bit for bit. It is a
//   separable convolution, horizontal pass first, with the filter support widened by the
//   downscale factor. Normalised coefficients become fixed point with 22 fraction bits, and
//   each pass rounds and clips to 8 bits;
// - OpenCV 4's `cv2.resize(..., INTER_LINEAR)` on uint8 images, which the published GPSToken
//   data pipeline calls through albumentations' SmallestMaxSize.
import type { RgbImage } from './types.ts';

export type ResizeFilter = 'box' | 'bilinear' | 'hamming' | 'bicubic' | 'lanczos';

export const RESIZE_FILTERS: readonly ResizeFilter[] = ['box', 'bilinear', 'hamming', 'bicubic', 'lanczos'];

/** Pillow's filter kernels with their support radius at scale 1 (Resample.c). */
const KERNELS: Record<ResizeFilter, { support: number; weight: (x: number) => number }> = {
  box: { support: 0.5, weight: (x) => (x > -0.5 && x <= 0.5 ? 1 : 0) },
  bilinear: {
    support: 1,
    weight: (x) => {
      const ax = Math.abs(x);
      return ax < 1 ? 1 - ax : 0;
    },
  },
  hamming: {
    support: 1,
    weight: (x) => {
      const ax = Math.abs(x);
      if (ax === 0) return 1;
      if (ax >= 1) return 0;
      const t = ax * Math.PI;
      return (Math.sin(t) / t) * (0.54 + 0.46 * Math.cos(t));
    },
  },
  bicubic: { support: 2, weight: bicubicWeight },
  lanczos: { support: 3, weight: (x) => (x >= -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0) },
};

/** Keys' cubic with a = -0.5, as Pillow uses. */
function bicubicWeight(x: number): number {
  const a = -0.5;
  const ax = Math.abs(x);
  if (ax < 1) return ((a + 2) * ax - (a + 3)) * ax * ax + 1;
  if (ax < 2) return (((ax - 5) * ax + 8) * ax - 4) * a;
  return 0;
}

function sinc(x: number): number {
  if (x === 0) return 1;
  const t = x * Math.PI;
  return Math.sin(t) / t;
}

/** Pillow's PRECISION_BITS = 32 - 8 - 2: fraction bits of the fixed-point coefficients. */
const PRECISION_BITS = 22;

/** Fixed-point taps for one axis: for output i, `count[i]` taps starting at source `first[i]`. */
interface AxisCoefficients {
  first: Int32Array;
  count: Int32Array;
  taps: Int32Array;
  tapsPerOutput: number;
}

/** Pillow's precompute_coeffs + normalize_coeffs_8bpc for the box [0, inSize] of one axis. */
function pillowCoefficients(inSize: number, outSize: number, filter: ResizeFilter): AxisCoefficients {
  const kernel = KERNELS[filter];
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = kernel.support * filterScale;
  const tapsPerOutput = Math.ceil(support) * 2 + 1;
  const first = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const taps = new Int32Array(outSize * tapsPerOutput);
  const weights = new Float64Array(tapsPerOutput);
  const inverseScale = 1 / filterScale; // Pillow multiplies by the reciprocal; dividing can differ in the last bit

  for (let i = 0; i < outSize; i++) {
    const centre = (i + 0.5) * scale;
    // C casts with (int), which truncates toward zero; the clamps make that safe here.
    const xmin = Math.max(Math.trunc(centre - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(centre + support + 0.5), inSize) - xmin;
    let total = 0;
    for (let x = 0; x < xmax; x++) {
      const w = kernel.weight((x + xmin - centre + 0.5) * inverseScale);
      weights[x] = w;
      total += w;
    }
    for (let x = 0; x < xmax; x++) {
      const w = total !== 0 ? weights[x]! / total : weights[x]!;
      const scaled = w * (1 << PRECISION_BITS);
      taps[i * tapsPerOutput + x] = Math.trunc(w < 0 ? scaled - 0.5 : scaled + 0.5);
    }
    first[i] = xmin;
    count[i] = xmax;
  }
  return { first, count, taps, tapsPerOutput };
}

/** Pillow's clip8: sums stay below 2^31, so int32 arithmetic with a shift is exact. */
function clipFixed(sum: number): number {
  if (sum <= 0) return 0;
  const value = sum >> PRECISION_BITS;
  return value > 255 ? 255 : value;
}

/**
 * Resizes like Pillow 9.4's `image.resize((width, height), filter)` on an RGB image.
 * Pillow skips a pass whose size does not change; so does this.
 */
export function resizeImage(img: RgbImage, width: number, height: number, filter: ResizeFilter): RgbImage {
  checkTargetSize(img, width, height);
  let current = img;
  if (width !== img.width) current = resampleHorizontal(current, pillowCoefficients(img.width, width, filter), width);
  if (height !== img.height) current = resampleVertical(current, pillowCoefficients(img.height, height, filter), height);
  return current === img ? { width, height, data: img.data.slice() } : current;
}

function checkTargetSize(img: RgbImage, width: number, height: number): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`resize target must be positive integers, got ${width}x${height}`);
  }
  if (img.data.length !== img.width * img.height * 3) {
    throw new RangeError(`image data has ${img.data.length} bytes, expected ${img.width}x${img.height}x3`);
  }
}

// The loops below keep sums in int32 (`| 0`): the largest is 2^21 + 255 * sum(|taps|),
// below 2^31 for every filter, so this is exact and lets V8 stay in integer arithmetic.
function resampleHorizontal(img: RgbImage, coefficients: AxisCoefficients, outWidth: number): RgbImage {
  const { first, count, taps, tapsPerOutput } = coefficients;
  const input = img.data;
  const out = new Uint8Array(outWidth * img.height * 3);
  const half = 1 << (PRECISION_BITS - 1);
  for (let y = 0; y < img.height; y++) {
    const row = y * img.width * 3;
    for (let x = 0; x < outWidth; x++) {
      let r = half;
      let g = half;
      let b = half;
      const base = x * tapsPerOutput;
      const n = count[x]!;
      let source = row + first[x]! * 3;
      for (let k = 0; k < n; k++, source += 3) {
        const tap = taps[base + k]!;
        r = (r + input[source]! * tap) | 0;
        g = (g + input[source + 1]! * tap) | 0;
        b = (b + input[source + 2]! * tap) | 0;
      }
      const target = (y * outWidth + x) * 3;
      out[target] = clipFixed(r);
      out[target + 1] = clipFixed(g);
      out[target + 2] = clipFixed(b);
    }
  }
  return { width: outWidth, height: img.height, data: out };
}

function resampleVertical(img: RgbImage, coefficients: AxisCoefficients, outHeight: number): RgbImage {
  const { first, count, taps, tapsPerOutput } = coefficients;
  const input = img.data;
  const rowLength = img.width * 3;
  const out = new Uint8Array(rowLength * outHeight);
  const sums = new Int32Array(rowLength);
  const half = 1 << (PRECISION_BITS - 1);
  for (let y = 0; y < outHeight; y++) {
    // Row by row over the taps, so the inner loop reads the source contiguously.
    sums.fill(half);
    const base = y * tapsPerOutput;
    for (let k = 0; k < count[y]!; k++) {
      const tap = taps[base + k]!;
      const start = (first[y]! + k) * rowLength;
      for (let i = 0; i < rowLength; i++) sums[i] = (sums[i]! + input[start + i]! * tap) | 0;
    }
    const target = y * rowLength;
    for (let i = 0; i < rowLength; i++) out[target + i] = clipFixed(sums[i]!);
  }
  return { width: img.width, height: outHeight, data: out };
}

// --- OpenCV INTER_LINEAR ---------------------------------------------------------------

/** OpenCV's INTER_RESIZE_COEF_BITS: the linear weights are integers out of 2048. */
const CV_COEF_SCALE = 2048;

/** Rounds half to even, as OpenCV's cvRound (lrint) does. */
function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

interface LinearTaps {
  index: Int32Array;
  weight0: Int32Array;
  weight1: Int32Array;
}

/**
 * Returns OpenCV INTER_LINEAR's source index `s` and float32 fraction `f` for output index `d`
 * (`scale` = 1 / (outSize / inSize), as OpenCV computes it). With `clampWeights` (the
 * horizontal pass) a position before the first or after the last source pixel is moved onto
 * it with f = 0. Without it, s and f are left as they are (the vertical pass clamps indices).
 */
export function opencvLinearSource(d: number, scale: number, inSize: number, clampWeights: boolean): [number, number] {
  let f = Math.fround((d + 0.5) * scale - 0.5);
  let s = Math.floor(f);
  f = Math.fround(f - s);
  if (clampWeights && s < 0) {
    s = 0;
    f = 0;
  }
  if (clampWeights && s >= inSize - 1) {
    s = inSize - 1;
    f = 0;
  }
  return [s, f];
}

/**
 * OpenCV's per-axis source index and fixed-point weights:
 * f = float32((d + 0.5) * scale - 0.5), s = floor(f), weights round((1 - f) * 2048), round(f * 2048).
 * The horizontal axis clamps s and zeroes f at the borders; the vertical axis keeps f and
 * only clamps the row indices later.
 */
function opencvLinearTaps(inSize: number, outSize: number, clampWeights: boolean): LinearTaps {
  const scale = 1 / (outSize / inSize);
  const index = new Int32Array(outSize);
  const weight0 = new Int32Array(outSize);
  const weight1 = new Int32Array(outSize);
  for (let d = 0; d < outSize; d++) {
    const [s, f] = opencvLinearSource(d, scale, inSize, clampWeights);
    index[d] = s;
    weight0[d] = roundHalfEven(Math.fround(1 - f) * CV_COEF_SCALE);
    weight1[d] = roundHalfEven(f * CV_COEF_SCALE);
  }
  return { index, weight0, weight1 };
}

/**
 * Resizes like OpenCV 4's `cv2.resize(img, (width, height), interpolation=cv2.INTER_LINEAR)` on uint8 RGB.
 * An exact halving of both sides takes OpenCV's INTER_AREA shortcut (mean of 2x2, rounded half up).
 * It follows the fixed-point path of OpenCV 4's resize.cpp (`HResizeLinear`, then
 * `VResizeLinear<uchar, int, short, ...>`, whose SIMD and scalar code round alike).
 * NOTE: checked equal to OpenCV 4.6 (Debian 12) on 308 random sizes and crops. The published
 * code ran opencv-python 4.9, which is assumed to match because it does not send non-exact
 * INTER_LINEAR to IPP.
 */
export function resizeOpenCvLinear(img: RgbImage, width: number, height: number): RgbImage {
  checkTargetSize(img, width, height);
  if (width === img.width && height === img.height) return { width, height, data: img.data.slice() };
  if (img.width === 2 * width && img.height === 2 * height) return halveByAreaMean(img);

  const columns = opencvLinearTaps(img.width, width, true);
  const rows = opencvLinearTaps(img.height, height, false);
  const horizontal = new Int32Array(width * 3 * img.height);
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < width; x++) {
      const s0 = (y * img.width + columns.index[x]!) * 3;
      const s1 = (y * img.width + Math.min(columns.index[x]! + 1, img.width - 1)) * 3;
      for (let c = 0; c < 3; c++) {
        horizontal[(y * width + x) * 3 + c] = img.data[s0 + c]! * columns.weight0[x]! + img.data[s1 + c]! * columns.weight1[x]!;
      }
    }
  }

  const out = new Uint8Array(width * height * 3);
  const rowLength = width * 3;
  for (let y = 0; y < height; y++) {
    const r0 = Math.min(Math.max(rows.index[y]!, 0), img.height - 1) * rowLength;
    const r1 = Math.min(Math.max(rows.index[y]! + 1, 0), img.height - 1) * rowLength;
    const b0 = rows.weight0[y]!;
    const b1 = rows.weight1[y]!;
    for (let i = 0; i < rowLength; i++) {
      // OpenCV's VResizeLinear for uchar: drop 4 bits, multiply-high by 16-bit weights, round by 2 bits.
      const v = (((b0 * (horizontal[r0 + i]! >> 4)) >> 16) + ((b1 * (horizontal[r1 + i]! >> 4)) >> 16) + 2) >> 2;
      out[y * rowLength + i] = Math.min(255, Math.max(0, v));
    }
  }
  return { width, height, data: out };
}

function halveByAreaMean(img: RgbImage): RgbImage {
  const width = img.width / 2;
  const height = img.height / 2;
  const out = new Uint8Array(width * height * 3);
  const stride = img.width * 3;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const top = 2 * y * stride + 2 * x * 3;
      for (let c = 0; c < 3; c++) {
        const sum = img.data[top + c]! + img.data[top + 3 + c]! + img.data[top + stride + c]! + img.data[top + stride + 3 + c]!;
        out[(y * width + x) * 3 + c] = (sum + 2) >> 2;
      }
    }
  }
  return { width, height, data: out };
}
