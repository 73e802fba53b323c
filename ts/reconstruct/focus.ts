// `--focus x0,y0,x1,y1[,value]`: spend more tokens inside a box of the preprocessed image.
import { UsageError } from '../cli/errors.ts';

/** Bias added per pixel inside the box when the flag gives no value. */
export const DEFAULT_FOCUS_VALUE = 100;

export interface FocusBox {
  /** Half-open pixel box [x0, x1) x [y0, y1) in the preprocessed image. */
  box: [number, number, number, number];
  value: number;
}

export function parseFocus(raw: string): FocusBox {
  const parts = raw.split(',').map((part) => Number(part.trim()));
  const valid = (parts.length === 4 || parts.length === 5) && parts.every(Number.isFinite);
  const [x0, y0, x1, y1, value = DEFAULT_FOCUS_VALUE] = parts as [number, number, number, number, number?];
  if (!valid || ![x0, y0, x1, y1].every(Number.isInteger) || x1 <= x0 || y1 <= y0 || x0 < 0 || y0 < 0) {
    throw new UsageError(
      `--focus ${raw}: expected x0,y0,x1,y1[,value] with integer pixel bounds, x0 < x1 and y0 < y1 ` +
        `(a half-open box in the preprocessed image; value defaults to ${DEFAULT_FOCUS_VALUE})`,
    );
  }
  return { box: [x0, y0, x1, y1], value };
}

/**
 * Builds the partition's per-pixel bias map [height, width]: `value` inside the box, 0 elsewhere.
 * A region's score gains the sum over its pixels, so the partition splits the box more finely.
 */
export function focusBias(focus: FocusBox, width: number, height: number): Float32Array {
  const [x0, y0, x1, y1] = focus.box;
  if (x1 > width || y1 > height) {
    throw new UsageError(`--focus box ${focus.box.join(',')} leaves the ${width}x${height} preprocessed image`);
  }
  const bias = new Float32Array(width * height);
  for (let y = y0; y < y1; y++) bias.fill(focus.value, y * width + x0, y * width + x1);
  return bias;
}
