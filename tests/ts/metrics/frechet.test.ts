// Fréchet distance against scipy (sqrtm, the pytorch-fid formula) and against cases with a
// known exact value, including the numerically hard ones.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { REPO_ROOT } from '../../../ts/bridge/backend.ts';
import { frechetDistance, FrechetInputError } from '../../../ts/metrics/frechet.ts';
import { writeSafetensors, type Tensor } from '../../../ts/util/safetensors.ts';

/** Deterministic uniform numbers in [-0.5, 0.5). */
function generator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32 - 0.5;
  };
}

function samples(count: number, dim: number, seed: number, scale = 1, shift = 0): Float64Array[] {
  const random = generator(seed);
  return Array.from({ length: count }, () => Float64Array.from({ length: dim }, (_, j) => shift + scale * (random() + 0.3 * Math.sin(j)) ));
}

function meanCov(rows: Float64Array[]): { mu: Float64Array; sigma: Float64Array } {
  const n = rows[0]!.length;
  const mu = new Float64Array(n);
  for (const row of rows) for (let i = 0; i < n; i += 1) mu[i]! += row[i]! / rows.length;
  const sigma = new Float64Array(n * n);
  for (const row of rows) for (let i = 0; i < n; i += 1) for (let j = 0; j < n; j += 1) sigma[i * n + j]! += ((row[i]! - mu[i]!) * (row[j]! - mu[j]!)) / (rows.length - 1);
  return { mu, sigma };
}

/** A random orthogonal matrix (Gram-Schmidt on random vectors). */
function orthogonal(n: number, seed: number): Float64Array {
  const random = generator(seed);
  const q = new Float64Array(n * n);
  for (let i = 0; i < n; i += 1) {
    const v = Float64Array.from({ length: n }, () => random());
    for (let k = 0; k < i; k += 1) {
      let dot = 0;
      for (let j = 0; j < n; j += 1) dot += v[j]! * q[k * n + j]!;
      for (let j = 0; j < n; j += 1) v[j]! -= dot * q[k * n + j]!;
    }
    const norm = Math.hypot(...v);
    for (let j = 0; j < n; j += 1) q[i * n + j] = v[j]! / norm;
  }
  return q;
}

/** Q^T diag(values) Q. */
function withSpectrum(q: Float64Array, values: number[]): Float64Array {
  const n = values.length;
  const out = new Float64Array(n * n);
  for (let k = 0; k < n; k += 1) for (let i = 0; i < n; i += 1) for (let j = 0; j < n; j += 1) out[i * n + j]! += q[k * n + i]! * values[k]! * q[k * n + j]!;
  return out;
}

interface Case {
  mu1: Float64Array;
  sigma1: Float64Array;
  mu2: Float64Array;
  sigma2: Float64Array;
}

const DIM = 48;
const cases: Record<string, Case> = {};
{
  const a = meanCov(samples(400, DIM, 1));
  const b = meanCov(samples(400, DIM, 2, 1.2, 0.1));
  cases.well_conditioned = { mu1: a.mu, sigma1: a.sigma, mu2: b.mu, sigma2: b.sigma };
  const fewA = meanCov(samples(20, DIM, 3));
  const fewB = meanCov(samples(30, DIM, 4, 0.9));
  cases.fewer_samples_than_dims = { mu1: fewA.mu, sigma1: fewA.sigma, mu2: fewB.mu, sigma2: fewB.sigma };
  const largeA = meanCov(samples(400, DIM, 5, 1, 1e6));
  const largeB = meanCov(samples(400, DIM, 6, 1.1, 1e6 + 0.5));
  cases.large_means = { mu1: largeA.mu, sigma1: largeA.sigma, mu2: largeB.mu, sigma2: largeB.sigma };
}

// Commuting covariances with eigenvalues from 1e-12 to 1e2: tr sqrt(S1 S2) = sum sqrt(a_i b_i).
const q = orthogonal(DIM, 7);
const spectrum1 = Array.from({ length: DIM }, (_, i) => 10 ** (-12 + (14 * i) / (DIM - 1)));
const spectrum2 = Array.from({ length: DIM }, (_, i) => 10 ** (2 - (14 * ((i * 7) % DIM)) / (DIM - 1)));
const zeros = new Float64Array(DIM);
const wideSpectrum: Case = { mu1: zeros, sigma1: withSpectrum(q, spectrum1), mu2: zeros, sigma2: withSpectrum(q, spectrum2) };
const wideExpected = spectrum1.reduce((sum, a, i) => sum + a + spectrum2[i]! - 2 * Math.sqrt(a * spectrum2[i]!), 0);

let reference: Record<string, { scipy: number; symmetric: number }> = {};
let folder = '';

test.before(async () => {
  folder = await mkdtemp(path.join(os.tmpdir(), 'gpstoken-frechet-'));
  const tensors: Record<string, Tensor> = {};
  for (const [name, item] of Object.entries({ ...cases, wide_spectrum: wideSpectrum })) {
    tensors[`${name}.mu1`] = { dtype: 'F64', shape: [DIM], data: item.mu1 };
    tensors[`${name}.mu2`] = { dtype: 'F64', shape: [DIM], data: item.mu2 };
    tensors[`${name}.sigma1`] = { dtype: 'F64', shape: [DIM, DIM], data: item.sigma1 };
    tensors[`${name}.sigma2`] = { dtype: 'F64', shape: [DIM, DIM], data: item.sigma2 };
  }
  const file = path.join(folder, 'cases.safetensors');
  await writeSafetensors(file, tensors);
  const script = path.join(REPO_ROOT, 'tests', 'ts', 'metrics', 'frechet_reference.py');
  const { stdout } = await execa('/usr/bin/python3', [script, file], { timeout: 60_000 });
  reference = JSON.parse(stdout);
});

test.after(async () => {
  await rm(folder, { recursive: true, force: true });
});

const relative = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-300);

test('well-conditioned agrees with scipy sqrtm', () => {
  const c = cases.well_conditioned!;
  const result = frechetDistance(c.mu1, c.sigma1, c.mu2, c.sigma2);
  assert.ok(relative(result.distance, reference.well_conditioned!.scipy) < 1e-6, `${result.distance} vs ${reference.well_conditioned!.scipy}`);
  assert.is(result.rank, DIM);
});

test('fewer samples than dimensions', () => {
  const c = cases.fewer_samples_than_dims!;
  const result = frechetDistance(c.mu1, c.sigma1, c.mu2, c.sigma2);
  assert.is(result.rank, 19);
  assert.ok(Number.isFinite(result.distance));
  assert.ok(relative(result.distance, reference.fewer_samples_than_dims!.symmetric) < 1e-6, `${result.distance} vs ${reference.fewer_samples_than_dims!.symmetric}`);
  assert.ok(relative(result.distance, reference.fewer_samples_than_dims!.scipy) < 1e-6, `${result.distance} vs scipy ${reference.fewer_samples_than_dims!.scipy}`);
});

test('large feature means', () => {
  const c = cases.large_means!;
  const result = frechetDistance(c.mu1, c.sigma1, c.mu2, c.sigma2);
  assert.ok(relative(result.distance, reference.large_means!.scipy) < 1e-6, `${result.distance} vs ${reference.large_means!.scipy}`);
});

test('eigenvalues from 1e-12 to 1e2', () => {
  const result = frechetDistance(wideSpectrum.mu1, wideSpectrum.sigma1, wideSpectrum.mu2, wideSpectrum.sigma2);
  assert.ok(Number.isFinite(result.distance));
  assert.ok(relative(result.distance, wideExpected) < 1e-6, `${result.distance} vs exact ${wideExpected}`);
  assert.ok(relative(reference.wide_spectrum!.symmetric, wideExpected) < 1e-6);
});

test('identical sets give 0 with the raw value kept', () => {
  const c = cases.well_conditioned!;
  const result = frechetDistance(c.mu1, c.sigma1, c.mu1, c.sigma1);
  assert.ok(result.distance >= 0);
  assert.ok(result.distance < 1e-9, `${result.distance}`);
  assert.is(result.distance, Math.max(result.raw, 0));
  assert.ok(Math.abs(result.raw) < 1e-9);
});

test('mismatched and non-finite inputs', () => {
  const c = cases.well_conditioned!;
  assert.throws(() => frechetDistance(c.mu1, c.sigma1, new Float64Array(3), c.sigma2), (error: Error) => error instanceof FrechetInputError && error.message === 'the two means have different dimensions: 48 and 3');
  const bad = c.sigma2.slice();
  bad[5] = Number.NaN;
  assert.throws(() => frechetDistance(c.mu1, c.sigma1, c.mu2, bad), /sigma2 contains a non-finite value \(NaN\) at index 5/);
});

test.run();
