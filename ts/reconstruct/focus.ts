// `--focus x0,y0,x1,y1[:value]` (repeatable) and `--focus-mask FILE` for `gpstoken reconstruct`:
// the same syntax and bias rule as `gpstoken partition`, so a layout seen with the partition
// command is the layout the model gets.
import { UsageError } from '../cli/errors.ts';
import { loadGreyMask } from '../image/mask.ts';
import type { RgbImage } from '../image/types.ts';
import { FocusSpecError, buildFocusBias, checkFocusBox, parseFocusBox, type FocusBox } from '../partition/focus.ts';

export interface FocusOptions {
  /** Parsed boxes with the text the user typed, for error messages. */
  boxes: { raw: string; box: FocusBox }[];
  /** Grey image scaled to a per-pixel bias (0..255 maps to 0..1 times the default value). */
  mask?: string;
}

/** Parses every `--focus` value; a malformed one is a UsageError naming the flag and value. */
export function parseFocusOptions(raws: readonly string[], mask?: string): FocusOptions {
  const boxes = raws.map((raw) => {
    try {
      return { raw, box: parseFocusBox(raw) };
    } catch (error) {
      if (error instanceof FocusSpecError) throw new UsageError(error.message, { cause: error });
      throw error;
    }
  });
  return mask === undefined ? { boxes } : { boxes, mask };
}

/** Builds the partition bias map of one preprocessed image, or undefined when nothing is focused. */
export async function focusBiasFor(image: RgbImage, focus: FocusOptions, weight: number): Promise<Float32Array | undefined> {
  if (focus.boxes.length === 0 && focus.mask === undefined) return undefined;
  for (const { raw, box } of focus.boxes) {
    try {
      checkFocusBox(box, image.width, image.height, raw);
    } catch (error) {
      if (error instanceof FocusSpecError) throw new UsageError(error.message, { cause: error });
      throw error;
    }
  }
  const mask = focus.mask === undefined ? undefined : await loadGreyMask(focus.mask, image.width, image.height);
  return buildFocusBias(
    image,
    focus.boxes.map(({ box }) => box),
    mask,
    weight,
  );
}
