// PNG reading that returns exactly the pixels of Pillow 9.4's `Image.open(f).convert("RGB")`.
//
// Pillow's rules, checked by experiment with Pillow 9.4 (Debian 12):
// - grey 1-bit opens as mode "1" (0 or 255); 2- and 4-bit grey scale by 85 and 17;
// - grey 16-bit opens as mode "I" and "I" -> "RGB" clips to [0, 255] (no scaling);
// - RGB, RGBA and grey+alpha at 16 bits keep the high byte of each sample;
// - alpha and tRNS are dropped without compositing;
// - a palette index past the end of PLTE maps to the grey (i, i, i), because Pillow's
//   palette starts as a grey ramp that PLTE overwrites.
// Pillow checks the CRC of every chunk before the image data and ignores IDAT CRCs; so does this.
import { crc32, inflateSync, constants as zlibConstants } from 'node:zlib';
import type { RgbImage } from './types.ts';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** A PNG that cannot be read; `reason` is the short text for ImageDecodeError. */
export class PngFormatError extends Error {
  override name = 'PngFormatError';
}

interface PngHeader {
  width: number;
  height: number;
  bitDepth: number;
  colourType: number;
  interlaced: boolean;
}

interface PngChunks {
  header: PngHeader;
  palette: Uint8Array | undefined;
  compressed: Buffer;
}

const CHANNELS_BY_COLOUR_TYPE: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
const DEPTHS_BY_COLOUR_TYPE: Record<number, number[]> = {
  0: [1, 2, 4, 8, 16],
  2: [8, 16],
  3: [1, 2, 4, 8],
  4: [8, 16],
  6: [8, 16],
};

export function hasPngSignature(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && PNG_SIGNATURE.equals(bytes.subarray(0, 8));
}

/** Decodes a whole PNG file to 8-bit RGB by Pillow's conversion rules. */
export function decodePng(bytes: Buffer, maxPixels: number): RgbImage {
  const { header, palette, compressed } = readChunks(bytes);
  const pixels = header.width * header.height;
  if (pixels > maxPixels) {
    throw new PngFormatError(`image is ${header.width}x${header.height} pixels, more than the limit of ${maxPixels}`);
  }
  const raw = inflateImageData(compressed, header);
  const samples = unfilterAndDeinterlace(raw, header);
  return convertToRgb(samples, header, palette);
}

function readChunks(bytes: Buffer): PngChunks {
  let offset = 8;
  let header: PngHeader | undefined;
  let palette: Uint8Array | undefined;
  const idat: Buffer[] = [];
  let seenImageData = false;

  while (true) {
    if (offset + 8 > bytes.length) {
      if (seenImageData) break; // Pillow reads no further than the image data: a missing IEND is fine.
      throw new PngFormatError('truncated PNG data');
    }
    const length = bytes.readUInt32BE(offset);
    const type = bytes.toString('latin1', offset + 4, offset + 8);
    const end = offset + 12 + length;
    if (length > 0x7fffffff || !/^[A-Za-z]{4}$/.test(type)) {
      throw new PngFormatError(`corrupt PNG data: invalid chunk at byte ${offset}`);
    }
    if (end > bytes.length) {
      if (type === 'IDAT' && end - 4 <= bytes.length) {
        idat.push(bytes.subarray(offset + 8, end - 4)); // only the CRC is missing
        break;
      }
      if (type === 'IDAT') idat.push(bytes.subarray(offset + 8, bytes.length));
      if (seenImageData || type === 'IDAT') break; // the inflate step reports whether data is missing
      throw new PngFormatError('truncated PNG data');
    }
    const data = bytes.subarray(offset + 8, offset + 8 + length);
    if (!seenImageData && type !== 'IDAT' && crc32(bytes.subarray(offset + 4, offset + 8 + length)) !== bytes.readUInt32BE(end - 4)) {
      throw new PngFormatError(`corrupt PNG data: CRC mismatch in the ${type} chunk`);
    }

    if (header === undefined && type !== 'IHDR') throw new PngFormatError('corrupt PNG data: the first chunk is not IHDR');
    if (type === 'IHDR') header = parseHeader(data);
    else if (type === 'PLTE') palette = new Uint8Array(data);
    else if (type === 'IDAT') {
      idat.push(data);
      seenImageData = true;
    } else if (type === 'IEND') break;
    offset = end;
  }

  if (header === undefined) throw new PngFormatError('truncated PNG data');
  if (idat.length === 0) throw new PngFormatError('corrupt PNG data: no IDAT chunk');
  if (header.colourType === 3 && palette === undefined) throw new PngFormatError('corrupt PNG data: palette image without a PLTE chunk');
  return { header, palette, compressed: Buffer.concat(idat) };
}

function parseHeader(data: Buffer): PngHeader {
  if (data.length !== 13) throw new PngFormatError(`corrupt PNG data: IHDR has ${data.length} bytes, expected 13`);
  const header: PngHeader = {
    width: data.readUInt32BE(0),
    height: data.readUInt32BE(4),
    bitDepth: data[8]!,
    colourType: data[9]!,
    interlaced: data[12] === 1,
  };
  const depths = DEPTHS_BY_COLOUR_TYPE[header.colourType];
  if (depths === undefined) throw new PngFormatError(`corrupt PNG data: unknown colour type ${header.colourType}`);
  if (!depths.includes(header.bitDepth)) {
    throw new PngFormatError(`corrupt PNG data: bit depth ${header.bitDepth} is invalid for colour type ${header.colourType}`);
  }
  if (header.width === 0 || header.height === 0) throw new PngFormatError('corrupt PNG data: image has zero width or height');
  if (data[10] !== 0 || data[11] !== 0 || data[12]! > 1) throw new PngFormatError('corrupt PNG data: unknown compression, filter or interlace method');
  return header;
}

/** One Adam7 pass (or the whole image): origin, step and size in pixels. */
interface Pass {
  x0: number;
  y0: number;
  dx: number;
  dy: number;
  width: number;
  height: number;
}

function passesOf(header: PngHeader): Pass[] {
  const { width, height } = header;
  if (!header.interlaced) return [{ x0: 0, y0: 0, dx: 1, dy: 1, width, height }];
  const adam7 = [
    [0, 0, 8, 8],
    [4, 0, 8, 8],
    [0, 4, 4, 8],
    [2, 0, 4, 4],
    [0, 2, 2, 4],
    [1, 0, 2, 2],
    [0, 1, 1, 2],
  ] as const;
  return adam7.map(([x0, y0, dx, dy]) => ({
    x0,
    y0,
    dx,
    dy,
    width: Math.max(0, Math.ceil((width - x0) / dx)),
    height: Math.max(0, Math.ceil((height - y0) / dy)),
  }));
}

function rowBytes(header: PngHeader, passWidth: number): number {
  const channels = CHANNELS_BY_COLOUR_TYPE[header.colourType]!;
  return Math.ceil((passWidth * channels * header.bitDepth) / 8);
}

function expectedDataLength(header: PngHeader): number {
  let total = 0;
  for (const pass of passesOf(header)) {
    if (pass.width > 0 && pass.height > 0) total += pass.height * (1 + rowBytes(header, pass.width));
  }
  return total;
}

function inflateImageData(compressed: Buffer, header: PngHeader): Buffer {
  const expected = expectedDataLength(header);
  let raw: Buffer;
  try {
    // Z_SYNC_FLUSH returns the output of a cut-off stream instead of failing, so a short
    // stream is reported as truncation, as Pillow reports it.
    raw = inflateSync(compressed, { finishFlush: zlibConstants.Z_SYNC_FLUSH, maxOutputLength: expected + 1 });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ERR_BUFFER_TOO_LARGE') throw new PngFormatError(`corrupt PNG data: ${(error as Error).message}`, { cause: error });
    // Pillow ignores data past the last row; a bounded second pass keeps a zlib bomb out.
    return inflateSync(compressed, { finishFlush: zlibConstants.Z_SYNC_FLUSH, maxOutputLength: 4 * expected + 65536 }).subarray(0, expected);
  }
  if (raw.length < expected) throw new PngFormatError('truncated PNG data');
  return raw;
}

/** Returns the samples as one value per channel per pixel, row-major, at the file's bit depth. */
function unfilterAndDeinterlace(raw: Buffer, header: PngHeader): Uint16Array {
  const channels = CHANNELS_BY_COLOUR_TYPE[header.colourType]!;
  const samples = new Uint16Array(header.width * header.height * channels);
  const bytesPerPixel = Math.max(1, (channels * header.bitDepth) >> 3);
  let offset = 0;

  for (const pass of passesOf(header)) {
    if (pass.width === 0 || pass.height === 0) continue;
    const stride = rowBytes(header, pass.width);
    let previous = new Uint8Array(stride);
    for (let y = 0; y < pass.height; y++) {
      const filter = raw[offset]!;
      const line = new Uint8Array(raw.subarray(offset + 1, offset + 1 + stride));
      unfilterLine(filter, line, previous, bytesPerPixel);
      storeLineSamples(line, samples, header, pass, y, channels);
      previous = line;
      offset += stride + 1;
    }
  }
  return samples;
}

function unfilterLine(filter: number, line: Uint8Array, previous: Uint8Array, bpp: number): void {
  const n = line.length;
  switch (filter) {
    case 0:
      return;
    case 1:
      for (let i = bpp; i < n; i++) line[i] = (line[i]! + line[i - bpp]!) & 0xff;
      return;
    case 2:
      for (let i = 0; i < n; i++) line[i] = (line[i]! + previous[i]!) & 0xff;
      return;
    case 3:
      for (let i = 0; i < n; i++) {
        const left = i >= bpp ? line[i - bpp]! : 0;
        line[i] = (line[i]! + ((left + previous[i]!) >> 1)) & 0xff;
      }
      return;
    case 4:
      for (let i = 0; i < n; i++) {
        const a = i >= bpp ? line[i - bpp]! : 0;
        const b = previous[i]!;
        const c = i >= bpp ? previous[i - bpp]! : 0;
        line[i] = (line[i]! + paeth(a, b, c)) & 0xff;
      }
      return;
    default:
      throw new PngFormatError(`corrupt PNG data: unknown row filter ${filter}`);
  }
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  if (pa <= pb && pa <= pc) return a;
  return pb <= pc ? b : c;
}

function storeLineSamples(line: Uint8Array, samples: Uint16Array, header: PngHeader, pass: Pass, y: number, channels: number): void {
  const depth = header.bitDepth;
  const rowStart = (pass.y0 + y * pass.dy) * header.width;
  const mask = (1 << depth) - 1;
  for (let x = 0; x < pass.width; x++) {
    const pixel = (rowStart + pass.x0 + x * pass.dx) * channels;
    for (let c = 0; c < channels; c++) {
      const index = x * channels + c;
      let value: number;
      if (depth === 8) value = line[index]!;
      else if (depth === 16) value = (line[2 * index]! << 8) | line[2 * index + 1]!;
      else {
        const bit = index * depth;
        value = (line[bit >> 3]! >> (8 - depth - (bit & 7))) & mask;
      }
      samples[pixel + c] = value;
    }
  }
}

function convertToRgb(samples: Uint16Array, header: PngHeader, palette: Uint8Array | undefined): RgbImage {
  const { width, height, bitDepth, colourType } = header;
  const channels = CHANNELS_BY_COLOUR_TYPE[colourType]!;
  const out = new Uint8Array(width * height * 3);
  const toByte = sampleToByte(colourType, bitDepth);
  const paletteRgb = colourType === 3 ? paletteLookup(palette!) : undefined;

  for (let p = 0, s = 0, o = 0; p < width * height; p++, s += channels, o += 3) {
    if (paletteRgb !== undefined) {
      const entry = samples[s]! * 3;
      out[o] = paletteRgb[entry]!;
      out[o + 1] = paletteRgb[entry + 1]!;
      out[o + 2] = paletteRgb[entry + 2]!;
    } else if (channels >= 3) {
      out[o] = toByte(samples[s]!);
      out[o + 1] = toByte(samples[s + 1]!);
      out[o + 2] = toByte(samples[s + 2]!);
    } else {
      const grey = toByte(samples[s]!);
      out[o] = grey;
      out[o + 1] = grey;
      out[o + 2] = grey;
    }
  }
  return { width, height, data: out };
}

function sampleToByte(colourType: number, bitDepth: number): (value: number) => number {
  if (bitDepth === 8) return (v) => v;
  if (bitDepth === 16) return colourType === 0 ? (v) => Math.min(v, 255) : (v) => v >> 8;
  if (bitDepth === 1) return (v) => v * 255;
  return bitDepth === 2 ? (v) => v * 85 : (v) => v * 17;
}

/** Returns 256 RGB entries: PLTE first, then Pillow's grey ramp for indices past its end. */
function paletteLookup(plte: Uint8Array): Uint8Array {
  const table = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) table.fill(i, i * 3, i * 3 + 3);
  table.set(plte.subarray(0, Math.min(plte.length - (plte.length % 3), 256 * 3)));
  return table;
}
