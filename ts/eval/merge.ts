// Combining shard files into the final numbers: paired means, Fréchet distances from merged
// statistics, and IS / precision-recall / SWD through one backend job.
import { open } from 'node:fs/promises';
import path from 'node:path';
import { runJob } from '../bridge/jobs.ts';
import { UsageError } from '../cli/errors.ts';
import { frechetDistance } from '../metrics/frechet.ts';
import { mergeAll, statsFromTensors, toGaussian, type GaussianStats, type ReferenceStats } from '../metrics/stats.ts';
import { parseSafetensors, type Tensor } from '../util/safetensors.ts';
import type { ShardSettings } from './shards.ts';

export interface ShardFile {
  file: string;
  index: number;
  settings: ShardSettings;
  key: string;
  isSplits: number;
  skipped: Record<string, string>;
  tensors: Map<string, Tensor>;
}

/** Tensors merged here; the per-image feature and descriptor arrays stay on disk for the backend. */
const isMergedTensor = (name: string) => name.startsWith('paired.') || /\.(count|sum|scatter)$/.test(name);

/** Reads the metadata and the tensors accepted by `keep` from a safetensors file, skipping the rest. */
async function readSelectedTensors(file: string, keep: (name: string) => boolean): Promise<{ tensors: Map<string, Tensor>; metadata: Record<string, string> }> {
  const handle = await open(file, 'r');
  try {
    const prefix = Buffer.alloc(8);
    await handle.read(prefix, 0, 8, 0);
    const headerLength = Number(prefix.readBigUInt64LE(0));
    const headerBytes = Buffer.alloc(headerLength);
    await handle.read(headerBytes, 0, headerLength, 8);
    const header = JSON.parse(headerBytes.toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
    // Rebuild a small safetensors buffer holding only the kept tensors, then parse it with the shared reader.
    const selected: Record<string, unknown> = {};
    const blobs: Buffer[] = [];
    let offset = 0;
    for (const [name, entry] of Object.entries(header)) {
      if (name === '__metadata__' || !keep(name)) continue;
      const [begin, end] = entry.data_offsets;
      const blob = Buffer.alloc(end - begin);
      await handle.read(blob, 0, end - begin, 8 + headerLength + begin);
      selected[name] = { ...entry, data_offsets: [offset, offset + blob.length] };
      blobs.push(blob);
      offset += blob.length;
    }
    if (header.__metadata__) selected.__metadata__ = header.__metadata__;
    const json = Buffer.from(JSON.stringify(selected));
    const length = Buffer.alloc(8);
    length.writeBigUInt64LE(BigInt(json.length));
    return parseSafetensors(new Uint8Array(Buffer.concat([length, json, ...blobs])), file);
  } finally {
    await handle.close();
  }
}

export async function readShardFiles(files: string[]): Promise<ShardFile[]> {
  const shards: ShardFile[] = [];
  for (const file of files) {
    let parsed;
    try {
      parsed = await readSelectedTensors(file, isMergedTensor);
    } catch (error) {
      throw new UsageError(`${file}: cannot be read as a shard file (${(error as Error).message})`, { cause: error });
    }
    const { tensors, metadata } = parsed;
    if (!metadata.settings || !metadata.settings_key) throw new UsageError(`${file}: not a gpstoken eval shard file (no settings in its metadata)`);
    shards.push({
      file,
      index: Number(metadata.shard_index),
      settings: JSON.parse(metadata.settings) as ShardSettings,
      key: metadata.settings_key,
      isSplits: Number(metadata.is_splits ?? 10),
      skipped: JSON.parse(metadata.skipped ?? '{}') as Record<string, string>,
      tensors,
    });
  }
  shards.sort((a, b) => a.index - b.index);
  const [first] = shards;
  if (!first) throw new UsageError('name at least one shard file to merge');
  const mismatched = shards.filter((shard) => shard.key !== first.key);
  if (mismatched.length > 0) {
    throw new UsageError(`shard files come from different evaluations: ${first.file} and ${mismatched[0]?.file} differ in settings`);
  }
  const expected = first.settings.shardCount;
  const indices = shards.map((shard) => shard.index);
  const missing = Array.from({ length: expected }, (_, i) => i).filter((i) => !indices.includes(i));
  if (missing.length > 0 || shards.length !== expected) {
    throw new UsageError(`the evaluation has ${expected} shards, but ${missing.length > 0 ? `${missing.length === 1 ? 'shard' : 'shards'} ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} missing` : 'some were given twice'}`);
  }
  return shards;
}

function concatFloat64(shards: ShardFile[], name: string): Float64Array {
  const parts = shards.map((shard) => shard.tensors.get(name)?.data as Float64Array | undefined);
  if (parts.some((part) => !part)) throw new UsageError(`tensor ${name} is missing from a shard file`);
  const total = parts.reduce((sum, part) => sum + (part as Float64Array).length, 0);
  const out = new Float64Array(total);
  let offset = 0;
  for (const part of parts as Float64Array[]) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

const mean = (values: Float64Array) => values.reduce((sum, v) => sum + v, 0) / values.length;

export interface PairedValues {
  psnr?: number;
  psnr_dataset?: number;
  ssim: Record<string, number>;
  lpips?: number;
  identicalPairs: number;
}

export function pairedMeans(shards: ShardFile[], settings: ShardSettings): PairedValues {
  const out: PairedValues = { ssim: {}, identicalPairs: 0 };
  if (settings.metrics.includes('psnr')) {
    const mse = concatFloat64(shards, 'paired.mse');
    out.identicalPairs = mse.filter((v) => v === 0).length;
    out.psnr = mean(mse.map((v) => (v === 0 ? Number.POSITIVE_INFINITY : 10 * Math.log10((255 * 255) / v))));
    const meanMse = mean(mse);
    out.psnr_dataset = meanMse === 0 ? Number.POSITIVE_INFINITY : 10 * Math.log10((255 * 255) / meanMse);
  }
  if (settings.metrics.includes('ssim')) {
    for (const preset of settings.ssimPresets) out.ssim[preset] = mean(concatFloat64(shards, `paired.ssim.${preset}`));
  }
  if (settings.metrics.includes('lpips')) out.lpips = mean(concatFloat64(shards, 'paired.lpips'));
  return out;
}

export interface FrechetValue {
  value: number;
  raw: number;
  rank: number;
  minEigenvalue: number;
}

/** Gaussian statistics of one feature set ('pool3' or 'spatial') of one side, merged over shards. */
export function mergedGaussian(shards: ShardFile[], side: 'real' | 'fake', feature: string): GaussianStats {
  const parts = shards.map((shard) => statsFromTensors(shard.tensors, `${side}.${feature}`, shard.file));
  return toGaussian(mergeAll(parts), `${side} ${feature} features`);
}

export function frechet(real: GaussianStats, fake: GaussianStats): FrechetValue {
  const result = frechetDistance(real.mu, real.sigma, fake.mu, fake.sigma);
  return { value: result.distance, raw: result.raw, rank: result.rank, minEigenvalue: result.minEigenvalue };
}

export interface DistributionValues {
  rfid?: FrechetValue;
  sfid?: FrechetValue;
  realGaussians: Record<string, GaussianStats>;
}

const FEATURE_OF = { rfid: 'pool3', sfid: 'spatial' } as const;

export function frechetDistances(shards: ShardFile[], settings: ShardSettings, reference?: ReferenceStats): DistributionValues {
  const out: DistributionValues = { realGaussians: {} };
  for (const metric of ['rfid', 'sfid'] as const) {
    if (!settings.metrics.includes(metric)) continue;
    const feature = FEATURE_OF[metric];
    const real = reference ? reference.features[feature] : mergedGaussian(shards, 'real', feature);
    if (!real) throw new UsageError(`--real-stats has no ${feature} statistics, which ${metric} needs; save them again with ${metric} enabled`);
    out.realGaussians[feature] = real;
    out[metric] = frechet(real, mergedGaussian(shards, 'fake', feature));
  }
  return out;
}

export interface BackendValues {
  is?: number;
  is_std?: number;
  precision?: number;
  recall?: number;
  swd?: number;
  swd_levels?: number[];
}

export async function backendMetrics(shards: ShardFile[], settings: ShardSettings, isSplits: number): Promise<BackendValues> {
  const metrics = settings.metrics.filter((metric) => ['is', 'pr', 'swd'].includes(metric));
  if (metrics.length === 0) return {};
  return runJob<BackendValues>(
    'metrics.eval_job:finalize',
    { shards: shards.map((shard) => path.resolve(shard.file)), metrics, isSplits, swdLevels: settings.swdLevels, seed: settings.seed },
    { env: { OMP_NUM_THREADS: '1' } },
  );
}
