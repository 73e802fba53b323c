// Image types shared by decoding, resizing, partitioning and writing.

/** An 8-bit RGB image, rows top to bottom, channels interleaved: data.length = width * height * 3. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/** A file that could not be decoded, with the path and the reason. */
export class ImageDecodeError extends Error {
  override name = 'ImageDecodeError';
  constructor(
    readonly file: string,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`${file}: ${reason}`, options);
  }
}
