import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeImageBytes, decodeImageFile } from '../../../ts/image/decode.ts';
import type { RgbImage } from '../../../ts/image/types.ts';
import { encodePng, writePng } from '../../../ts/image/write.ts';
import { makeTempDir } from './pillow_fixtures.ts';

const temp = makeTempDir('gpstoken-write-');
test.after(() => temp.remove());

function noise(width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  let state = 12345;
  for (let i = 0; i < data.length; i++) {
    state = (state * 1103515245 + 12345) >>> 0;
    data[i] = state >>> 24;
  }
  return { width, height, data };
}

test('encodePng round trip keeps every pixel', async () => {
  const img = noise(37, 21);
  const bytes = encodePng(img);
  assert.equal(Array.from(bytes.subarray(0, 8)), [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const back = await decodeImageBytes(bytes, 'round-trip.png');
  assert.is(back.width, 37);
  assert.is(back.height, 21);
  assert.equal(Array.from(back.data), Array.from(img.data));
});

test('writePng creates folders and leaves no temporary file', async () => {
  const file = path.join(temp.dir, 'nested', 'deeper', 'out.png');
  const img = noise(8, 5);
  await writePng(file, img);
  assert.equal(readdirSync(path.dirname(file)), ['out.png']);
  assert.equal(Array.from((await decodeImageFile(file)).data), Array.from(img.data));
});

test('writePng replaces an existing file whole', async () => {
  const file = path.join(temp.dir, 'replace.png');
  await writePng(file, noise(30, 30));
  await writePng(file, noise(2, 3));
  assert.equal(readFileSync(file), encodePng(noise(2, 3)));
});

test('encodePng rejects mismatched data length', () => {
  assert.throws(() => encodePng({ width: 2, height: 2, data: new Uint8Array(11) }), /image data has 11 bytes, expected 2x2x3/);
});

test.run();
