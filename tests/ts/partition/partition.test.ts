import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { REPO_ROOT } from '../../../ts/bridge/backend.ts';
import { decodeImageFile } from '../../../ts/image/decode.ts';
import type { RgbImage } from '../../../ts/image/types.ts';
import { pairwiseSum } from '../../../ts/partition/complexity.ts';
import {
  DEFAULT_MINHW,
  DEFAULT_WEIGHT,
  PartitionSizeError,
  TokenBudgetError,
  gridPartition,
  partitionImage,
} from '../../../ts/partition/partition.ts';

const IMAGES = path.join(REPO_ROOT, '..', 'shared', 'golden', 'partition', 'images');

function flatImage(width: number, height: number, value = 128): RgbImage {
  return { width, height, data: new Uint8Array(width * height * 3).fill(value) };
}

function noiseImage(width: number, height: number, seed: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  let state = seed >>> 0;
  for (let i = 0; i < data.length; i += 1) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    data[i] = state >>> 24;
  }
  return { width, height, data };
}

/** Places four equal square images as the 2x2 tiles of one image. */
function mosaic(tiles: [RgbImage, RgbImage, RgbImage, RgbImage]): RgbImage {
  const side = tiles[0].width;
  const width = 2 * side;
  const data = new Uint8Array(width * width * 3);
  tiles.forEach((tile, t) => {
    const ox = (t % 2) * side;
    const oy = Math.floor(t / 2) * side;
    for (let y = 0; y < side; y += 1) data.set(tile.data.subarray(y * side * 3, (y + 1) * side * 3), ((oy + y) * width + ox) * 3);
  });
  return { width, height: width, data };
}

function boxes(pixelRegions: Int32Array): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < pixelRegions.length; i += 4) out.push(Array.from(pixelRegions.subarray(i, i + 4)));
  return out;
}

test('defaults match the published dataset', () => {
  assert.is(DEFAULT_WEIGHT, 2.5);
  assert.is(DEFAULT_MINHW, 8);
});

test('flat image splits height first on ties', () => {
  const result = partitionImage(flatImage(256, 256), { tokens: 4 });
  // The root square has equal half-scores, so its height is cut. The top half is split first
  // because the order is stable, and the halves of the last split stay at the end.
  assert.equal(boxes(result.pixelRegions), [
    [0, 0, 127, 127],
    [128, 0, 255, 127],
    [0, 128, 127, 255],
    [128, 128, 255, 255],
  ]);
  assert.equal(Array.from(result.gpscodes.subarray(0, 5)), [
    Math.fround((127 / 256) * 2 / 3),
    Math.fround((127 / 256) * 2 / 3),
    0,
    Math.fround((127 / 2 / 255 - 0.5) * 2),
    Math.fround((127 / 2 / 255 - 0.5) * 2),
  ]);
  assert.equal(Array.from(result.regions.subarray(0, 4)), [-1, -1, Math.fround((127 / 255 - 0.5) * 2), Math.fround((127 / 255 - 0.5) * 2)]);
});

test('one token is the whole image', () => {
  const result = partitionImage(noiseImage(40, 30, 1), { tokens: 1 });
  assert.equal(boxes(result.pixelRegions), [[0, 0, 39, 29]]);
  assert.equal(Array.from(result.regions), [-1, -1, 1, 1]);
  assert.is(result.complexity.length, 1);
});

test('regions tile the image without overlap', () => {
  for (const [width, height, tokens, minhw] of [
    [256, 256, 128, 8],
    [64, 48, 16, 8],
    [100, 37, 40, 2],
    [256, 256, 256, 0],
  ] as const) {
    const result = partitionImage(noiseImage(width, height, width + tokens), { tokens, minhw });
    const cover = new Uint8Array(width * height);
    for (const [x0, y0, x1, y1] of boxes(result.pixelRegions)) {
      for (let y = y0!; y <= y1!; y += 1) for (let x = x0!; x <= x1!; x += 1) cover[y * width + x]! += 1;
    }
    assert.ok(cover.every((n) => n === 1), `${width}x${height} with ${tokens} tokens covers every pixel once`);
    assert.is(result.complexity.length, tokens);
  }
});

test('unreachable token budget names tokens, minhw and the reachable count', () => {
  // A 32x32 flat image stops at 8x8 regions (extent 7 <= 8): 16 regions at most.
  assert.throws(
    () => partitionImage(flatImage(32, 32), { tokens: 17, minhw: 8 }),
    (error: unknown) =>
      error instanceof TokenBudgetError &&
      error.reachable === 16 &&
      error.message ===
        'cannot split the image into 17 regions with minhw 8: only 16 regions are reachable because every ' +
          "region's extents are at most 8 pixels; lower --minhw or request at most 16 tokens",
  );
  assert.is(partitionImage(flatImage(32, 32), { tokens: 16, minhw: 8 }).complexity.length, 16);
  // An 8x8 image is one region that cannot be split (extent 7 <= 8).
  assert.throws(
    () => partitionImage(flatImage(8, 8), { tokens: 2, minhw: 8 }),
    (error: unknown) =>
      error instanceof TokenBudgetError &&
      error.message ===
        'cannot split the image into 2 regions with minhw 8: only 1 region is reachable because every ' +
          "region's extents are at most 8 pixels; lower --minhw or request at most 1 token",
  );
});

test('invalid options are rejected', () => {
  assert.throws(() => partitionImage(flatImage(8, 8), { tokens: 0 }), /tokens must be a positive integer, got 0/);
  assert.throws(() => partitionImage(flatImage(8, 8), { tokens: 2, minhw: -1 }), /minhw must be a non-negative integer, got -1/);
  assert.throws(() => partitionImage(flatImage(8, 8), { tokens: 2, weight: Number.NaN }), /weight must be a finite number, got NaN/);
  assert.throws(() => partitionImage(flatImage(8, 8), { tokens: 2, bias: new Float32Array(3) }), /bias map has 3 values, expected width \* height = 64/);
});

test('sizes that cannot be tiled are rejected with a resize hint', () => {
  assert.throws(
    () => partitionImage(flatImage(300, 200), { tokens: 4 }),
    (error: unknown) =>
      error instanceof PartitionSizeError &&
      error.message ===
        'image is 300x200; the partition takes one patch of at most 256x256 or sides that are multiples of 256 ' +
          '(tiled). Resize it first, e.g. with --size 256 (shorter side to 256, centre crop)',
  );
  assert.throws(() => partitionImage(flatImage(1, 5), { tokens: 1 }), /image is 1x5; the partition needs at least 2 pixels on each side/);
});

test('512x512 image is four tiles in row-major order', async () => {
  const names = ['astronaut.png', 'baboon.png', 'camera.png', 'coffee.png'];
  const tiles = (await Promise.all(names.map((name) => decodeImageFile(path.join(IMAGES, name))))) as [RgbImage, RgbImage, RgbImage, RgbImage];
  const whole = partitionImage(mosaic(tiles), { tokens: 32 });
  assert.equal(whole.tiles, { columns: 2, rows: 2, size: 256 });
  tiles.forEach((tile, t) => {
    const alone = partitionImage(tile, { tokens: 32 });
    assert.equal(Array.from(whole.gpscodes.subarray(t * 160, (t + 1) * 160)), Array.from(alone.gpscodes), `tile ${t} gpscodes`);
    assert.equal(Array.from(whole.regions.subarray(t * 128, (t + 1) * 128)), Array.from(alone.regions), `tile ${t} regions`);
    const ox = (t % 2) * 256;
    const oy = Math.floor(t / 2) * 256;
    const shifted = Array.from(alone.pixelRegions).map((v, i) => v + (i % 2 === 0 ? ox : oy));
    assert.equal(Array.from(whole.pixelRegions.subarray(t * 128, (t + 1) * 128)), shifted, `tile ${t} pixel regions`);
  });
});

test('grid uses the most square factorisation', () => {
  const grid = gridPartition(256, 128);
  assert.is(grid.gpscodes.length, 128 * 5);
  // 128 = 8 rows x 16 columns: cells 16 wide, 32 tall, row-major.
  assert.equal(boxes(grid.pixelRegions).slice(0, 2), [
    [0, 0, 15, 31],
    [16, 0, 31, 31],
  ]);
  assert.equal(boxes(grid.pixelRegions)[127], [240, 224, 255, 255]);
  assert.equal(Array.from(grid.gpscodes.subarray(0, 5)), [
    Math.fround((15 / 256) * 2 / 3),
    Math.fround((31 / 256) * 2 / 3),
    0,
    Math.fround((15 / 2 / 255 - 0.5) * 2),
    Math.fround((31 / 2 / 255 - 0.5) * 2),
  ]);
  assert.equal(boxes(gridPartition(256, 7).pixelRegions)[0], [0, 0, 35, 255]);
  assert.equal(boxes(gridPartition({ width: 64, height: 256 }, 8).pixelRegions).slice(0, 3), [
    [0, 0, 31, 63],
    [32, 0, 63, 63],
    [0, 64, 31, 127],
  ]);
  assert.equal(boxes(gridPartition(256, 64).pixelRegions)[9], [32, 32, 63, 63]);
  assert.throws(() => gridPartition(4, 7), /cannot lay 7 tokens as a 1x7 grid on a 4x4 image/);
});

test('pairwise sum follows numpy block order', () => {
  // numpy 1.24 gives np.sum([1e16] + [1] * 15) - 1e16 == 14: the first accumulator loses its
  // one, the other seven keep theirs; a left-to-right sum loses all fifteen.
  const values = new Float64Array(16).fill(1);
  values[0] = 1e16;
  let sequential = 0;
  for (const v of values) sequential += v;
  assert.is(pairwiseSum(values, 0, 16) - 1e16, 14);
  assert.is(sequential, 1e16);
});

test.run();
