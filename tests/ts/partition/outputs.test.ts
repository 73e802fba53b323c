import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { REPO_ROOT } from '../../../ts/bridge/backend.ts';
import type { RgbImage } from '../../../ts/image/types.ts';
import { imageLayout, summarisePartition, tokensCsv, uniqueStems, writePartitionDemo } from '../../../ts/partition/outputs.ts';
import { partitionImage } from '../../../ts/partition/partition.ts';

function flatImage(width: number, height: number): RgbImage {
  return { width, height, data: new Uint8Array(width * height * 3).fill(90) };
}

test('summary of a flat image', () => {
  const result = partitionImage(flatImage(256, 256), { tokens: 8 });
  const summary = summarisePartition(result);
  assert.is(summary.tokens, 8);
  assert.is(summary.meanRegionPixels, 8192);
  assert.is(summary.stdRegionPixels, 0);
  assert.is(summary.minComplexity, summary.maxComplexity);
  assert.is(summary.minComplexity, Math.min(...result.complexity));
});

test('summary statistics of unequal regions', () => {
  const result = partitionImage(flatImage(256, 256), { tokens: 3 });
  // Final order: the 256x128 lower half, then the two upper 128x128 quarters of the last split.
  const summary = summarisePartition(result);
  const areas = [16384, 16384, 32768];
  const mean = areas.reduce((a, b) => a + b) / 3;
  assert.is(summary.meanRegionPixels, mean);
  assert.ok(Math.abs(summary.stdRegionPixels - Math.sqrt(areas.reduce((a, b) => a + (b - mean) ** 2, 0) / 3)) < 1e-9);
  assert.is(summary.maxComplexity, result.complexity[0]);
});

test('token CSV has the explicit columns', () => {
  const result = partitionImage(flatImage(64, 64), { tokens: 2 });
  const lines = tokensCsv(result).trimEnd().split('\n');
  assert.is(lines[0], 'index,sigma_x,sigma_y,rho,x,y,x0,y0,x1,y1,complexity');
  assert.is(lines.length, 3);
  assert.ok(lines[1]!.startsWith('0,0.65625,0.32291666,0,0,-0.50793654,-1,-1,1,-0.015873017,'), lines[1]);
});

test('tiled layouts map to whole-image coordinates for drawing', () => {
  const result = partitionImage(flatImage(512, 256), { tokens: 1 });
  const layout = imageLayout(result);
  assert.equal(Array.from(result.regions), [-1, -1, 1, 1, -1, -1, 1, 1]);
  assert.equal(Array.from(layout.regions), [-1, -1, Math.fround((255 / 511 - 0.5) * 2), 1, Math.fround((256 / 511 - 0.5) * 2), -1, 1, 1]);
});

test('uniqueStems keeps names apart', () => {
  assert.equal(uniqueStems(['a/x.png', 'b/x.jpg', 'x-2.png', 'y.webp']), ['x', 'x-2', 'x-2-2', 'y']);
});

test('demo writes overlays and the summary CSV', async () => {
  const out = await mkdtemp(path.join(os.tmpdir(), 'gpstoken-demo-'));
  try {
    const photos = ['00_city.jpg', '02_forest.jpg'].map((name) => path.join(REPO_ROOT, 'data', 'embedded', name));
    const rows = await writePartitionDemo(photos, path.join(out, 'overlays'), path.join(out, 'results', 'demo-partition.csv'));
    assert.equal(rows.map((row) => row.tokens), [128, 128]);
    assert.equal((await readdir(path.join(out, 'overlays'))).sort(), ['00_city.png', '02_forest.png']);
    const csv = (await readFile(path.join(out, 'results', 'demo-partition.csv'), 'utf8')).trimEnd().split('\n');
    assert.is(csv[0], 'image,tokens,mean_region_pixels,std_region_pixels,min_complexity,max_complexity');
    assert.is(csv.length, 3);
    assert.ok(csv[1]!.startsWith(`${photos[0]},128,512.00,`), csv[1]);
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});

test.run();
