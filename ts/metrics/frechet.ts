// Fréchet distance between two Gaussians, in float64:
//   d^2 = |mu1 - mu2|^2 + tr S1 + tr S2 - 2 tr sqrt(S1 S2).
// tr sqrt(S1 S2) is the sum of the square roots of the eigenvalues of L^T S2 L, where
// P^T S1 P = L L^T is a pivoted Cholesky factorisation: S1 S2 is similar to L^T S2 L, a
// symmetric positive semidefinite matrix, so no non-symmetric square root (scipy's sqrtm)
// and no Newton-Schulz iteration is involved, and a singular S1 (fewer samples than
// dimensions) simply gives a factor of lower rank.
import { congruence, pivotedCholesky, symmetricEigenvalues } from './linalg.ts';

export interface FrechetResult {
  /** The distance, clamped at 0 (see `raw`). */
  distance: number;
  /** The value before clamping; rounding makes it slightly negative for identical sets. */
  raw: number;
  meanTerm: number;
  traceSqrt: number;
  /** Rank of S1 found by the pivoted Cholesky factorisation. */
  rank: number;
  /** The minimum eigenvalue of L^T S2 L when negative (then clamped to 0), else 0. */
  minEigenvalue: number;
}

export class FrechetInputError extends Error {
  override name = 'FrechetInputError';
}

function checkInputs(mu1: Float64Array, sigma1: Float64Array, mu2: Float64Array, sigma2: Float64Array): number {
  const n = mu1.length;
  if (mu2.length !== n) throw new FrechetInputError(`the two means have different dimensions: ${n} and ${mu2.length}`);
  for (const [name, sigma] of [['sigma1', sigma1], ['sigma2', sigma2]] as const) {
    if (sigma.length !== n * n) throw new FrechetInputError(`${name} has ${sigma.length} values, expected ${n}x${n} = ${n * n}`);
  }
  for (const [name, values] of [['mu1', mu1], ['mu2', mu2], ['sigma1', sigma1], ['sigma2', sigma2]] as const) {
    const bad = values.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) throw new FrechetInputError(`${name} contains a non-finite value (${values[bad]}) at index ${bad}`);
  }
  return n;
}

/** Computes the Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2). */
export function frechetDistance(mu1: Float64Array, sigma1: Float64Array, mu2: Float64Array, sigma2: Float64Array): FrechetResult {
  const n = checkInputs(mu1, sigma1, mu2, sigma2);
  let meanTerm = 0;
  let trace = 0;
  for (let i = 0; i < n; i += 1) {
    const diff = (mu1[i] as number) - (mu2[i] as number);
    meanTerm += diff * diff;
    trace += (sigma1[i * n + i] as number) + (sigma2[i * n + i] as number);
  }

  const cholesky = pivotedCholesky(sigma1, n);
  let traceSqrt = 0;
  let minEigenvalue = 0;
  if (cholesky.rank > 0) {
    const eigenvalues = symmetricEigenvalues(congruence(cholesky, sigma2), cholesky.rank);
    for (const value of eigenvalues) {
      // S1 S2 has no negative eigenvalues; a negative one here is rounding error.
      if (value < 0) minEigenvalue = Math.min(minEigenvalue, value);
      else traceSqrt += Math.sqrt(value);
    }
  }
  const raw = meanTerm + trace - 2 * traceSqrt;
  return { distance: Math.max(raw, 0), raw, meanTerm, traceSqrt, rank: cholesky.rank, minEigenvalue };
}
