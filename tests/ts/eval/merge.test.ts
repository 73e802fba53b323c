// Merging synthetic shard files: rFID from merged statistics, reference statistics saved
// with --save-stats and reused with --real-stats, and the clamp for identical sets.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { UsageError } from '../../../ts/cli/errors.ts';
import { mergeShards, type EvalHooks } from '../../../ts/eval/run.ts';
import type { ShardSettings } from '../../../ts/eval/shards.ts';
import { frechetDistance } from '../../../ts/metrics/frechet.ts';
import { writeSafetensors, type Tensor } from '../../../ts/util/safetensors.ts';

const DIM = 6;
let folder = '';
const logs: string[] = [];
const hooks: EvalHooks = { log: (m) => logs.push(m), warn: (m) => logs.push(m) };

function features(count: number, seed: number, shift: number): Float64Array[] {
  let state = seed;
  const random = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32 - 0.5;
  };
  return Array.from({ length: count }, () => Float64Array.from({ length: DIM }, (_, j) => shift + random() * (1 + j)));
}

function statTensors(prefix: string, rows: Float64Array[]): Record<string, Tensor> {
  const sum = new Float64Array(DIM);
  for (const row of rows) row.forEach((v, i) => (sum[i]! += v));
  const scatter = new Float64Array(DIM * DIM);
  for (const row of rows) for (let i = 0; i < DIM; i += 1) for (let j = 0; j < DIM; j += 1) scatter[i * DIM + j]! += (row[i]! - sum[i]! / rows.length) * (row[j]! - sum[j]! / rows.length);
  return {
    [`${prefix}.count`]: { dtype: 'I64', shape: [1], data: BigInt64Array.from([BigInt(rows.length)]) },
    [`${prefix}.sum`]: { dtype: 'F64', shape: [DIM], data: sum },
    [`${prefix}.scatter`]: { dtype: 'F64', shape: [DIM, DIM], data: scatter },
  };
}

function meanCov(rows: Float64Array[]) {
  const mu = new Float64Array(DIM);
  for (const row of rows) row.forEach((v, i) => (mu[i]! += v / rows.length));
  const sigma = new Float64Array(DIM * DIM);
  for (const row of rows) for (let i = 0; i < DIM; i += 1) for (let j = 0; j < DIM; j += 1) sigma[i * DIM + j]! += ((row[i]! - mu[i]!) * (row[j]! - mu[j]!)) / (rows.length - 1);
  return { mu, sigma };
}

function settings(extra: Partial<ShardSettings>): ShardSettings {
  return {
    real: '/r', fake: '/f', paired: false, metrics: ['rfid'], ssimPresets: [], seed: 0, swdLevels: 0, swdMaxImages: 4096,
    fakeSize: null, realStatsGiven: false, resizeMode: 'torch-bilinear-299-align_corners=False', pairedResizeMode: null,
    weights: { fid: 'f'.repeat(64) }, shardCount: 2, realCount: 10, fakeCount: 12, filesHash: 'x', ...extra,
  };
}

async function writeShards(name: string, shardSettings: ShardSettings, parts: { real?: Float64Array[]; fake: Float64Array[] }[]): Promise<string[]> {
  const files = [];
  for (const [index, part] of parts.entries()) {
    const file = path.join(folder, `${name}-${index}.safetensors`);
    const tensors = { ...(part.real ? statTensors('real.pool3', part.real) : {}), ...statTensors('fake.pool3', part.fake) };
    await writeSafetensors(file, tensors, { settings: JSON.stringify(shardSettings), settings_key: name, shard_index: String(index), shard_count: '2', is_splits: '10', skipped: '{}' });
    files.push(file);
  }
  return files;
}

const real = features(10, 1, 0.5);
const fake = features(12, 2, 0.7);

test.before(async () => {
  folder = await mkdtemp(path.join(os.tmpdir(), 'gpstoken-merge-'));
});
test.after(async () => {
  await rm(folder, { recursive: true, force: true });
});

test('rfid from merged shards equals the whole-set distance', async () => {
  const files = await writeShards('a', settings({}), [{ real: real.slice(0, 4), fake: fake.slice(0, 5) }, { real: real.slice(4), fake: fake.slice(5) }]);
  const referenceStats = path.join(folder, 'ref.safetensors');
  const result = await mergeShards(files, { ssimPreset: 'pytorch-msssim', saveStats: referenceStats }, hooks);
  const a = meanCov(real);
  const b = meanCov(fake);
  const expected = frechetDistance(a.mu, a.sigma, b.mu, b.sigma).distance;
  assert.ok(Math.abs(result.metrics.rfid! - expected) <= 1e-9 * expected, `${result.metrics.rfid} vs ${expected}`);

  // Shards computed against saved reference statistics give the same distance.
  const againstReference = await writeShards('b', settings({ realStatsGiven: true }), [{ fake: fake.slice(0, 7) }, { fake: fake.slice(7) }]);
  const reused = await mergeShards(againstReference, { ssimPreset: 'pytorch-msssim', realStats: referenceStats }, hooks);
  assert.ok(Math.abs(reused.metrics.rfid! - expected) <= 1e-9 * expected);
  const missing = await mergeShards(againstReference, { ssimPreset: 'pytorch-msssim' }, hooks).catch((error: Error) => error);
  assert.instance(missing, UsageError);
  assert.is((missing as Error).message, 'these shards were computed for reference statistics; pass the same --real-stats FILE to merge them');
});

test('identical sets give rfid 0', async () => {
  const files = await writeShards('c', settings({}), [{ real: real.slice(0, 5), fake: real.slice(0, 5) }, { real: real.slice(5), fake: real.slice(5) }]);
  const result = await mergeShards(files, { ssimPreset: 'pytorch-msssim' }, hooks);
  assert.ok(result.metrics.rfid! >= 0, String(result.metrics.rfid));
  assert.ok(result.metrics.rfid! < 1e-9, String(result.metrics.rfid));
  const raw = (result.diagnostics.rfid as { raw: number }).raw;
  assert.is(result.metrics.rfid, Math.max(raw, 0));
});

test('shards of different evaluations are rejected', async () => {
  const first = await writeShards('d', settings({}), [{ real, fake }, { real, fake }]);
  const other = await writeShards('e', settings({ seed: 1 }), [{ real, fake }, { real, fake }]);
  const error = await mergeShards([first[0]!, other[1]!], { ssimPreset: 'pytorch-msssim' }, hooks).catch((caught: Error) => caught);
  assert.is((error as Error).message, `shard files come from different evaluations: ${first[0]} and ${other[1]} differ in settings`);
});

test.run();
