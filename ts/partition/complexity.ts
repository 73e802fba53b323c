// Region complexity of the entropy-driven partition, bit-exact with the published Python:
// grey in [0, 1] (float32) -> OpenCV INTER_LINEAR resize to 64x64 (float32) -> 3x3 Sobel with
// replicated borders (float64) -> gradient magnitude -> numpy histogram (512 bins over
// [-5.5, 5.5]) -> entropy in bits -> `entropy ** weight * h * w`.
//
// Every float32 step of the reference is reproduced with Math.fround or a Float32Array store.
// A float32 sum or product evaluated in float64 and then rounded equals the float32 operation
// (53 >= 2 * 24 + 2 bits, so double rounding cannot change the result).
import type { RgbImage } from '../image/types.ts';
import { PartitionKernel, type PartitionKernelExports } from './kernel.js';

/** Side of the square every region is resized to before its gradients are measured. */
export const RESIZED_SIDE = 64;
/** Histogram of gradient magnitudes: bin count and range, as in the reference. */
export const HISTOGRAM_BINS = 512;
export const HISTOGRAM_LOW = -5.5;
export const HISTOGRAM_HIGH = 5.5;

const SIDE = RESIZED_SIDE;
/** numpy's `bins / (high - low)`, computed in float64 before any value is binned. */
const BIN_SCALE = HISTOGRAM_BINS / (HISTOGRAM_HIGH - HISTOGRAM_LOW);

/** Luma weights of the reference, applied in float32 as numpy does with a float32 array. */
const LUMA_R = Math.fround(0.299);
const LUMA_G = Math.fround(0.587);
const LUMA_B = Math.fround(0.114);

/**
 * Converts an RGB image to the float32 grey map in [0, 1] that the complexity is measured on:
 * pixels `v / 127.5 - 1` (float64, then cast), luma in float32, then `(g + 1) / 2` in float32.
 */
export function greyForComplexity(img: RgbImage): Float32Array {
  const tables = lumaTables();
  const count = img.width * img.height;
  const grey = new Float32Array(count);
  const data = img.data;
  for (let i = 0; i < count; i += 1) {
    const r = tables.r[data[3 * i]!]!;
    const g = tables.g[data[3 * i + 1]!]!;
    const b = tables.b[data[3 * i + 2]!]!;
    const luma = Math.fround(Math.fround(r + g) + b);
    grey[i] = Math.fround(luma + 1) / 2;
  }
  return grey;
}

let cachedLuma: { r: Float32Array; g: Float32Array; b: Float32Array } | undefined;

/** Per-channel products `weight * pixel` for the 256 possible byte values. */
function lumaTables(): { r: Float32Array; g: Float32Array; b: Float32Array } {
  if (cachedLuma) return cachedLuma;
  const r = new Float32Array(256);
  const g = new Float32Array(256);
  const b = new Float32Array(256);
  for (let v = 0; v < 256; v += 1) {
    const pixel = Math.fround(v / 127.5 - 1);
    r[v] = LUMA_R * pixel;
    g[v] = LUMA_G * pixel;
    b[v] = LUMA_B * pixel;
  }
  cachedLuma = { r, g, b };
  return cachedLuma;
}

/** Source offsets and float32 weights that resize a length `n` to 64, per output index. */
interface ResizeAxis {
  index0: Int32Array;
  index1: Int32Array;
  weight0: Float32Array;
  weight1: Float32Array;
}

/**
 * Builds OpenCV's INTER_LINEAR tables for a source length `n` (OpenCV 4.x `resizeGeneric_`).
 * The horizontal pass clamps the weights at the borders. The vertical pass keeps the fraction
 * and only clamps the row indices, so a border row is mixed with itself.
 */
function resizeAxis(n: number, clampWeights: boolean): ResizeAxis {
  const axis: ResizeAxis = {
    index0: new Int32Array(SIDE),
    index1: new Int32Array(SIDE),
    weight0: new Float32Array(SIDE),
    weight1: new Float32Array(SIDE),
  };
  const scale = 1 / (SIDE / n);
  for (let d = 0; d < SIDE; d += 1) {
    let f = Math.fround((d + 0.5) * scale - 0.5);
    let s = Math.floor(f);
    f = Math.fround(f - s);
    if (clampWeights && s < 0) {
      s = 0;
      f = 0;
    }
    if (clampWeights && s >= n - 1) {
      s = n - 1;
      f = 0;
    }
    axis.index0[d] = Math.min(Math.max(s, 0), n - 1);
    axis.index1[d] = Math.min(Math.max(s + 1, 0), n - 1);
    axis.weight0[d] = Math.fround(1 - f);
    axis.weight1[d] = f;
  }
  return axis;
}

/** Left edges of the histogram bins plus the top edge, exactly as `numpy.linspace` makes them. */
function histogramEdges(): Float64Array {
  const edges = new Float64Array(HISTOGRAM_BINS + 1);
  const step = (HISTOGRAM_HIGH - HISTOGRAM_LOW) / HISTOGRAM_BINS;
  for (let i = 0; i <= HISTOGRAM_BINS; i += 1) edges[i] = i * step + HISTOGRAM_LOW;
  edges[HISTOGRAM_BINS] = HISTOGRAM_HIGH;
  return edges;
}

/**
 * Adds `values[start .. start + n)` in numpy's pairwise order (blocks of up to 128 summed with
 * 8 interleaved accumulators), so the entropy matches `np.sum` to the last bit.
 */
export function pairwiseSum(values: Float64Array, start: number, n: number): number {
  if (n < 8) {
    let sum = 0;
    for (let i = 0; i < n; i += 1) sum += values[start + i]!;
    return sum;
  }
  if (n <= 128) {
    let r0 = values[start]!, r1 = values[start + 1]!, r2 = values[start + 2]!, r3 = values[start + 3]!;
    let r4 = values[start + 4]!, r5 = values[start + 5]!, r6 = values[start + 6]!, r7 = values[start + 7]!;
    const blocked = n - (n % 8);
    for (let i = 8; i < blocked; i += 8) {
      const p = start + i;
      r0 += values[p]!;
      r1 += values[p + 1]!;
      r2 += values[p + 2]!;
      r3 += values[p + 3]!;
      r4 += values[p + 4]!;
      r5 += values[p + 5]!;
      r6 += values[p + 6]!;
      r7 += values[p + 7]!;
    }
    let sum = r0 + r1 + (r2 + r3) + (r4 + r5 + (r6 + r7));
    for (let i = blocked; i < n; i += 1) sum += values[start + i]!;
    return sum;
  }
  let half = Math.floor(n / 2);
  half -= half % 8;
  return pairwiseSum(values, start, half) + pairwiseSum(values, start + half, n - half);
}

/** Byte offsets of the fixed parts of the kernel heap; kernel.js documents the whole layout. */
const HEAP_LAYOUT = {
  counts: 0,
  xIndex0: 2048,
  xIndex1: 2304,
  xWeight0: 2560,
  xWeight1: 2816,
  yIndex0: 3072,
  yIndex1: 3328,
  yWeight0: 3584,
  yWeight1: 3840,
  edges: 8192,
  firstFree: 20480,
} as const;

/** Smallest heap size asm.js accepts that fits `bytes`: a power of two from 64 KiB, then multiples of 16 MiB. */
function asmHeapSize(bytes: number): number {
  const sixteenMiB = 1 << 24;
  if (bytes > sixteenMiB) return Math.ceil(bytes / sixteenMiB) * sixteenMiB;
  let size = 1 << 16;
  while (size < bytes) size *= 2;
  return size;
}

/**
 * Scores regions of one grey map. The per-pixel loops run in the asm.js kernel (kernel.js) on a
 * heap that contains the grey map, the resize tables and the work rows, so scoring a region
 * allocates nothing after the first region of each size.
 */
export class ComplexityScorer {
  private readonly horizontalAxes = new Map<number, ResizeAxis>();
  private readonly verticalAxes = new Map<number, ResizeAxis>();
  private readonly kernel: PartitionKernelExports;
  private readonly heapI32: Int32Array;
  private readonly heapF32: Float32Array;
  private readonly terms = new Float64Array(HISTOGRAM_BINS);
  private markEpoch = 0;
  /** Region width and height whose resize tables are in the heap now. */
  private heapWidth = 0;
  private heapHeight = 0;

  /**
   * @param grey grey map in [0, 1] from `greyForComplexity`, [height, width] row-major
   * @param width row length of `grey`
   */
  constructor(
    grey: Float32Array,
    private readonly width: number,
  ) {
    const height = grey.length / width;
    const mark = HEAP_LAYOUT.firstFree;
    const horizontal = mark + 4 * height;
    const greyOffset = horizontal + 4 * SIDE * height;
    const heap = new ArrayBuffer(asmHeapSize(greyOffset + 4 * grey.length));
    this.heapI32 = new Int32Array(heap);
    this.heapF32 = new Float32Array(heap);
    this.heapF32.set(grey, greyOffset / 4);
    new Float64Array(heap).set(histogramEdges(), HEAP_LAYOUT.edges / 8);
    this.kernel = PartitionKernel(globalThis, { mark, horizontal, grey: greyOffset, binScale: BIN_SCALE }, heap);
  }

  /** Returns `entropy ** weight * h * w` for the inclusive pixel box (x0, y0)-(x1, y1). */
  score(x0: number, y0: number, x1: number, y1: number, weight: number): number {
    const w = x1 - x0 + 1;
    const h = y1 - y0 + 1;
    return Math.pow(this.entropyOf(x0, y0, x1, y1), weight) * h * w;
  }

  /** Gradient entropy in bits of the inclusive pixel box, before the weight and the area. */
  entropyOf(x0: number, y0: number, x1: number, y1: number): number {
    const w = x1 - x0 + 1;
    const h = y1 - y0 + 1;
    const i32 = this.heapI32;
    const f32 = this.heapF32;
    // Siblings often have the same size, so the tables in the heap are reused when they match.
    if (w !== this.heapWidth) {
      const ax = this.axis(this.horizontalAxes, w, true);
      i32.set(ax.index0, HEAP_LAYOUT.xIndex0 / 4);
      i32.set(ax.index1, HEAP_LAYOUT.xIndex1 / 4);
      f32.set(ax.weight0, HEAP_LAYOUT.xWeight0 / 4);
      f32.set(ax.weight1, HEAP_LAYOUT.xWeight1 / 4);
      this.heapWidth = w;
    }
    if (h !== this.heapHeight) {
      const ay = this.axis(this.verticalAxes, h, false);
      i32.set(ay.index0, HEAP_LAYOUT.yIndex0 / 4);
      i32.set(ay.index1, HEAP_LAYOUT.yIndex1 / 4);
      f32.set(ay.weight0, HEAP_LAYOUT.yWeight0 / 4);
      f32.set(ay.weight1, HEAP_LAYOUT.yWeight1 / 4);
      this.heapHeight = h;
    }
    this.markEpoch += 1;
    this.kernel.horizontal(x0, y0, this.width, this.markEpoch);
    this.kernel.sobel();
    return this.entropy();
  }

  private axis(cache: Map<number, ResizeAxis>, n: number, clampWeights: boolean): ResizeAxis {
    let axis = cache.get(n);
    if (!axis) {
      axis = resizeAxis(n, clampWeights);
      cache.set(n, axis);
    }
    return axis;
  }

  /** Entropy in bits of the histogram: `-sum(p * log2(p + 1e-10))`, `p = count / (total + 1e-5)`. */
  private entropy(): number {
    const counts = this.heapI32;
    const terms = this.terms;
    let total = 0;
    for (let i = 0; i < HISTOGRAM_BINS; i += 1) total += counts[i]!;
    const denominator = total + 1e-5;
    for (let i = 0; i < HISTOGRAM_BINS; i += 1) {
      const count = counts[i]!;
      if (count === 0) {
        terms[i] = 0;
      } else {
        const p = count / denominator;
        terms[i] = p * Math.log2(p + 1e-10);
      }
    }
    return -(0 + pairwiseSum(terms, 0, HISTOGRAM_BINS));
  }
}
