import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeImageFile } from '../../../ts/image/decode.ts';
import { loadGreyMask, rgbToGrey } from '../../../ts/image/mask.ts';
import { compareSamples, makeTempDir, runFixtureScript } from './pillow_fixtures.ts';

const temp = makeTempDir('gpstoken-mask-');
await runFixtureScript('make_mask_fixtures.py', [temp.dir]);
test.after(() => temp.remove());

test('rgbToGrey equals Pillow L on an RGB grid', async () => {
  const grid = await decodeImageFile(path.join(temp.dir, 'grid.png'));
  const expected = readFileSync(path.join(temp.dir, 'grid.l'));
  assert.is(grid.width, expected.length);
  assert.equal(compareSamples(rgbToGrey(grid), expected), { differing: 0, maxDifference: 0 });
});

test('mask at its own size is L / 255', async () => {
  const mask = await loadGreyMask(path.join(temp.dir, 'mask.png'), 40, 30);
  const expected = readFileSync(path.join(temp.dir, 'mask.l'));
  assert.is(mask.length, 1200);
  assert.equal(Array.from(mask), Array.from(expected, (v) => Math.fround(v / 255)));
});

test('resized mask equals Pillow L bilinear resize', async () => {
  const mask = await loadGreyMask(path.join(temp.dir, 'mask.png'), 24, 17);
  const expected = readFileSync(path.join(temp.dir, 'mask_24x17.l'));
  assert.is(mask.length, 24 * 17);
  assert.equal(Array.from(mask), Array.from(expected, (v) => Math.fround(v / 255)));
  assert.ok(mask.every((v) => v >= 0 && v <= 1));
});

test('missing mask file names the file', async () => {
  const file = path.join(temp.dir, 'absent.png');
  try {
    await loadGreyMask(file, 4, 4);
    assert.unreachable('no error');
  } catch (error) {
    assert.is((error as Error).message, `${file}: file not found`);
  }
});

test.run();
