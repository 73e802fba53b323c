import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { crc32, deflateSync } from 'node:zlib';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { REPO_ROOT } from '../../../ts/bridge/backend.ts';
import { decodeImageBytes, decodeImageFile, jpegComponentCount } from '../../../ts/image/decode.ts';
import { ImageDecodeError } from '../../../ts/image/types.ts';
import { compareSamples, makeTempDir, runFixtureScript, SHARED_DIR } from './pillow_fixtures.ts';

interface ManifestEntry {
  file: string;
  expected: string;
  mode: string;
  width: number;
  height: number;
}

const EMBEDDED_DIR = path.join(REPO_ROOT, 'data', 'embedded');
const GOLDEN_IMAGES = path.join(SHARED_DIR, 'golden', 'partition', 'images');
const embedded = readdirSync(EMBEDDED_DIR).filter((f) => f.endsWith('.jpg')).map((f) => path.join(EMBEDDED_DIR, f));
const golden = readdirSync(GOLDEN_IMAGES).filter((f) => f.endsWith('.png')).map((f) => path.join(GOLDEN_IMAGES, f));

const temp = makeTempDir('gpstoken-decode-');
await runFixtureScript('make_decode_fixtures.py', [temp.dir, embedded[3]!, ...embedded, ...golden]);
const manifest = JSON.parse(readFileSync(path.join(temp.dir, 'manifest.json'), 'utf8')) as ManifestEntry[];

test.after(() => temp.remove());

test('fixture set covers every case', () => {
  assert.is(embedded.length, 48);
  assert.ok(golden.length >= 10, `only ${golden.length} golden PNGs`);
  assert.is(manifest.length, 55 + embedded.length + golden.length);
  const modes = new Set(manifest.map((entry) => entry.mode));
  assert.equal([...modes].sort(), ['1', 'CMYK', 'I', 'L', 'LA', 'P', 'RGB', 'RGBA']);
});

for (const entry of manifest) {
  test(`pixels equal Pillow: ${path.basename(entry.file)} (${entry.mode})`, async () => {
    const image = await decodeImageFile(entry.file);
    assert.is(image.width, entry.width);
    assert.is(image.height, entry.height);
    const expected = readFileSync(entry.expected);
    assert.is(image.data.length, expected.length);
    assert.equal(compareSamples(image.data, expected), { differing: 0, maxDifference: 0 });
  });
}

/** Returns a PNG signature, an IHDR for an 8-bit RGB image of this size, and an empty IDAT. */
function pngWithHeaderOnly(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8;
  header[9] = 2;
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, chunk('IHDR', header), chunk('IDAT', Buffer.alloc(0)), chunk('IEND', Buffer.alloc(0))]);
}

/** Builds damaged copies of good fixtures; each must fail with exactly this reason. */
function badFiles(dir: string): Array<{ name: string; reason: string }> {
  const png = readFileSync(path.join(temp.dir, 'rgb.png'));
  const jpeg = readFileSync(path.join(temp.dir, 'q75_s2.jpg'));
  const webp = readFileSync(path.join(temp.dir, 'lossy.webp'));
  const write = (name: string, bytes: Buffer | string) => writeFileSync(path.join(dir, name), bytes);

  write('empty.png', '');
  write('text.png', 'hello, this is not an image\n');
  write('animation.png', Buffer.from('GIF89a\x01\x00\x01\x00\x00\x00\x00;', 'latin1'));
  write('bitmap.jpg', Buffer.from('BM\x1e\x00\x00\x00\x00\x00\x00\x00', 'latin1'));
  write('scan.webp', Buffer.from('II*\x00\x08\x00\x00\x00', 'latin1'));
  write('half.png', png.subarray(0, png.length >> 1));
  write('header_only.png', png.subarray(0, 20));
  const badCrc = Buffer.from(png);
  badCrc[20] = badCrc[20]! ^ 0xff;
  write('bad_crc.png', badCrc);
  const badStream = Buffer.from(png);
  badStream.fill(0, png.indexOf('IDAT') + 10, png.indexOf('IDAT') + 40);
  write('bad_stream.png', badStream);
  write('half.jpg', jpeg.subarray(0, jpeg.length >> 1));
  const badMarker = Buffer.from(jpeg);
  badMarker.fill(0xff, 200, 260);
  write('bad_marker.jpg', badMarker);
  write('half.webp', webp.subarray(0, webp.length >> 1));
  mkdirSync(path.join(dir, 'folder.png'));
  write('huge.png', pngWithHeaderOnly(20000, 20000));

  return [
    { name: 'empty.png', reason: 'file is empty' },
    { name: 'text.png', reason: 'not a PNG, JPEG or WebP image (unrecognised file signature)' },
    { name: 'animation.png', reason: 'unsupported format: GIF; convert it to PNG, JPEG or WebP' },
    { name: 'bitmap.jpg', reason: 'unsupported format: BMP; convert it to PNG, JPEG or WebP' },
    { name: 'scan.webp', reason: 'unsupported format: TIFF; convert it to PNG, JPEG or WebP' },
    { name: 'half.png', reason: 'truncated PNG data' },
    { name: 'header_only.png', reason: 'truncated PNG data' },
    { name: 'bad_crc.png', reason: 'corrupt PNG data: CRC mismatch in the IHDR chunk' },
    { name: 'bad_stream.png', reason: 'corrupt PNG data: invalid code lengths set' },
    { name: 'half.jpg', reason: 'truncated JPEG data' },
    { name: 'bad_marker.jpg', reason: 'corrupt JPEG data: Unsupported marker type 0x52' },
    { name: 'half.webp', reason: 'truncated WebP data' },
    { name: 'missing.png', reason: 'file not found' },
    { name: 'folder.png', reason: 'is a directory, expected an image file' },
    { name: 'huge.png', reason: 'image is 20000x20000 pixels, more than the limit of 178956970' },
  ];
}

test('bad files raise ImageDecodeError with exact reasons', async () => {
  const bad = makeTempDir('gpstoken-bad-images-');
  try {
    for (const { name, reason } of badFiles(bad.dir)) {
      const file = path.join(bad.dir, name);
      const error = await decodeImageFile(file).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.instance(error, ImageDecodeError, name);
      assert.is((error as ImageDecodeError).file, file);
      assert.is((error as ImageDecodeError).reason, reason, name);
      assert.is((error as ImageDecodeError).message, `${file}: ${reason}`);
    }
  } finally {
    bad.remove();
  }
});

test('missing IEND after complete image data is accepted', async () => {
  const png = readFileSync(path.join(temp.dir, 'rgb.png'));
  const image = await decodeImageBytes(png.subarray(0, png.length - 12), 'no-iend.png');
  assert.equal(compareSamples(image.data, readFileSync(path.join(temp.dir, 'rgb.png.rgb'))), { differing: 0, maxDifference: 0 });
});

test('JPEG component count read from SOF', () => {
  assert.is(jpegComponentCount(readFileSync(path.join(temp.dir, 'q75_s2.jpg'))), 3);
  assert.is(jpegComponentCount(readFileSync(path.join(temp.dir, 'progressive.jpg'))), 3);
  assert.is(jpegComponentCount(readFileSync(path.join(temp.dir, 'grey.jpg'))), 1);
  assert.is(jpegComponentCount(readFileSync(path.join(temp.dir, 'cmyk.jpg'))), 4);
  assert.is(jpegComponentCount(Buffer.from([0xff, 0xd8, 0xff])), undefined);
});

test('decodeImageBytes rejects empty input', async () => {
  try {
    await decodeImageBytes(Buffer.alloc(0), 'upload');
    assert.unreachable('no error');
  } catch (error) {
    assert.is((error as Error).message, 'upload: file is empty');
  }
});

/** Builds a greyscale PNG (colour type 0) of `bitDepth` 8 or 16 from one row-major sample list. */
function greyPng(width: number, height: number, bitDepth: 8 | 16, samples: number[]): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = bitDepth;
  header[9] = 0;
  const bytesPerSample = bitDepth / 8;
  const raw = Buffer.alloc(height * (1 + width * bytesPerSample));
  for (let y = 0; y < height; y += 1) {
    for (let x = 0; x < width; x += 1) {
      const offset = y * (1 + width * bytesPerSample) + 1 + x * bytesPerSample;
      if (bitDepth === 16) raw.writeUInt16BE(samples[y * width + x]!, offset);
      else raw[offset] = samples[y * width + x]!;
    }
  }
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, chunk('IHDR', header), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

test('16-bit grey PNG warns about clipping', async () => {
  const warnings: string[] = [];
  const image = await decodeImageBytes(greyPng(2, 2, 16, [100, 300, 65535, 0]), 'deep.png', { onWarning: (message) => warnings.push(message) });
  assert.equal(Array.from(image.data), [100, 100, 100, 255, 255, 255, 255, 255, 255, 0, 0, 0]);
  assert.equal(warnings, [
    'deep.png: 16-bit greyscale PNG; values above 255 are clipped to 255 (Pillow\'s mode "I" to RGB rule, no scaling), ' +
      'so bright areas turn white. Convert it to 8-bit first to keep its contrast',
  ]);
});

test('8-bit grey PNG decodes without warning', async () => {
  const warnings: string[] = [];
  const image = await decodeImageBytes(greyPng(2, 1, 8, [7, 250]), 'plain.png', { onWarning: (message) => warnings.push(message) });
  assert.equal(Array.from(image.data), [7, 7, 7, 250, 250, 250]);
  assert.equal(warnings, []);
});

test.run();
