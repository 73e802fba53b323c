// Region complexity of the entropy-driven partition, bit-exact with the published Python:
// grey in [0, 1] (float32) -> OpenCV INTER_LINEAR resize to 64x64 (float32) -> 3x3 Sobel with
// replicated borders (float64) -> gradient magnitude -> numpy histogram (512 bins over
// [-5.5, 5.5]) -> entropy in bits -> `entropy ** weight * h * w`.
//
// Every float32 step of the reference is reproduced with Math.fround or a Float32Array store.
// A float32 sum or product evaluated in float64 and then rounded equals the float32 operation
// (53 >= 2 * 24 + 2 bits, so double rounding cannot change the result).
import { readFileSync } from 'node:fs';
import { opencvLinearSource } from '../image/resize.ts';
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
  const redGreen = tables.redGreen;
  const blue = tables.b;
  const count = img.width * img.height;
  const grey = new Float32Array(count);
  const data = img.data;
  for (let i = 0, p = 0; i < count; i += 1, p += 3) {
    const luma = Math.fround(redGreen[(data[p]! << 8) | data[p + 1]!]! + blue[data[p + 2]!]!);
    // Halving a float32 at or above 2^-24 is exact, so the float32 store changes nothing.
    grey[i] = Math.fround(luma + 1) * 0.5;
  }
  return grey;
}

interface LumaTables {
  r: Float32Array;
  g: Float32Array;
  b: Float32Array;
  /** float32 `r + g` for every red-green byte pair, indexed `red << 8 | green`. */
  redGreen: Float32Array;
}

let cachedLuma: LumaTables | undefined;

/** Per-channel products `weight * pixel` for the 256 possible byte values, and red + green sums. */
function lumaTables(): LumaTables {
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
  const redGreen = new Float32Array(256 * 256);
  for (let i = 0; i < redGreen.length; i += 1) redGreen[i] = r[i >> 8]! + g[i & 255]!;
  cachedLuma = { r, g, b, redGreen };
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
    const [s, f] = opencvLinearSource(d, scale, n, clampWeights);
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

/** Pixels of a resized region, the histogram total when no magnitude falls outside the range. */
const RESIZED_PIXELS = SIDE * SIDE;

let fullTerms: Float64Array | undefined;

/**
 * `p * log2(p + 1e-10)` with `p = count / (4096 + 1e-5)` for every count 0..4096 (0 for an
 * empty bin): the entropy terms of a histogram with the usual total, computed once per process
 * with the same float64 steps as the direct formula, so a lookup gives the same bits.
 */
function fullHistogramTerms(): Float64Array {
  if (fullTerms) return fullTerms;
  const table = new Float64Array(RESIZED_PIXELS + 1);
  const denominator = RESIZED_PIXELS + 1e-5;
  for (let count = 1; count <= RESIZED_PIXELS; count += 1) {
    const p = count / denominator;
    table[count] = p * Math.log2(p + 1e-10);
  }
  fullTerms = table;
  return table;
}

/**
 * Entropy in bits of the 512-bin histogram at `counts[offset ..]`: `-sum(p * log2(p + 1e-10))`
 * with `p = count / (total + 1e-5)`, summed in numpy's pairwise order.
 */
function histogramEntropy(counts: Int32Array, offset: number, terms: Float64Array): number {
  let total = 0;
  for (let i = 0; i < HISTOGRAM_BINS; i += 1) total += counts[offset + i]!;
  if (total === RESIZED_PIXELS) {
    const table = fullHistogramTerms();
    for (let i = 0; i < HISTOGRAM_BINS; i += 1) terms[i] = table[counts[offset + i]!]!;
  } else {
    const denominator = total + 1e-5;
    for (let i = 0; i < HISTOGRAM_BINS; i += 1) {
      const count = counts[offset + i]!;
      const p = count / denominator;
      terms[i] = count === 0 ? 0 : p * Math.log2(p + 1e-10);
    }
  }
  return -(0 + pairwiseSum(terms, 0, HISTOGRAM_BINS));
}

/** Implementation of the per-pixel loops. Both give the same bits. */
export type ComplexityKernel = 'wasm' | 'asmjs';

/** Environment variable that forces a kernel, e.g. to rule the WebAssembly one out. */
export const KERNEL_ENV = 'GPSTOKEN_PARTITION_KERNEL';

let wasmModule: WebAssembly.Module | undefined;
let wasmFailure: Error | undefined;

/** Compiles the SIMD kernel once. Returns undefined, with the reason in `wasmFailure`, where it cannot load. */
function loadWasmKernel(): WebAssembly.Module | undefined {
  if (wasmModule || wasmFailure) return wasmModule;
  try {
    wasmModule = new WebAssembly.Module(readFileSync(new URL('./wasm/kernel.wasm', import.meta.url)));
  } catch (error) {
    wasmFailure = new Error(`the WebAssembly partition kernel failed to load (${(error as Error).message}); set ${KERNEL_ENV}=asmjs to use the asm.js kernel`, { cause: error });
  }
  return wasmModule;
}

/**
 * Returns the kernel a scorer uses by default: `GPSTOKEN_PARTITION_KERNEL` when set to `wasm` or
 * `asmjs`, otherwise the WebAssembly SIMD kernel where this Node can load it, else asm.js.
 */
export function defaultComplexityKernel(): ComplexityKernel {
  const forced = process.env[KERNEL_ENV];
  if (forced !== undefined && forced !== '') {
    if (forced !== 'wasm' && forced !== 'asmjs') {
      throw new RangeError(`${KERNEL_ENV} must be "wasm" or "asmjs", got "${forced}"; unset it to pick automatically`);
    }
    return forced;
  }
  return loadWasmKernel() ? 'wasm' : 'asmjs';
}

/** Returns why the WebAssembly kernel is not available, or undefined when it is. */
export function wasmKernelFailure(): Error | undefined {
  loadWasmKernel();
  return wasmFailure;
}

/** Entropy of one region, given its top-left pixel and size; the engines below implement it. */
interface RegionEngine {
  entropy(x0: number, y0: number, w: number, h: number): number;
}

/** Byte offsets of the fixed parts of the asm.js kernel heap; kernel.js documents the whole layout. */
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

const horizontalAxes = new Map<number, ResizeAxis>();
const verticalAxes = new Map<number, ResizeAxis>();

/** Resize tables for a source length, cached per process (horizontal and vertical differ). */
function cachedAxis(n: number, clampWeights: boolean): ResizeAxis {
  const cache = clampWeights ? horizontalAxes : verticalAxes;
  let axis = cache.get(n);
  if (!axis) {
    axis = resizeAxis(n, clampWeights);
    cache.set(n, axis);
  }
  return axis;
}

/**
 * The asm.js kernel (kernel.js) on a heap that contains the grey map, the resize tables and the
 * work rows. It is the fallback where WebAssembly SIMD is missing.
 */
class AsmJsEngine implements RegionEngine {
  private readonly kernel: PartitionKernelExports;
  private readonly heapI32: Int32Array;
  private readonly heapF32: Float32Array;
  private readonly terms = new Float64Array(HISTOGRAM_BINS);
  private markEpoch = 0;
  /** Region width and height whose resize tables are in the heap now. */
  private heapWidth = 0;
  private heapHeight = 0;

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

  entropy(x0: number, y0: number, w: number, h: number): number {
    const i32 = this.heapI32;
    const f32 = this.heapF32;
    // Siblings often have the same size, so the tables in the heap are reused when they match.
    if (w !== this.heapWidth) {
      const ax = cachedAxis(w, true);
      i32.set(ax.index0, HEAP_LAYOUT.xIndex0 / 4);
      i32.set(ax.index1, HEAP_LAYOUT.xIndex1 / 4);
      f32.set(ax.weight0, HEAP_LAYOUT.xWeight0 / 4);
      f32.set(ax.weight1, HEAP_LAYOUT.xWeight1 / 4);
      this.heapWidth = w;
    }
    if (h !== this.heapHeight) {
      const ay = cachedAxis(h, false);
      i32.set(ay.index0, HEAP_LAYOUT.yIndex0 / 4);
      i32.set(ay.index1, HEAP_LAYOUT.yIndex1 / 4);
      f32.set(ay.weight0, HEAP_LAYOUT.yWeight0 / 4);
      f32.set(ay.weight1, HEAP_LAYOUT.yWeight1 / 4);
      this.heapHeight = h;
    }
    this.markEpoch += 1;
    this.kernel.horizontal(x0, y0, this.width, this.markEpoch);
    this.kernel.sobel();
    return histogramEntropy(i32, HEAP_LAYOUT.counts / 4, this.terms);
  }
}

/** Exports of wasm/kernel.wasm (kernel.c). Addresses are byte offsets into `memory`. */
interface WasmKernelExports {
  memory: WebAssembly.Memory;
  tables(): number;
  terms(): number;
  counts(): number;
  allocateGrey(width: number, height: number): number;
  regionEntropy(x0: number, y0: number): number;
}

/** Byte offsets inside kernel.c's `struct Tables`. */
const WASM_TABLES = {
  xIndex0: 0,
  xIndex1: 256,
  xWeight0: 512,
  xWeight1: 768,
  ySlot0: 1024,
  ySlot1: 1280,
  yWeight0: 1536,
  yWeight1: 1792,
  rows: 2048,
  rowCount: 2560,
  xIdentity: 2564,
} as const;

/** Vertical tables for the wasm kernel: the distinct source rows, and each output row's two slots. */
interface RowSlots {
  rows: Int32Array;
  slot0: Int32Array;
  slot1: Int32Array;
}

const rowSlotCache = new Map<number, RowSlots>();

/** Lists the source rows the vertical pass reads, each once, and the place in that list of each output row's two rows. */
function rowSlots(n: number): RowSlots {
  let slots = rowSlotCache.get(n);
  if (slots) return slots;
  const axis = cachedAxis(n, false);
  const used = [...new Set([...axis.index0, ...axis.index1])].sort((a, b) => a - b);
  const slotOf = new Map(used.map((row, slot) => [row, slot]));
  slots = {
    rows: Int32Array.from(used),
    slot0: Int32Array.from(axis.index0, (row) => slotOf.get(row)!),
    slot1: Int32Array.from(axis.index1, (row) => slotOf.get(row)!),
  };
  rowSlotCache.set(n, slots);
  return slots;
}

/**
 * The one instance of the WebAssembly kernel in this thread, shared by every scorer: creating an
 * instance and copying the entropy table costs more than a 256x256 partition's bookkeeping, while
 * switching scorers only copies the grey map in again.
 */
class WasmKernel {
  readonly exports: WasmKernelExports;
  i32: Int32Array;
  f32: Float32Array;
  /** The scorer whose grey map is in memory now. */
  owner: WasmEngine | undefined;
  /** Region width and height whose resize tables are in memory now. */
  tableWidth = 0;
  tableHeight = 0;
  private readonly tables: number;
  readonly counts: number;

  constructor(module: WebAssembly.Module) {
    this.exports = new WebAssembly.Instance(module).exports as unknown as WasmKernelExports;
    this.i32 = new Int32Array(this.exports.memory.buffer);
    this.f32 = new Float32Array(this.exports.memory.buffer);
    new Float64Array(this.exports.memory.buffer).set(fullHistogramTerms(), this.exports.terms() / 8);
    this.tables = this.exports.tables() / 4;
    this.counts = this.exports.counts() / 4;
  }

  /** Copies a grey map in, growing the memory when it is larger than any before. */
  loadGrey(owner: WasmEngine, grey: Float32Array, width: number): void {
    const height = grey.length / width;
    const address = this.exports.allocateGrey(width, height);
    if (address === 0) throw new RangeError(`the WebAssembly partition kernel cannot hold a ${width}x${height} grey map`);
    // Growing the memory detaches the old buffer and its views.
    if (this.i32.buffer !== this.exports.memory.buffer) {
      this.i32 = new Int32Array(this.exports.memory.buffer);
      this.f32 = new Float32Array(this.exports.memory.buffer);
    }
    this.f32.set(grey, address / 4);
    this.owner = owner;
  }

  setWidth(w: number): void {
    const ax = cachedAxis(w, true);
    const base = this.tables;
    this.i32.set(ax.index0, base + WASM_TABLES.xIndex0 / 4);
    this.i32.set(ax.index1, base + WASM_TABLES.xIndex1 / 4);
    this.f32.set(ax.weight0, base + WASM_TABLES.xWeight0 / 4);
    this.f32.set(ax.weight1, base + WASM_TABLES.xWeight1 / 4);
    // At width 64 the weights are 1 and 0 on the pixel itself, and `v * 1 + v * 0` is v.
    this.i32[base + WASM_TABLES.xIdentity / 4] = w === SIDE ? 1 : 0;
    this.tableWidth = w;
  }

  setHeight(h: number): void {
    const ay = cachedAxis(h, false);
    const slots = rowSlots(h);
    const base = this.tables;
    this.i32.set(slots.slot0, base + WASM_TABLES.ySlot0 / 4);
    this.i32.set(slots.slot1, base + WASM_TABLES.ySlot1 / 4);
    this.f32.set(ay.weight0, base + WASM_TABLES.yWeight0 / 4);
    this.f32.set(ay.weight1, base + WASM_TABLES.yWeight1 / 4);
    this.i32.set(slots.rows, base + WASM_TABLES.rows / 4);
    this.i32[base + WASM_TABLES.rowCount / 4] = slots.rows.length;
    this.tableHeight = h;
  }
}

let sharedKernel: WasmKernel | undefined;

/** Scores regions of one grey map on the shared WebAssembly kernel (wasm/kernel.c). */
class WasmEngine implements RegionEngine {
  private readonly kernel: WasmKernel;
  private readonly terms = new Float64Array(HISTOGRAM_BINS);

  constructor(
    module: WebAssembly.Module,
    private readonly grey: Float32Array,
    private readonly width: number,
  ) {
    sharedKernel ??= new WasmKernel(module);
    this.kernel = sharedKernel;
    this.kernel.loadGrey(this, grey, width);
  }

  entropy(x0: number, y0: number, w: number, h: number): number {
    const kernel = this.kernel;
    if (kernel.owner !== this) kernel.loadGrey(this, this.grey, this.width);
    if (w !== kernel.tableWidth) kernel.setWidth(w);
    if (h !== kernel.tableHeight) kernel.setHeight(h);
    const entropy = kernel.exports.regionEntropy(x0, y0);
    // The kernel has the term table only for a full histogram, so other totals are summed here.
    return entropy >= 0 ? entropy : histogramEntropy(kernel.i32, kernel.counts, this.terms);
  }
}

/**
 * Scores regions of one grey map. The per-pixel loops run in the WebAssembly SIMD kernel, or in
 * the asm.js kernel where that cannot load; scoring a region allocates nothing.
 */
export class ComplexityScorer {
  /** The kernel this scorer runs. */
  readonly kernel: ComplexityKernel;
  private readonly engine: RegionEngine;

  /**
   * @param grey grey map in [0, 1] from `greyForComplexity`, [height, width] row-major
   * @param width row length of `grey`
   * @param kernel which kernel to run; `defaultComplexityKernel()` when omitted
   */
  constructor(grey: Float32Array, width: number, kernel?: ComplexityKernel) {
    const chosen = kernel ?? defaultComplexityKernel();
    let engine: RegionEngine | undefined;
    if (chosen === 'wasm') {
      const module = loadWasmKernel();
      if (!module) throw wasmFailure!;
      try {
        engine = new WasmEngine(module, grey, width);
      } catch (error) {
        // A kernel named by the caller or the environment surfaces the error. The automatic
        // choice falls back to asm.js.
        if (kernel !== undefined || process.env[KERNEL_ENV]) throw error;
        wasmFailure = new Error(`the WebAssembly partition kernel failed to start (${(error as Error).message})`, { cause: error });
      }
    }
    this.engine = engine ?? new AsmJsEngine(grey, width);
    this.kernel = engine ? 'wasm' : 'asmjs';
  }

  /** Returns `entropy ** weight * h * w` for the inclusive pixel box (x0, y0)-(x1, y1). */
  score(x0: number, y0: number, x1: number, y1: number, weight: number): number {
    const w = x1 - x0 + 1;
    const h = y1 - y0 + 1;
    return Math.pow(this.engine.entropy(x0, y0, w, h), weight) * h * w;
  }

  /** Gradient entropy in bits of the inclusive pixel box, before the weight and the area. */
  entropyOf(x0: number, y0: number, x1: number, y1: number): number {
    return this.engine.entropy(x0, y0, x1 - x0 + 1, y1 - y0 + 1);
  }
}
