// Grey masks for `--focus-mask`: any supported image read as Pillow's "L" grey, in [0, 1].
import { decodeImageFile } from './decode.ts';
import { resizeImage } from './resize.ts';
import type { RgbImage } from './types.ts';

/**
 * Converts RGB to grey with Pillow's "L" rule, L = R * 299/1000 + G * 587/1000 + B * 114/1000,
 * which libImaging evaluates in fixed point as (R * 19595 + G * 38470 + B * 7471 + 0x8000) >> 16.
 */
export function rgbToGrey(img: RgbImage): Uint8Array {
  const grey = new Uint8Array(img.width * img.height);
  for (let p = 0, s = 0; p < grey.length; p++, s += 3) {
    grey[p] = (img.data[s]! * 19595 + img.data[s + 1]! * 38470 + img.data[s + 2]! * 7471 + 0x8000) >>> 16;
  }
  return grey;
}

/**
 * Reads a mask image as grey values in [0, 1] (grey / 255), `width` x `height`, row-major.
 * A mask of another size is first resized with Pillow's bilinear filter. Because the filter
 * treats channels alike, resizing the replicated grey equals resizing Pillow's "L" image.
 */
export async function loadGreyMask(file: string, width: number, height: number): Promise<Float32Array> {
  let img = await decodeImageFile(file);
  const grey = rgbToGrey(img);
  img = { width: img.width, height: img.height, data: replicateGrey(grey) };
  if (img.width !== width || img.height !== height) img = resizeImage(img, width, height, 'bilinear');

  const mask = new Float32Array(width * height);
  for (let p = 0; p < mask.length; p++) mask[p] = img.data[p * 3]! / 255;
  return mask;
}

function replicateGrey(grey: Uint8Array): Uint8Array {
  const rgb = new Uint8Array(grey.length * 3);
  for (let p = 0; p < grey.length; p++) rgb.fill(grey[p]!, p * 3, p * 3 + 3);
  return rgb;
}
