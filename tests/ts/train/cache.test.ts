// Partition cache, image lists, hold-out split and shard manifests of `gpstoken train`.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { REPO_ROOT } from '../../../ts/bridge/backend.ts';
import { cacheKey, cacheSample, flipHorizontal, initialLayout, type PartitionCacheOptions } from '../../../ts/train/cache.ts';
import { holdOut, listImages, parseImageList } from '../../../ts/train/samples.ts';
import { shardManifests } from '../../../ts/train/shards.ts';
import { readSafetensors } from '../../../ts/util/safetensors.ts';

const PHOTO = path.join(REPO_ROOT, 'data', 'embedded', '00_city.jpg');
const OPTIONS: PartitionCacheOptions = { size: 64, tokens: 16, weight: 2.5, minhw: 4, init: 'entropy' };

function grey(width: number, height: number) {
  return { width, height, data: new Uint8Array(width * height * 3).fill(128) };
}

test('cacheKey changes with every option', () => {
  const base = cacheKey('abc', OPTIONS);
  assert.is(base.length, 32);
  assert.is(cacheKey('abc', { ...OPTIONS }), base);
  const changes: Partial<PartitionCacheOptions>[] = [{ size: 32 }, { tokens: 32 }, { weight: 1 }, { minhw: 8 }, { init: 'grid' }];
  for (const change of changes) assert.is.not(cacheKey('abc', { ...OPTIONS, ...change }), base, JSON.stringify(change));
  assert.is.not(cacheKey('abd', OPTIONS), base);
});

test('flipHorizontal mirrors each row', () => {
  const image = { width: 3, height: 1, data: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]) };
  assert.equal([...flipHorizontal(image).data], [7, 8, 9, 4, 5, 6, 1, 2, 3]);
});

const GRID_CASES: [number, number, number, number][] = [
  // tokens, columns, rows, cell side in pixels (64x64 image)
  [16, 4, 4, 16],
  [64, 8, 8, 8],
];

test('grid init gives equal square cells', () => {
  for (const [tokens, columns, rows, side] of GRID_CASES) {
    const layout = initialLayout(grey(64, 64), { ...OPTIONS, tokens, init: 'grid' });
    assert.is(layout.pixelRegions.length, tokens * 4);
    const widths = new Set<number>();
    const heights = new Set<number>();
    for (let i = 0; i < tokens; i += 1) {
      const [x0, y0, x1, y1] = layout.pixelRegions.subarray(i * 4, i * 4 + 4);
      widths.add(x1! - x0! + 1);
      heights.add(y1! - y0! + 1);
    }
    assert.equal([...widths], [side], `${tokens} tokens: ${columns} columns`);
    assert.equal([...heights], [side], `${tokens} tokens: ${rows} rows`);
    const sigmas = new Set(Array.from({ length: tokens }, (_, i) => `${layout.gpscodes[i * 5]},${layout.gpscodes[i * 5 + 1]}`));
    assert.is(sigmas.size, 1);
  }
});

test('grid init with 32 tokens gives equal 16x8 cells', () => {
  const layout = initialLayout(grey(64, 64), { ...OPTIONS, tokens: 32, init: 'grid' });
  const sizes = new Set<string>();
  for (let i = 0; i < 32; i += 1) {
    const [x0, y0, x1, y1] = layout.pixelRegions.subarray(i * 4, i * 4 + 4);
    sizes.add(`${x1! - x0! + 1}x${y1! - y0! + 1}`);
  }
  assert.equal([...sizes], ['8x16']);
});

test('cacheSample writes both orientations and reuses the file', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'gpstoken-cache-'));
  try {
    const first = await cacheSample(PHOTO, dir, OPTIONS);
    assert.is(first.reused, false);
    const { tensors, metadata } = await readSafetensors(first.cache);
    assert.equal(tensors.get('image')?.shape, [64, 64, 3]);
    assert.is(tensors.get('image')?.dtype, 'U8');
    for (const name of ['gpscodes', 'gpscodes_flip']) assert.equal(tensors.get(name)?.shape, [16, 5]);
    for (const name of ['regions', 'regions_flip']) assert.equal(tensors.get(name)?.shape, [16, 4]);
    assert.is(metadata.init, 'entropy');
    assert.is.not(
      [...(tensors.get('gpscodes')!.data as Float32Array)].join(),
      [...(tensors.get('gpscodes_flip')!.data as Float32Array)].join(),
      'the mirror has its own partition',
    );
    const again = await cacheSample(PHOTO, dir, OPTIONS);
    assert.is(again.reused, true);
    assert.is(again.cache, first.cache);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('parseImageList reads TSV manifests and plain lists', () => {
  assert.equal(parseImageList('file\tsplit\na.png\ttrain\nsub/b.png\ttest\n', '/data/crops.tsv'), ['/data/a.png', '/data/sub/b.png']);
  assert.equal(parseImageList('# photos\nx.jpg\n\n/abs/y.jpg\n', '/lists/l.txt'), ['/lists/x.jpg', '/abs/y.jpg']);
  assert.throws(() => parseImageList('photo\tsplit\na\tb\n', '/d/m.tsv'), /^\/d\/m\.tsv: a TSV list needs a 'file' column; found photo, split$/);
});

test('listImages finds the embedded photos and rejects empty input', async () => {
  const files = await listImages(path.join(REPO_ROOT, 'data', 'embedded'), '--data');
  assert.is(files.length, 48);
  assert.is(path.basename(files[0]!), '00_city.jpg');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'gpstoken-list-'));
  try {
    await writeFile(path.join(dir, 'notes.txt'), 'x');
    try {
      await listImages(dir, '--data');
      assert.unreachable('an empty folder must be rejected');
    } catch (error) {
      assert.is((error as Error).message, `--data ${dir}: no images found (expected .png, .jpg, .jpeg, .webp files, or a list of them)`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('holdOut keeps the last files for evaluation', () => {
  assert.equal(holdOut(['a', 'b', 'c'], 1), { train: ['a', 'b'], test: ['c'] });
  assert.throws(() => holdOut(['a'], 1), /^--holdout 1 leaves no training images out of 1; use a smaller value$/);
});

test('shardManifests gives every rank its slot', () => {
  const samples = ['a', 'b', 'c'].map((s) => ({ source: s, cache: `${s}.st`, key: s, reused: false }));
  const shards = shardManifests(samples, 2, 4);
  assert.equal(shards.map((s) => [s.rank, s.world_size, s.batch_size, s.global_batch, s.samples.length]), [
    [0, 2, 4, 8, 3],
    [1, 2, 4, 8, 3],
  ]);
  assert.equal(shards[1]!.samples[2], { source: 'c', cache: 'c.st' });
});

test.run();
