// Focus: a per-pixel bias added to region scores, so the partition spends more tokens where the
// user points. A region's score gains the sum of the bias over its pixels, as in the reference's
// `cdbias` argument.
import type { RgbImage } from '../image/types.ts';
import { ComplexityScorer, greyForComplexity } from './complexity.ts';
import { DEFAULT_WEIGHT } from './partition.ts';

/**
 * Default bias per focused pixel, as a multiple of the whole image's complexity density
 * `entropy ** weight` (entropy of the whole image resized to 64x64). With gain 4, a region inside
 * a box scores like a region with five times the average density, so it is split earlier.
 */
export const DEFAULT_FOCUS_GAIN = 4;

/** One `--focus` box: half-open pixel bounds [x0, x1) x [y0, y1); `value` is the bias per pixel. */
export interface FocusBox {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
  value?: number;
}

/** An invalid focus specification; `flag` and `raw` name what the user typed. */
export class FocusSpecError extends Error {
  override name = 'FocusSpecError';
  constructor(
    readonly flag: string,
    readonly raw: string,
    reason: string,
  ) {
    super(`invalid ${flag} ${JSON.stringify(raw)}: ${reason}`);
  }
}

const FOCUS_FORMAT = 'expected x0,y0,x1,y1 or x0,y0,x1,y1:value (integer pixels, half-open box, value a finite number)';

/** Parses `x0,y0,x1,y1[:value]`; bounds are checked against the image by `checkFocusBox`. */
export function parseFocusBox(raw: string, flag = '--focus'): FocusBox {
  const [boxText, valueText, ...extra] = raw.split(':');
  if (extra.length > 0 || boxText === undefined) throw new FocusSpecError(flag, raw, FOCUS_FORMAT);
  const parts = boxText.split(',').map((part) => part.trim());
  if (parts.length !== 4 || parts.some((part) => !/^-?\d+$/.test(part))) throw new FocusSpecError(flag, raw, FOCUS_FORMAT);
  const [x0, y0, x1, y1] = parts.map(Number) as [number, number, number, number];
  if (x0 >= x1) throw new FocusSpecError(flag, raw, `x0 (${x0}) must be less than x1 (${x1})`);
  if (y0 >= y1) throw new FocusSpecError(flag, raw, `y0 (${y0}) must be less than y1 (${y1})`);
  if (x0 < 0 || y0 < 0) throw new FocusSpecError(flag, raw, 'box corners must not be negative');
  const box: FocusBox = { x0, y0, x1, y1 };
  if (valueText !== undefined) {
    const value = valueText.trim() === '' ? Number.NaN : Number(valueText);
    if (!Number.isFinite(value)) throw new FocusSpecError(flag, raw, `value ${JSON.stringify(valueText)} is not a finite number; ${FOCUS_FORMAT}`);
    box.value = value;
  }
  return box;
}

/** Rejects a box that does not lie inside a `width x height` image. */
export function checkFocusBox(box: FocusBox, width: number, height: number, raw: string, flag = '--focus'): void {
  if (box.x1 > width || box.y1 > height) {
    throw new FocusSpecError(
      flag,
      raw,
      `box [${box.x0}, ${box.x1}) x [${box.y0}, ${box.y1}) is outside the ${width}x${height} image ` +
        '(coordinates are pixels of the image after --size preprocessing)',
    );
  }
}

/** Bias per focused pixel when a box or mask gives no value: DEFAULT_FOCUS_GAIN * entropy ** weight. */
export function defaultFocusValue(img: RgbImage, weight = DEFAULT_WEIGHT): number {
  const scorer = new ComplexityScorer(greyForComplexity(img), img.width);
  const entropy = scorer.entropyOf(0, 0, img.width - 1, img.height - 1);
  return DEFAULT_FOCUS_GAIN * Math.pow(entropy, weight);
}

/**
 * Builds the per-pixel bias map [height, width] of an image: each box adds its value (or the
 * default) on its pixels, and a grey mask in [0, 1] adds `mask * default value`. Overlapping
 * boxes add up. Returns undefined when there is nothing to focus on.
 */
export function buildFocusBias(
  img: RgbImage,
  boxes: readonly FocusBox[],
  mask: Float32Array | undefined,
  weight = DEFAULT_WEIGHT,
): Float32Array | undefined {
  if (boxes.length === 0 && !mask) return undefined;
  const needsDefault = mask !== undefined || boxes.some((box) => box.value === undefined);
  const fallback = needsDefault ? defaultFocusValue(img, weight) : 0;
  const bias = new Float32Array(img.width * img.height);
  if (mask) {
    if (mask.length !== bias.length) throw new RangeError(`focus mask has ${mask.length} values, expected ${bias.length}`);
    for (let i = 0; i < bias.length; i += 1) bias[i] = mask[i]! * fallback;
  }
  for (const box of boxes) {
    const value = box.value ?? fallback;
    for (let y = box.y0; y < box.y1; y += 1) {
      for (let x = box.x0; x < box.x1; x += 1) bias[y * img.width + x] = bias[y * img.width + x]! + value;
    }
  }
  return bias;
}
