// Region complexity of the entropy-driven partition, bit-exact with the published Python:
// grey in [0, 1] (float32) -> OpenCV INTER_LINEAR resize to 64x64 (float32) -> 3x3 Sobel with
// replicated borders (float64) -> gradient magnitude -> numpy histogram (512 bins over
// [-5.5, 5.5]) -> entropy in bits -> `entropy ** weight * h * w`.
//
// Every float32 step of the reference is reproduced with Math.fround or a Float32Array store.
// A float32 sum or product evaluated in float64 and then rounded equals the float32 operation
// (53 >= 2 * 24 + 2 bits, so double rounding cannot change the result).
import type { RgbImage } from '../image/types.ts';

/** Side of the square every region is resized to before its gradients are measured. */
export const RESIZED_SIDE = 64;
/** Histogram of gradient magnitudes: bin count and range, as in the reference. */
export const HISTOGRAM_BINS = 512;
export const HISTOGRAM_LOW = -5.5;
export const HISTOGRAM_HIGH = 5.5;

const SIDE = RESIZED_SIDE;
/** numpy's `bins / (high - low)`, computed in float64 before any value is binned. */
const BIN_SCALE = HISTOGRAM_BINS / (HISTOGRAM_HIGH - HISTOGRAM_LOW);
/** A zero gradient lands in the bin whose left edge is exactly 0: -5.5 + 256 * 11 / 512. */
const ZERO_BIN = HISTOGRAM_BINS / 2;

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
 * Builds OpenCV's INTER_LINEAR tables for a source length `n`. The horizontal pass clamps the
 * weights at the borders; the vertical pass keeps the fraction and only clamps the row indices,
 * so a border row is mixed with itself (OpenCV 4.x `resizeGeneric_`).
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

/**
 * Scores regions of one grey map. It keeps its work buffers and resize tables between calls,
 * so scoring a region allocates nothing after the first region of each size.
 */
export class ComplexityScorer {
  private readonly horizontalAxes = new Map<number, ResizeAxis>();
  private readonly verticalAxes = new Map<number, ResizeAxis>();
  private rowMark = new Int32Array(256);
  private markEpoch = 0;
  /** Horizontal pass output, one 64-wide row per source row that the vertical pass reads: [h, 64]. */
  private horizontal = new Float32Array(256 * SIDE);
  /** One row of the resized region: [64]. */
  private readonly resizedRow = new Float32Array(SIDE);
  /** Row-filtered Sobel passes (derivative, smoothing) of three resized rows, a ring: [3, 64] each. */
  private readonly rowDerivative = new Float64Array(3 * SIDE);
  private readonly rowSmooth = new Float64Array(3 * SIDE);
  private readonly counts = new Int32Array(HISTOGRAM_BINS);
  private readonly terms = new Float64Array(HISTOGRAM_BINS);
  private readonly edges = histogramEdges();

  /**
   * @param grey grey map in [0, 1] from `greyForComplexity`, [height, width] row-major
   * @param width row length of `grey`
   */
  constructor(
    private readonly grey: Float32Array,
    private readonly width: number,
  ) {}

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
    const ay = this.axis(this.verticalAxes, h, false);
    this.resizeRows(x0, y0, w, h, ay);
    this.counts.fill(0);
    this.sobelRows(ay);
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

  /** Horizontal resize pass (float32) of the source rows that the vertical pass reads. */
  private resizeRows(x0: number, y0: number, w: number, h: number, ay: ResizeAxis): void {
    const ax = this.axis(this.horizontalAxes, w, true);
    if (this.horizontal.length < h * SIDE) this.horizontal = new Float32Array(h * SIDE);
    if (this.rowMark.length < h) this.rowMark = new Int32Array(h);
    this.markEpoch += 1;
    const epoch = this.markEpoch;
    const mark = this.rowMark;
    const grey = this.grey;
    const hbuf = this.horizontal;
    const index0 = ax.index0;
    const index1 = ax.index1;
    const weight0 = ax.weight0;
    const weight1 = ax.weight1;
    for (let k = 0; k < 2 * SIDE; k += 1) {
      const row = k < SIDE ? ay.index0[k]! : ay.index1[k - SIDE]!;
      if (mark[row] === epoch) continue;
      mark[row] = epoch;
      const base = (y0 + row) * this.width + x0;
      const out = row * SIDE;
      for (let dx = 0; dx < SIDE; dx += 1) {
        const v0 = Math.fround(grey[base + index0[dx]!]! * weight0[dx]!);
        const v1 = Math.fround(grey[base + index1[dx]!]! * weight1[dx]!);
        hbuf[out + dx] = v0 + v1;
      }
    }
  }

  /**
   * Vertical resize pass of resized row `d` (float32), then the Sobel row filters on it in
   * float64 with a replicated border, into ring slot `d % 3`: the derivative [-1, 0, 1] and the
   * smoothing [1, 2, 1], accumulated left to right as OpenCV's float-to-double row filter does.
   */
  private filterRow(d: number, ay: ResizeAxis): void {
    const hbuf = this.horizontal;
    const row = this.resizedRow;
    const top = ay.index0[d]! * SIDE;
    const bottom = ay.index1[d]! * SIDE;
    const w0 = ay.weight0[d]!;
    const w1 = ay.weight1[d]!;
    for (let x = 0; x < SIDE; x += 1) {
      row[x] = Math.fround(hbuf[top + x]! * w0) + Math.fround(hbuf[bottom + x]! * w1);
    }

    const slot = (d % 3) * SIDE;
    const derivative = this.rowDerivative;
    const smooth = this.rowSmooth;
    let left = row[0]!;
    let centre = left;
    for (let x = 0; x < SIDE; x += 1) {
      const right = x < SIDE - 1 ? row[x + 1]! : centre;
      derivative[slot + x] = -left + 0 * centre + right;
      smooth[slot + x] = left + 2 * centre + right;
      left = centre;
      centre = right;
    }
  }

  /**
   * Sobel column filters and gradient magnitudes of the resized region, binned into
   * `this.counts`. Column order follows OpenCV's SymmColumnFilter: `2 * centre + (below + above)`
   * for [1, 2, 1] and `0 + (below - above)` for [-1, 0, 1]; borders replicate.
   */
  private sobelRows(ay: ResizeAxis): void {
    const derivative = this.rowDerivative;
    const smooth = this.rowSmooth;
    const counts = this.counts;
    this.filterRow(0, ay);
    for (let y = 0; y < SIDE; y += 1) {
      if (y + 1 < SIDE) this.filterRow(y + 1, ay);
      const above = ((y > 0 ? y - 1 : 0) % 3) * SIDE;
      const centre = (y % 3) * SIDE;
      const below = ((y < SIDE - 1 ? y + 1 : y) % 3) * SIDE;
      for (let x = 0; x < SIDE; x += 1) {
        const gx = 2 * derivative[centre + x]! + 0 + (derivative[below + x]! + derivative[above + x]!);
        const gy = 0 + (smooth[below + x]! - smooth[above + x]!);
        const magnitude = Math.sqrt(gx * gx + gy * gy);
        if (magnitude === 0) {
          counts[ZERO_BIN]! += 1;
        } else if (magnitude <= HISTOGRAM_HIGH) {
          counts[this.histogramBin(magnitude)]! += 1;
        }
      }
    }
  }

  /**
   * Bin of a magnitude in [0, 5.5] by numpy's rule: `floor((v + 5.5) * q)`, then moved down
   * when below the bin's left edge and up when at or above its right edge (not in the last
   * bin). The correction can only apply within a few ulps of an integer, so the edge table is
   * read only there.
   */
  private histogramBin(magnitude: number): number {
    const position = (magnitude - HISTOGRAM_LOW) * BIN_SCALE;
    let bin = position | 0;
    const fraction = position - bin;
    if (fraction > 1e-9 && fraction < 1 - 1e-9) return bin;
    const edges = this.edges;
    if (bin === HISTOGRAM_BINS) bin -= 1;
    if (magnitude < edges[bin]!) bin -= 1;
    else if (magnitude >= edges[bin + 1]! && bin !== HISTOGRAM_BINS - 1) bin += 1;
    return bin;
  }

  /** Entropy in bits of the histogram: `-sum(p * log2(p + 1e-10))`, `p = count / (total + 1e-5)`. */
  private entropy(): number {
    const counts = this.counts;
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
