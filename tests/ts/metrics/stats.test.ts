// Merging shard statistics, covariance rules and reference-statistics files.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadReferenceStats, mergeAll, saveReferenceStats, StatsError, toGaussian, type FeatureStats } from '../../../ts/metrics/stats.ts';
import { writeSafetensors } from '../../../ts/util/safetensors.ts';

function statsOf(rows: number[][]): FeatureStats {
  const dim = rows[0]!.length;
  const sum = new Float64Array(dim);
  for (const row of rows) row.forEach((v, i) => (sum[i]! += v));
  const scatter = new Float64Array(dim * dim);
  for (const row of rows) for (let i = 0; i < dim; i += 1) for (let j = 0; j < dim; j += 1) scatter[i * dim + j]! += (row[i]! - sum[i]! / rows.length) * (row[j]! - sum[j]! / rows.length);
  return { dim, count: rows.length, sum, scatter };
}

const rows = Array.from({ length: 9 }, (_, i) => [Math.sin(i) + 1e4, Math.cos(3 * i), i * 0.5]);

test('merged shards equal the whole set', () => {
  const whole = statsOf(rows);
  const merged = mergeAll([statsOf(rows.slice(0, 2)), statsOf(rows.slice(2, 7)), statsOf(rows.slice(7))]);
  assert.is(merged.count, 9);
  merged.scatter.forEach((v, k) => assert.ok(Math.abs(v - whole.scatter[k]!) <= 1e-9 * Math.abs(whole.scatter[0]!), `scatter[${k}]`));
  merged.sum.forEach((v, k) => assert.ok(Math.abs(v - whole.sum[k]!) <= 1e-9 * Math.abs(whole.sum[k]!)));
});

test('covariance uses count - 1', () => {
  const g = toGaussian(statsOf([[1, 0], [3, 2]]), 'x');
  assert.equal(Array.from(g.mu), [2, 1]);
  assert.equal(Array.from(g.sigma), [2, 2, 2, 2]);
});

test('one sample is an error', () => {
  assert.throws(() => toGaussian(statsOf([[1, 2]]), 'fake pool3 features'), (error: Error) => error instanceof StatsError && error.message === 'fake pool3 features: a covariance needs at least 2 images, got 1; add images to the folder');
});

test('reference statistics round trip and format check', async () => {
  const folder = await mkdtemp(path.join(os.tmpdir(), 'gpstoken-stats-'));
  try {
    const file = path.join(folder, 'ref.safetensors');
    const gaussian = toGaussian(statsOf(rows), 'real');
    await saveReferenceStats(file, { pool3: gaussian }, { network: 'net', networkSha256: 'abc', resizeMode: 'bilinear' });
    const loaded = await loadReferenceStats(file);
    assert.equal(Array.from(loaded.features.pool3!.sigma), Array.from(gaussian.sigma));
    assert.is(loaded.features.pool3!.count, 9);
    assert.equal(loaded.settings, { network: 'net', networkSha256: 'abc', resizeMode: 'bilinear' });
    const other = path.join(folder, 'other.safetensors');
    await writeSafetensors(other, {}, { format: 'x' });
    const error = await loadReferenceStats(other).catch((caught: Error) => caught);
    assert.instance(error, StatsError);
    assert.is((error as Error).message, `--real-stats ${other}: not a reference-statistics file (metadata format is "x"); create one with --save-stats`);
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
});

test.run();
