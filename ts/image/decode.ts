// TODO: replace this first version (sharp, no Pillow parity checks yet) with the full decoder.
import sharp from 'sharp';
import { ImageDecodeError, type RgbImage } from './types.ts';

/** Decodes a PNG, JPEG or WebP file to 8-bit RGB. */
export async function decodeImageFile(file: string): Promise<RgbImage> {
  try {
    const { data, info } = await sharp(file).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`unexpected channel count ${info.channels}`);
    return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
  } catch (error) {
    throw new ImageDecodeError(file, (error as Error).message, { cause: error });
  }
}
