// Image decoding that returns exactly the pixels of Pillow 9.4's `Image.open(f).convert("RGB")`,
// which is how the published GPSToken code reads every image.
//
// PNG goes through our own reader (png.ts) because Pillow's 16-bit and palette rules differ
// from libvips'. JPEG and WebP go through sharp (libvips, mozjpeg, libwebp) with the
// embedded ICC profile ignored and no EXIF rotation, as Pillow does neither. Pillow's
// libjpeg-turbo 2.1 and sharp's mozjpeg both decode with the islow IDCT and fancy upsampling:
// the tests compare every pixel of the embedded photos and of JPEGs written by Pillow.
// CMYK JPEGs are read as raw CMYK and converted with Pillow's formula, not with a colour profile.
import { readFile, stat } from 'node:fs/promises';
import sharp, { type OutputInfo } from 'sharp';
import { decodePng, hasPngSignature, PngFormatError } from './png.ts';
import { ImageDecodeError, type RgbImage } from './types.ts';

/** Largest image decoded, in pixels; Pillow refuses twice its 89.5-megapixel warning limit. */
export const MAX_IMAGE_PIXELS = 178_956_970;

export type ImageFormat = 'png' | 'jpeg' | 'webp';

export interface DecodeOptions {
  /**
   * Receives one message per lossy conversion that Pillow's rules apply silently (a 16-bit
   * greyscale PNG clipped to 255), so a command can print it next to the file name.
   */
  onWarning?: (message: string) => void;
}

/** Decodes a PNG, JPEG or WebP file to 8-bit RGB, pixel for pixel as Pillow 9.4 does. */
export async function decodeImageFile(file: string, options: DecodeOptions = {}): Promise<RgbImage> {
  const bytes = await readImageBytes(file);
  const format = sniffFormat(bytes, file);
  if (format === 'png') warnAboutPngDepth(bytes, file, options);
  try {
    if (format === 'png') return decodePng(bytes, MAX_IMAGE_PIXELS);
    return await decodeWithSharp(bytes, format);
  } catch (error) {
    if (error instanceof ImageDecodeError) throw error;
    throw new ImageDecodeError(file, describeDecodeFailure(error, format), { cause: error });
  }
}

/** Decodes image bytes already in memory; `label` names the source in errors and warnings. */
export async function decodeImageBytes(bytes: Buffer, label: string, options: DecodeOptions = {}): Promise<RgbImage> {
  if (bytes.length === 0) throw new ImageDecodeError(label, 'file is empty');
  const format = sniffFormat(bytes, label);
  if (format === 'png') warnAboutPngDepth(bytes, label, options);
  try {
    if (format === 'png') return decodePng(bytes, MAX_IMAGE_PIXELS);
    return await decodeWithSharp(bytes, format);
  } catch (error) {
    throw new ImageDecodeError(label, describeDecodeFailure(error, format), { cause: error });
  }
}

/**
 * Warns about a 16-bit greyscale PNG: Pillow opens it as mode "I" and converts to RGB by
 * clipping at 255 without scaling, so a typical 16-bit image becomes almost all white.
 */
function warnAboutPngDepth(bytes: Buffer, label: string, options: DecodeOptions): void {
  // IHDR is the first chunk: 8-byte signature, length, type, width, height, then bit depth and colour type.
  if (options.onWarning === undefined || bytes.length < 26 || bytes.toString('latin1', 12, 16) !== 'IHDR') return;
  const bitDepth = bytes[24];
  const colourType = bytes[25];
  if (bitDepth === 16 && colourType === 0) {
    options.onWarning(
      `${label}: 16-bit greyscale PNG; values above 255 are clipped to 255 (Pillow's mode "I" to RGB rule, no scaling), ` +
        'so bright areas turn white. Convert it to 8-bit first to keep its contrast',
    );
  }
}

async function readImageBytes(file: string): Promise<Buffer> {
  try {
    const info = await stat(file);
    if (info.isDirectory()) throw new ImageDecodeError(file, 'is a directory, expected an image file');
    if (info.size === 0) throw new ImageDecodeError(file, 'file is empty');
    return await readFile(file);
  } catch (error) {
    if (error instanceof ImageDecodeError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ImageDecodeError(file, 'file not found', { cause: error });
    if (code === 'EACCES') throw new ImageDecodeError(file, 'permission denied', { cause: error });
    throw new ImageDecodeError(file, `cannot read the file (${code ?? (error as Error).message})`, { cause: error });
  }
}

/** Formats recognised by their first bytes but not decoded, with the name shown to the user. */
const UNSUPPORTED_SIGNATURES: Array<{ name: string; matches: (b: Buffer) => boolean }> = [
  { name: 'GIF', matches: (b) => b.toString('latin1', 0, 4) === 'GIF8' },
  { name: 'BMP', matches: (b) => b.toString('latin1', 0, 2) === 'BM' },
  { name: 'TIFF', matches: (b) => ['II*\0', 'MM\0*'].includes(b.toString('latin1', 0, 4)) },
  { name: 'AVIF', matches: (b) => b.toString('latin1', 4, 8) === 'ftyp' && /^avi[fs]/.test(b.toString('latin1', 8, 12)) },
  { name: 'HEIF', matches: (b) => b.toString('latin1', 4, 8) === 'ftyp' },
  { name: 'ICO', matches: (b) => b.length >= 4 && b.readUInt32BE(0) === 0x00000100 },
  { name: 'PSD', matches: (b) => b.toString('latin1', 0, 4) === '8BPS' },
  { name: 'JPEG 2000', matches: (b) => b.length >= 12 && b.readUInt32BE(4) === 0x6a502020 },
  { name: 'JPEG XL', matches: (b) => (b[0] === 0xff && b[1] === 0x0a) || b.toString('latin1', 4, 8) === 'JXL ' },
  { name: 'QOI', matches: (b) => b.toString('latin1', 0, 4) === 'qoif' },
  { name: 'PDF', matches: (b) => b.toString('latin1', 0, 5) === '%PDF-' },
  { name: 'SVG', matches: (b) => /^\s*(<\?xml[^>]*>\s*)?<svg[\s>]/i.test(b.toString('utf8', 0, 256)) },
];

/** Identifies the format from the first bytes; the file name's extension plays no part. */
export function sniffFormat(bytes: Buffer, file: string): ImageFormat {
  if (hasPngSignature(bytes)) return 'png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  if (bytes.toString('latin1', 0, 4) === 'RIFF' && bytes.toString('latin1', 8, 12) === 'WEBP') return 'webp';

  const known = UNSUPPORTED_SIGNATURES.find((signature) => signature.matches(bytes));
  if (known !== undefined) {
    throw new ImageDecodeError(file, `unsupported format: ${known.name}; convert it to PNG, JPEG or WebP`);
  }
  throw new ImageDecodeError(file, 'not a PNG, JPEG or WebP image (unrecognised file signature)');
}

async function decodeWithSharp(bytes: Buffer, format: 'jpeg' | 'webp'): Promise<RgbImage> {
  // libwebp reports a cut-off file only as "unable to parse"; the RIFF header stores the expected size.
  if (format === 'webp' && bytes.length < 12) throw new TruncatedDataError();
  if (format === 'webp' && bytes.readUInt32LE(4) + 8 > bytes.length) throw new TruncatedDataError();
  const options = { ignoreIcc: true, limitInputPixels: MAX_IMAGE_PIXELS, failOn: 'truncated' as const };
  if (format === 'jpeg' && jpegComponentCount(bytes) === 4) {
    const cmyk = sharp(bytes, options).pipelineColourspace('cmyk').toColourspace('cmyk');
    return cmykToRgb(await cmyk.raw().toBuffer({ resolveWithObject: true }));
  }

  // `raw()` keeps the decoded samples: no colour conversion, no rotation, alpha still present.
  const { data, info } = await sharp(bytes, options).raw().toBuffer({ resolveWithObject: true });
  if (data.length !== info.width * info.height * info.channels) {
    throw new Error(`${format} decoded to ${data.length} bytes, expected 8-bit ${info.width}x${info.height}x${info.channels}`);
  }
  return dropExtraChannels(data, info.width, info.height, info.channels);
}

/**
 * Returns the component count of the first SOF marker, which is 4 for CMYK and YCCK.
 * Returns undefined when no frame header is found, so that libvips reports the damage.
 */
export function jpegComponentCount(bytes: Buffer): number | undefined {
  let offset = 2;
  while (offset + 4 <= bytes.length) {
    if (bytes[offset] !== 0xff) return undefined;
    const marker = bytes[offset + 1]!;
    if (marker === 0xff) {
      offset += 1; // fill byte
      continue;
    }
    const length = bytes.readUInt16BE(offset + 2);
    const isStartOfFrame = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isStartOfFrame) return offset + 9 < bytes.length ? bytes[offset + 9] : undefined;
    offset += 2 + length;
  }
  return undefined;
}

/** Keeps R, G, B (or replicates grey), dropping alpha without compositing, as Pillow's convert does. */
function dropExtraChannels(data: Buffer, width: number, height: number, channels: number): RgbImage {
  const out = new Uint8Array(width * height * 3);
  const grey = channels <= 2;
  for (let p = 0, s = 0, o = 0; p < width * height; p++, s += channels, o += 3) {
    out[o] = data[s]!;
    out[o + 1] = data[grey ? s : s + 1]!;
    out[o + 2] = data[grey ? s : s + 2]!;
  }
  return { width, height, data: out };
}

/**
 * Converts CMYK to RGB with Pillow 9.4's `cmyk2rgb`: channel = 255 - k - c (1 - k / 255),
 * rounded by its MULDIV255 integer trick, ignoring any colour profile.
 */
function cmykToRgb({ data, info }: { data: Buffer; info: OutputInfo }): RgbImage {
  if (info.channels !== 4) throw new Error(`CMYK image decoded to ${info.channels} channels, expected 4`);
  const pixels = info.width * info.height;
  const out = new Uint8Array(pixels * 3);
  for (let p = 0; p < pixels; p++) {
    const inverseK = 255 - data[p * 4 + 3]!;
    for (let c = 0; c < 3; c++) {
      out[p * 3 + c] = clip8(inverseK - muldiv255(data[p * 4 + c]!, inverseK));
    }
  }
  return { width: info.width, height: info.height, data: out };
}

function muldiv255(a: number, b: number): number {
  const t = a * b + 128;
  return ((t >> 8) + t) >> 8;
}

function clip8(v: number): number {
  return Math.min(255, Math.max(0, v));
}

class TruncatedDataError extends Error {}

const FORMAT_NAMES: Record<ImageFormat, string> = { png: 'PNG', jpeg: 'JPEG', webp: 'WebP' };

/** Turns a decoder failure into a short reason; the original error stays as `cause`. */
function describeDecodeFailure(error: unknown, format: ImageFormat): string {
  const name = FORMAT_NAMES[format];
  if (error instanceof PngFormatError) return error.message;
  if (error instanceof TruncatedDataError) return `truncated ${name} data`;
  const message = (error instanceof Error ? error.message : String(error))
    .replace(/^Input (buffer|file) has corrupt header: /, '')
    .replace(/^(VipsJpeg|webp|VipsForeignLoad\w*): /i, '');
  if (/pixel limit|exceeds pixel/i.test(message)) return `image is larger than the limit of ${MAX_IMAGE_PIXELS} pixels`;
  if (/premature end|truncat|unexpected end|not enough data|ended prematurely/i.test(message)) return `truncated ${name} data`;
  const firstLine = message.split('\n').find((line) => line.trim() !== '') ?? 'unknown error';
  return `corrupt ${name} data: ${firstLine.trim()}`;
}
