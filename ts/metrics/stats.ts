// Feature statistics of one image set, merged across shards, and reference-statistics files.
//
// A shard stores count, sum and scatter (the sum of outer products of the deviations from
// the shard's own mean), all float64. Centred scatters merge exactly by Chan et al.'s
// pairwise rule, and stay accurate when feature means are large against their spread.
import { readSafetensors, writeSafetensors, type Tensor } from '../util/safetensors.ts';

export interface FeatureStats {
  dim: number;
  count: number;
  sum: Float64Array;
  /** dim x dim, row-major: sum_i (x_i - mean)(x_i - mean)^T. */
  scatter: Float64Array;
}

export interface GaussianStats {
  dim: number;
  count: number;
  mu: Float64Array;
  sigma: Float64Array;
}

export class StatsError extends Error {
  override name = 'StatsError';
}

/** Returns the statistics of the union of two disjoint sample sets. */
export function mergeStats(a: FeatureStats, b: FeatureStats): FeatureStats {
  if (a.dim !== b.dim) throw new StatsError(`cannot merge statistics of dimension ${a.dim} and ${b.dim}`);
  if (a.count === 0) return b;
  if (b.count === 0) return a;
  const n = a.dim;
  const count = a.count + b.count;
  const delta = new Float64Array(n);
  for (let i = 0; i < n; i += 1) delta[i] = (b.sum[i] as number) / b.count - (a.sum[i] as number) / a.count;
  const weight = (a.count * b.count) / count;
  const scatter = new Float64Array(n * n);
  for (let i = 0; i < n; i += 1) {
    const di = (delta[i] as number) * weight;
    for (let j = 0; j < n; j += 1) {
      const k = i * n + j;
      scatter[k] = (a.scatter[k] as number) + (b.scatter[k] as number) + di * (delta[j] as number);
    }
  }
  const sum = new Float64Array(n);
  for (let i = 0; i < n; i += 1) sum[i] = (a.sum[i] as number) + (b.sum[i] as number);
  return { dim: n, count, sum, scatter };
}

export function mergeAll(parts: FeatureStats[]): FeatureStats {
  if (parts.length === 0) throw new StatsError('no statistics to merge');
  return parts.reduce((merged, part) => mergeStats(merged, part));
}

/** Mean and covariance with the (count - 1) normalisation of numpy.cov. */
export function toGaussian(stats: FeatureStats, what: string): GaussianStats {
  if (stats.count < 2) {
    throw new StatsError(`${what}: a covariance needs at least 2 images, got ${stats.count}; add images to the folder`);
  }
  const n = stats.dim;
  const mu = new Float64Array(n);
  for (let i = 0; i < n; i += 1) mu[i] = (stats.sum[i] as number) / stats.count;
  const sigma = new Float64Array(n * n);
  for (let k = 0; k < n * n; k += 1) sigma[k] = (stats.scatter[k] as number) / (stats.count - 1);
  return { dim: n, count: stats.count, mu, sigma };
}

function float64(tensor: Tensor | undefined, name: string, source: string): Float64Array {
  if (!tensor) throw new StatsError(`${source}: tensor ${name} is missing`);
  if (tensor.dtype !== 'F64') throw new StatsError(`${source}: tensor ${name} is ${tensor.dtype}, expected F64`);
  return tensor.data as Float64Array;
}

/** Reads `<prefix>.{count,sum,scatter}` from the tensors of a shard file. */
export function statsFromTensors(tensors: Map<string, Tensor>, prefix: string, source: string): FeatureStats {
  const countTensor = tensors.get(`${prefix}.count`);
  if (!countTensor) throw new StatsError(`${source}: tensor ${prefix}.count is missing; the shard was computed without this feature set`);
  const count = Number((countTensor.data as BigInt64Array)[0]);
  const sum = float64(tensors.get(`${prefix}.sum`), `${prefix}.sum`, source);
  const scatter = float64(tensors.get(`${prefix}.scatter`), `${prefix}.scatter`, source);
  if (scatter.length !== sum.length * sum.length) throw new StatsError(`${source}: ${prefix}.scatter does not match ${prefix}.sum`);
  return { dim: sum.length, count, sum, scatter };
}

/** Settings that must match for saved reference statistics to be reused. */
export interface ReferenceSettings {
  network: string;
  networkSha256: string;
  resizeMode: string;
}

export interface ReferenceStats {
  features: Record<string, GaussianStats>;
  settings: ReferenceSettings;
  metadata: Record<string, string>;
}

/** Writes reference statistics: `<feature>.mu`, `<feature>.sigma`, `<feature>.count` per feature set. */
export async function saveReferenceStats(file: string, features: Record<string, GaussianStats>, settings: ReferenceSettings, extra: Record<string, string> = {}): Promise<void> {
  const tensors: Record<string, Tensor> = {};
  for (const [name, stats] of Object.entries(features)) {
    tensors[`${name}.mu`] = { dtype: 'F64', shape: [stats.dim], data: stats.mu };
    tensors[`${name}.sigma`] = { dtype: 'F64', shape: [stats.dim, stats.dim], data: stats.sigma };
    tensors[`${name}.count`] = { dtype: 'I64', shape: [1], data: BigInt64Array.from([BigInt(stats.count)]) };
  }
  await writeSafetensors(file, tensors, {
    ...extra,
    format: 'gpstoken-reference-stats-1',
    network: settings.network,
    network_sha256: settings.networkSha256,
    resize_mode: settings.resizeMode,
    features: Object.keys(features).join(','),
  });
}

export async function loadReferenceStats(file: string): Promise<ReferenceStats> {
  let parsed;
  try {
    parsed = await readSafetensors(file);
  } catch (error) {
    throw new StatsError(`--real-stats ${file}: cannot be read (${(error as Error).message})`, { cause: error });
  }
  const { tensors, metadata } = parsed;
  if (metadata.format !== 'gpstoken-reference-stats-1') {
    throw new StatsError(`--real-stats ${file}: not a reference-statistics file (metadata format is ${JSON.stringify(metadata.format)}); create one with --save-stats`);
  }
  const features: Record<string, GaussianStats> = {};
  for (const name of (metadata.features ?? '').split(',').filter(Boolean)) {
    const mu = float64(tensors.get(`${name}.mu`), `${name}.mu`, file);
    const sigma = float64(tensors.get(`${name}.sigma`), `${name}.sigma`, file);
    const count = Number((tensors.get(`${name}.count`)?.data as BigInt64Array | undefined)?.[0] ?? 0);
    features[name] = { dim: mu.length, count, mu, sigma };
  }
  const settings = { network: metadata.network ?? '', networkSha256: metadata.network_sha256 ?? '', resizeMode: metadata.resize_mode ?? '' };
  return { features, settings, metadata };
}
