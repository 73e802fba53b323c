// PNG writing for reconstructions, overlays and evaluation images.
import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { encode } from 'fast-png';
import type { RgbImage } from './types.ts';

/** Encodes an 8-bit RGB image as a PNG file's bytes (no metadata chunks). */
export function encodePng(img: RgbImage): Buffer {
  if (img.data.length !== img.width * img.height * 3) {
    throw new RangeError(`image data has ${img.data.length} bytes, expected ${img.width}x${img.height}x3`);
  }
  const bytes = encode({ width: img.width, height: img.height, data: img.data, channels: 3, depth: 8 });
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Writes `img` as a PNG, creating missing parent folders. The bytes go to a temporary file in
 * the same folder that is then renamed, so a reader never sees a half-written PNG.
 */
export async function writePng(file: string, img: RgbImage): Promise<void> {
  const bytes = encodePng(img);
  await mkdir(path.dirname(file), { recursive: true });
  const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeFile(temporary, bytes);
    await rename(temporary, file);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}
