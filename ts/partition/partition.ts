// The entropy-driven partition: the region with the highest complexity is halved until the
// image is covered by the requested number of regions, and each region becomes the initial
// Gaussian of one token. Order, tie rules and float32 outputs match the published Python
// implementation (`adaptive_initialize` in GPSToken's datasets/adaptivegps.py).
import type { RgbImage } from '../image/types.ts';
import { ComplexityScorer, greyForComplexity } from './complexity.ts';

/** Exponent on the entropy in the complexity score (the reference dataset default). */
export const DEFAULT_WEIGHT = 2.5;
/** A region whose inclusive extents are both at most this many pixels is not split (reference default). */
export const DEFAULT_MINHW = 8;
/** Side of the square patches a larger image is tiled into; each patch gets `tokens` regions. */
export const PATCH_SIZE = 256;

export interface PartitionOptions {
  /** Regions per patch (per 256x256 tile for larger images). */
  tokens: number;
  weight?: number;
  minhw?: number;
  /** Per-pixel bias added to the score of every region that contains the pixel: [height, width]. */
  bias?: Float32Array;
}

/** Regions and their Gaussians; N = tokens * tiles. */
export interface PartitionLayout {
  width: number;
  height: number;
  /** Tiles in row-major order; 1 for an image of at most 256x256. */
  tiles: { columns: number; rows: number; size: number };
  /** [N, 5] rows (sigma_x, sigma_y, rho, x, y), in [-1, 1] coordinates of the tile. */
  gpscodes: Float32Array;
  /** [N, 4] rows (x0, y0, x1, y1): inclusive pixel bounds mapped to [-1, 1] of the tile. */
  regions: Float32Array;
  /** [N, 4] rows (x0, y0, x1, y1): inclusive pixel bounds in image pixels. */
  pixelRegions: Int32Array;
}

export interface PartitionResult extends PartitionLayout {
  /** [N] final score of each region: `entropy ** weight * h * w` plus its bias sum. */
  complexity: Float64Array;
}

/** The token budget cannot be reached because every region is already at most `minhw`. */
export class TokenBudgetError extends Error {
  override name = 'TokenBudgetError';
  constructor(
    readonly tokens: number,
    readonly minhw: number,
    readonly reachable: number,
    readonly patch: string,
  ) {
    super(
      `cannot split ${patch} into ${tokens} regions with minhw ${minhw}: only ${reachable} ${reachable === 1 ? 'region is' : 'regions are'} ` +
        `reachable because every region's extents are at most ${minhw} pixels; lower --minhw or request at most ${reachable} ` +
        `${reachable === 1 ? 'token' : 'tokens'}`,
    );
  }
}

/** Partitions an image: one patch up to 256x256, otherwise 256x256 tiles in row-major order. */
export function partitionImage(img: RgbImage, options: PartitionOptions): PartitionResult {
  const { tokens, weight, minhw } = resolveOptions(options);
  const tiles = tileGrid(img.width, img.height);
  if (options.bias && options.bias.length !== img.width * img.height) {
    throw new RangeError(`bias map has ${options.bias.length} values, expected width * height = ${img.width * img.height}`);
  }

  const grey = greyForComplexity(img);
  const scorer = new ComplexityScorer(grey, img.width);
  const biasTable = options.bias ? summedAreaTable(options.bias, img.width, img.height) : undefined;
  const total = tokens * tiles.columns * tiles.rows;
  const result: PartitionResult = {
    width: img.width,
    height: img.height,
    tiles,
    gpscodes: new Float32Array(total * 5),
    regions: new Float32Array(total * 4),
    pixelRegions: new Int32Array(total * 4),
    complexity: new Float64Array(total),
  };

  const tileWidth = Math.min(img.width, tiles.size);
  const tileHeight = Math.min(img.height, tiles.size);
  let offset = 0;
  for (let row = 0; row < tiles.rows; row += 1) {
    for (let column = 0; column < tiles.columns; column += 1) {
      const patch: Patch = { x: column * tileWidth, y: row * tileHeight, width: tileWidth, height: tileHeight };
      const label = tiles.rows * tiles.columns === 1 ? 'the image' : `tile (${column}, ${row})`;
      const split = splitPatch(scorer, biasTable, img.width, patch, tokens, weight, minhw, label);
      writeRegions(result, offset, patch, split.boxes, split.scores);
      offset += tokens;
    }
  }
  return result;
}

function resolveOptions(options: PartitionOptions): { tokens: number; weight: number; minhw: number } {
  const tokens = options.tokens;
  const weight = options.weight ?? DEFAULT_WEIGHT;
  const minhw = options.minhw ?? DEFAULT_MINHW;
  if (!Number.isInteger(tokens) || tokens < 1) throw new RangeError(`tokens must be a positive integer, got ${tokens}`);
  if (!Number.isFinite(weight)) throw new RangeError(`weight must be a finite number, got ${weight}`);
  if (!Number.isInteger(minhw) || minhw < 0) throw new RangeError(`minhw must be a non-negative integer, got ${minhw}`);
  return { tokens, weight, minhw };
}

/** Error for an image size the partition cannot tile; the CLI turns it into a usage error. */
export class PartitionSizeError extends Error {
  override name = 'PartitionSizeError';
}

/** Returns the tile layout: one tile up to 256x256, otherwise 256x256 tiles. */
export function tileGrid(width: number, height: number): { columns: number; rows: number; size: number } {
  if (width < 2 || height < 2) {
    throw new PartitionSizeError(`image is ${width}x${height}; the partition needs at least 2 pixels on each side`);
  }
  if (width <= PATCH_SIZE && height <= PATCH_SIZE) return { columns: 1, rows: 1, size: PATCH_SIZE };
  if (width % PATCH_SIZE !== 0 || height % PATCH_SIZE !== 0) {
    throw new PartitionSizeError(
      `image is ${width}x${height}; the partition takes one patch of at most ${PATCH_SIZE}x${PATCH_SIZE} or ` +
        `sides that are multiples of ${PATCH_SIZE} (tiled). Resize it first, e.g. with --size ${PATCH_SIZE} ` +
        `(shorter side to ${PATCH_SIZE}, centre crop)`,
    );
  }
  return { columns: width / PATCH_SIZE, rows: height / PATCH_SIZE, size: PATCH_SIZE };
}

interface Patch {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Inclusive-bound sums of a per-pixel map in O(1): [(height + 1), (width + 1)], float64. */
function summedAreaTable(map: Float32Array, width: number, height: number): Float64Array {
  const stride = width + 1;
  const table = new Float64Array(stride * (height + 1));
  for (let y = 0; y < height; y += 1) {
    let rowSum = 0;
    for (let x = 0; x < width; x += 1) {
      rowSum += map[y * width + x]!;
      table[(y + 1) * stride + x + 1] = table[y * stride + x + 1]! + rowSum;
    }
  }
  return table;
}

function boxSum(table: Float64Array, width: number, x0: number, y0: number, x1: number, y1: number): number {
  const stride = width + 1;
  return table[(y1 + 1) * stride + x1 + 1]! - table[y0 * stride + x1 + 1]! - table[(y1 + 1) * stride + x0]! + table[y0 * stride + x0]!;
}

/**
 * Splits one patch into `tokens` regions. Returns the inclusive pixel boxes (image pixels,
 * [tokens, 4]) and the scores, in the reference's final list order: the candidate list is kept
 * sorted by descending score (stable, as Python's `sort(reverse=True)`), and the halves of the
 * last split stay appended at the end because the reference does not sort after it.
 */
function splitPatch(
  scorer: ComplexityScorer,
  biasTable: Float64Array | undefined,
  imageWidth: number,
  patch: Patch,
  tokens: number,
  weight: number,
  minhw: number,
  label: string,
): { boxes: Int32Array; scores: Float64Array } {
  const capacity = 2 * tokens + 1;
  const boxes = new Int32Array(capacity * 4);
  const scores = new Float64Array(capacity);
  const order = new Int32Array(tokens + 1);
  let created = 0;
  let count = 0;

  const score = (x0: number, y0: number, x1: number, y1: number): number => {
    const complexity = scorer.score(x0, y0, x1, y1, weight);
    return biasTable ? complexity + boxSum(biasTable, imageWidth, x0, y0, x1, y1) : complexity;
  };
  const addRegion = (x0: number, y0: number, x1: number, y1: number, value: number): number => {
    boxes.set([x0, y0, x1, y1], created * 4);
    scores[created] = value;
    created += 1;
    return created - 1;
  };
  // Inserts after every region with a score >= its own: the place a stable descending sort gives.
  const insertSorted = (id: number): void => {
    const value = scores[id]!;
    let low = 0;
    let high = count;
    while (low < high) {
      const mid = (low + high) >> 1;
      if (scores[order[mid]!]! >= value) low = mid + 1;
      else high = mid;
    }
    order.copyWithin(low + 1, low, count);
    order[low] = id;
    count += 1;
  };

  const x1 = patch.x + patch.width - 1;
  const y1 = patch.y + patch.height - 1;
  order[0] = addRegion(patch.x, patch.y, x1, y1, score(patch.x, patch.y, x1, y1));
  count = 1;

  while (count < tokens) {
    const position = firstSplittable(boxes, order, count, minhw);
    if (position < 0) throw new TokenBudgetError(tokens, minhw, count, label);
    const picked = order[position]!;
    order.copyWithin(position, position + 1, count);
    count -= 1;

    const [first, second] = splitRegion(boxes, picked, score, addRegion);
    if (count + 2 === tokens) {
      order[count] = first;
      order[count + 1] = second;
      count += 2;
    } else {
      insertSorted(first);
      insertSorted(second);
    }
  }

  const outBoxes = new Int32Array(tokens * 4);
  const outScores = new Float64Array(tokens);
  for (let i = 0; i < tokens; i += 1) {
    const id = order[i]!;
    outBoxes.set(boxes.subarray(id * 4, id * 4 + 4), i * 4);
    outScores[i] = scores[id]!;
  }
  return { boxes: outBoxes, scores: outScores };
}

/** Position in `order` of the first region that may still be split, or -1. */
function firstSplittable(boxes: Int32Array, order: Int32Array, count: number, minhw: number): number {
  for (let i = 0; i < count; i += 1) {
    const b = order[i]! * 4;
    if (boxes[b + 2]! - boxes[b]! > minhw || boxes[b + 3]! - boxes[b + 1]! > minhw) return i;
  }
  return -1;
}

/**
 * Halves a region and returns the ids of the two halves, left or top first; the first half
 * gets `floor(size / 2)` pixels. A wider region is cut across its width, a taller one across
 * its height; a square one across its width only when the lower half-score of that cut is
 * strictly below the lower half-score of the height cut.
 */
function splitRegion(
  boxes: Int32Array,
  id: number,
  score: (x0: number, y0: number, x1: number, y1: number) => number,
  addRegion: (x0: number, y0: number, x1: number, y1: number, value: number) => number,
): [number, number] {
  const x0 = boxes[id * 4]!;
  const y0 = boxes[id * 4 + 1]!;
  const x1 = boxes[id * 4 + 2]!;
  const y1 = boxes[id * 4 + 3]!;
  const w = x1 - x0 + 1;
  const h = y1 - y0 + 1;
  const xm = x0 + Math.floor(w / 2);
  const ym = y0 + Math.floor(h / 2);

  if (w > h) {
    const left = addRegion(x0, y0, xm - 1, y1, score(x0, y0, xm - 1, y1));
    return [left, addRegion(xm, y0, x1, y1, score(xm, y0, x1, y1))];
  }
  if (h > w) {
    const top = addRegion(x0, y0, x1, ym - 1, score(x0, y0, x1, ym - 1));
    return [top, addRegion(x0, ym, x1, y1, score(x0, ym, x1, y1))];
  }
  const left = score(x0, y0, xm - 1, y1);
  const right = score(xm, y0, x1, y1);
  const top = score(x0, y0, x1, ym - 1);
  const bottom = score(x0, ym, x1, y1);
  if (Math.min(left, right) < Math.min(top, bottom)) {
    return [addRegion(x0, y0, xm - 1, y1, left), addRegion(xm, y0, x1, y1, right)];
  }
  return [addRegion(x0, y0, x1, ym - 1, top), addRegion(x0, ym, x1, y1, bottom)];
}

/**
 * Writes the Gaussians and normalised regions of one patch, mapped as the reference does:
 * `sigma = (last - first) / size * 2 / 3`, centre `((first + last) / 2 / (size - 1) - 0.5) * 2`,
 * rho 0, all in float64 and then cast to float32.
 */
function writeRegions(result: PartitionLayout & { complexity?: Float64Array }, offset: number, patch: Patch, boxes: Int32Array, scores?: Float64Array): void {
  const count = boxes.length / 4;
  const w = patch.width;
  const h = patch.height;
  for (let i = 0; i < count; i += 1) {
    const gx0 = boxes[i * 4]!;
    const gy0 = boxes[i * 4 + 1]!;
    const gx1 = boxes[i * 4 + 2]!;
    const gy1 = boxes[i * 4 + 3]!;
    const x0 = gx0 - patch.x;
    const y0 = gy0 - patch.y;
    const x1 = gx1 - patch.x;
    const y1 = gy1 - patch.y;
    const n = offset + i;
    result.gpscodes.set(
      [((x1 - x0) / w * 2.0) / 3.0, ((y1 - y0) / h * 2.0) / 3.0, 0, ((x1 + x0) / 2.0 / (w - 1) - 0.5) * 2.0, ((y1 + y0) / 2.0 / (h - 1) - 0.5) * 2.0],
      n * 5,
    );
    result.regions.set([(x0 / (w - 1) - 0.5) * 2, (y0 / (h - 1) - 0.5) * 2, (x1 / (w - 1) - 0.5) * 2, (y1 / (h - 1) - 0.5) * 2], n * 4);
    result.pixelRegions.set([gx0, gy0, gx1, gy1], n * 4);
    if (scores && result.complexity) result.complexity[n] = scores[i]!;
  }
}

/**
 * Uniform-grid layout with the same token count, the baseline initialiser of `--init grid`.
 * `tokens` cells are arranged as `rows x columns` with the most square factorisation
 * (rows = the largest divisor <= sqrt(tokens), so 128 -> 8 x 16 and a prime p -> 1 x p);
 * cell c of n spans pixels [floor(c * size / n), floor((c + 1) * size / n) - 1].
 */
export function gridPartition(size: number | { width: number; height: number }, tokens: number): PartitionLayout {
  const width = typeof size === 'number' ? size : size.width;
  const height = typeof size === 'number' ? size : size.height;
  if (!Number.isInteger(tokens) || tokens < 1) throw new RangeError(`tokens must be a positive integer, got ${tokens}`);
  const rows = largestDivisorAtMostSqrt(tokens);
  const columns = tokens / rows;
  // The wider side gets the larger count, so cells stay as square as possible.
  const [across, down] = width >= height ? [columns, rows] : [rows, columns];
  if (across > width || down > height) {
    throw new RangeError(`cannot lay ${tokens} tokens as a ${down}x${across} grid on a ${width}x${height} image: cells would be empty`);
  }
  const boxes = new Int32Array(tokens * 4);
  for (let r = 0; r < down; r += 1) {
    for (let c = 0; c < across; c += 1) {
      const i = r * across + c;
      boxes.set(
        [Math.floor((c * width) / across), Math.floor((r * height) / down), Math.floor(((c + 1) * width) / across) - 1, Math.floor(((r + 1) * height) / down) - 1],
        i * 4,
      );
    }
  }
  const layout: PartitionLayout = {
    width,
    height,
    tiles: { columns: 1, rows: 1, size: Math.max(width, height) },
    gpscodes: new Float32Array(tokens * 5),
    regions: new Float32Array(tokens * 4),
    pixelRegions: new Int32Array(tokens * 4),
  };
  writeRegions(layout, 0, { x: 0, y: 0, width, height }, boxes);
  return layout;
}

function largestDivisorAtMostSqrt(n: number): number {
  for (let d = Math.floor(Math.sqrt(n)); d > 1; d -= 1) if (n % d === 0) return d;
  return 1;
}
