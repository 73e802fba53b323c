// Dense symmetric linear algebra in float64 for the Fréchet distance: pivoted Cholesky,
// the congruence L^T B L, Householder tridiagonalisation and implicit QL eigenvalues.
//
// Matrices are row-major Float64Array of n * n values. Loops run along rows, so the inner
// loops read contiguous memory; several rows are combined per pass where that saves loads.

/** Result of a pivoted Cholesky factorisation P^T A P = L L^T of a positive semidefinite A. */
export interface PivotedCholesky {
  /** L, n rows of stride n; row i holds L[i][0..min(i, rank - 1)], zero elsewhere. */
  factor: Float64Array;
  /** permutation[i] is the index in A of row i of the permuted matrix. */
  permutation: Int32Array;
  rank: number;
  n: number;
}

/**
 * Factors a symmetric positive semidefinite matrix with diagonal pivoting (LAPACK dpstrf's
 * rule): each step takes the largest remaining diagonal, and the factorisation stops when
 * it falls to `tolerance` or below (default n * eps * max diagonal, LAPACK's default), so a
 * singular covariance (fewer samples than dimensions) gives a factor of lower rank.
 */
export function pivotedCholesky(a: Float64Array, n: number, tolerance?: number): PivotedCholesky {
  const factor = new Float64Array(n * n);
  const permutation = Int32Array.from({ length: n }, (_, i) => i);
  const remaining = new Float64Array(n);
  let maxDiagonal = 0;
  for (let i = 0; i < n; i += 1) {
    remaining[i] = a[i * n + i] as number;
    maxDiagonal = Math.max(maxDiagonal, remaining[i] as number);
  }
  const limit = tolerance ?? n * Number.EPSILON * maxDiagonal;
  let rank = 0;
  for (let k = 0; k < n; k += 1) {
    let pivot = k;
    for (let j = k + 1; j < n; j += 1) if ((remaining[j] as number) > (remaining[pivot] as number)) pivot = j;
    if (!((remaining[pivot] as number) > limit)) break;
    if (pivot !== k) swapPivot(factor, permutation, remaining, n, k, pivot);

    const diagonal = Math.sqrt(remaining[k] as number);
    const rowK = k * n;
    factor[rowK + k] = diagonal;
    const column = (permutation[k] as number) * n;
    for (let j = k + 1; j < n; j += 1) {
      const rowJ = j * n;
      let dot = 0;
      for (let t = 0; t < k; t += 1) dot += (factor[rowJ + t] as number) * (factor[rowK + t] as number);
      const value = ((a[column + (permutation[j] as number)] as number) - dot) / diagonal;
      factor[rowJ + k] = value;
      remaining[j] = (remaining[j] as number) - value * value;
    }
    rank = k + 1;
  }
  return { factor, permutation, rank, n };
}

function swapPivot(factor: Float64Array, permutation: Int32Array, remaining: Float64Array, n: number, k: number, p: number): void {
  for (let t = 0; t < k; t += 1) {
    const tmp = factor[k * n + t] as number;
    factor[k * n + t] = factor[p * n + t] as number;
    factor[p * n + t] = tmp;
  }
  const index = permutation[k] as number;
  permutation[k] = permutation[p] as number;
  permutation[p] = index;
  const value = remaining[k] as number;
  remaining[k] = remaining[p] as number;
  remaining[p] = value;
}

/**
 * Returns M = L^T (P^T B P) L (rank x rank, row-major) for a pivoted Cholesky factor L of
 * one matrix and a symmetric B. The eigenvalues of M are the non-zero eigenvalues of A B.
 */
export function congruence(cholesky: PivotedCholesky, b: Float64Array): Float64Array {
  const { factor, permutation, rank: r, n } = cholesky;
  // Lt[t] = column t of L, non-zero from index t on; Bp = P^T B P.
  const lt = new Float64Array(r * n);
  for (let i = 0; i < n; i += 1) for (let t = 0; t <= Math.min(i, r - 1); t += 1) lt[t * n + i] = factor[i * n + t] as number;
  const bp = new Float64Array(n * n);
  for (let i = 0; i < n; i += 1) {
    const source = (permutation[i] as number) * n;
    for (let j = 0; j < n; j += 1) bp[i * n + j] = b[source + (permutation[j] as number)] as number;
  }
  // Ct[t][i] = (Bp L)[i][t] = sum_{k >= t} Lt[t][k] Bp[i][k].
  const ct = new Float64Array(r * n);
  rowDots(lt, bp, ct, r, n, n, (t) => t);
  // M[s][t] = sum_{i >= s} Lt[s][i] Ct[t][i], for t <= s, mirrored.
  const m = new Float64Array(r * r);
  rowDotsLower(lt, ct, m, r, n);
  return m;
}

/**
 * out[t * cols + i] = sum_{k >= start(t)} x[t][k] y[i][k] for all t < rows, i < cols, with
 * x rows of stride `stride` and y rows of stride `stride`. Four x rows share each y load.
 */
function rowDots(x: Float64Array, y: Float64Array, out: Float64Array, rows: number, cols: number, stride: number, start: (t: number) => number): void {
  const block = 256;
  for (let i0 = 0; i0 < cols; i0 += block) {
    const i1 = Math.min(cols, i0 + block);
    let t = 0;
    for (; t + 3 < rows; t += 4) {
      const k0 = start(t);
      const x0 = t * stride;
      const x1 = x0 + stride;
      const x2 = x1 + stride;
      const x3 = x2 + stride;
      for (let i = i0; i < i1; i += 1) {
        const yi = i * stride;
        let s0 = 0;
        let s1 = 0;
        let s2 = 0;
        let s3 = 0;
        // Rows t+1.. are zero below their own start, so starting at k0 is exact for all four.
        for (let k = k0; k < stride; k += 1) {
          const v = y[yi + k] as number;
          s0 += (x[x0 + k] as number) * v;
          s1 += (x[x1 + k] as number) * v;
          s2 += (x[x2 + k] as number) * v;
          s3 += (x[x3 + k] as number) * v;
        }
        out[t * cols + i] = s0;
        out[(t + 1) * cols + i] = s1;
        out[(t + 2) * cols + i] = s2;
        out[(t + 3) * cols + i] = s3;
      }
    }
    for (; t < rows; t += 1) {
      const k0 = start(t);
      for (let i = i0; i < i1; i += 1) {
        let s = 0;
        for (let k = k0; k < stride; k += 1) s += (x[t * stride + k] as number) * (y[i * stride + k] as number);
        out[t * cols + i] = s;
      }
    }
  }
}

/** m[s][t] = m[t][s] = sum_{i >= s} lt[s][i] ct[t][i] for t <= s (lt[s] is zero before s). */
function rowDotsLower(lt: Float64Array, ct: Float64Array, m: Float64Array, r: number, n: number): void {
  for (let s = 0; s < r; s += 1) {
    const ls = s * n;
    let t = 0;
    for (; t + 3 <= s; t += 4) {
      const c0 = t * n;
      const c1 = c0 + n;
      const c2 = c1 + n;
      const c3 = c2 + n;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let i = s; i < n; i += 1) {
        const v = lt[ls + i] as number;
        s0 += (ct[c0 + i] as number) * v;
        s1 += (ct[c1 + i] as number) * v;
        s2 += (ct[c2 + i] as number) * v;
        s3 += (ct[c3 + i] as number) * v;
      }
      m[s * r + t] = s0;
      m[s * r + t + 1] = s1;
      m[s * r + t + 2] = s2;
      m[s * r + t + 3] = s3;
    }
    for (; t <= s; t += 1) {
      let sum = 0;
      for (let i = s; i < n; i += 1) sum += (lt[ls + i] as number) * (ct[t * n + i] as number);
      m[s * r + t] = sum;
    }
    for (let u = 0; u < s; u += 1) m[u * r + s] = m[s * r + u] as number;
  }
}

/**
 * Returns the eigenvalues (ascending) of a symmetric n x n matrix given by its lower
 * triangle. The input is overwritten. Householder reduction to tridiagonal form, then the
 * implicit QL iteration with Wilkinson shifts; no eigenvectors are formed.
 *
 * Each Householder step updates the remaining lower triangle and, in the same pass over a
 * row, accumulates the matrix-vector product that the next step needs, so the triangle is
 * read once per step.
 */
export function symmetricEigenvalues(a: Float64Array, n: number): Float64Array {
  const diagonal = new Float64Array(n);
  const offDiagonal = new Float64Array(n);
  tridiagonalize(a, n, diagonal, offDiagonal);
  const sub = new Float64Array(n);
  for (let i = 0; i + 1 < n; i += 1) sub[i] = offDiagonal[i + 1] as number;
  implicitQL(diagonal, sub, n);
  return diagonal.sort();
}

interface Reflector {
  u: Float64Array;
  /** Half the squared norm of u: P = I - u u^T / h. Zero when no reflection is needed. */
  h: number;
}

/** Builds the reflector that zeroes row i left of its sub-diagonal; sets offDiagonal[i]. */
function makeReflector(a: Float64Array, n: number, i: number, u: Float64Array, offDiagonal: Float64Array): Reflector {
  const l = i - 1;
  const row = i * n;
  let scale = 0;
  for (let k = 0; k <= l; k += 1) scale += Math.abs(a[row + k] as number);
  if (l === 0 || scale === 0) {
    offDiagonal[i] = a[row + l] as number;
    return { u, h: 0 };
  }
  let h = 0;
  for (let k = 0; k <= l; k += 1) {
    const value = (a[row + k] as number) / scale;
    u[k] = value;
    h += value * value;
  }
  const f = u[l] as number;
  const g = f >= 0 ? -Math.sqrt(h) : Math.sqrt(h);
  offDiagonal[i] = scale * g;
  h -= f * g;
  u[l] = f - g;
  return { u, h };
}

/** p = A u / h over the leading (size x size) block, A given by its lower triangle. */
function blockProduct(a: Float64Array, n: number, size: number, reflector: Reflector, p: Float64Array): void {
  const { u, h } = reflector;
  p.fill(0, 0, size);
  for (let j = 0; j < size; j += 1) {
    const row = j * n;
    const uj = u[j] as number;
    let sum = 0;
    for (let k = 0; k < j; k += 1) {
      const value = a[row + k] as number;
      sum += value * (u[k] as number);
      p[k] = (p[k] as number) + value * uj;
    }
    p[j] = (p[j] as number) + sum + (a[row + j] as number) * uj;
  }
  for (let k = 0; k < size; k += 1) p[k] = (p[k] as number) / h;
}

function tridiagonalize(a: Float64Array, n: number, diagonal: Float64Array, offDiagonal: Float64Array): void {
  let current: Reflector = { u: new Float64Array(n), h: 0 };
  let spare: Float64Array = new Float64Array(n);
  let p: Float64Array = new Float64Array(n);
  let nextP: Float64Array = new Float64Array(n);
  const q = new Float64Array(n);
  if (n > 1) {
    current = makeReflector(a, n, n - 1, current.u, offDiagonal);
    if (current.h !== 0) blockProduct(a, n, n - 1, current, p);
  }
  for (let i = n - 1; i >= 1; i -= 1) {
    diagonal[i] = a[i * n + i] as number;
    const l = i - 1;
    const { u, h } = current;
    if (h !== 0) {
      // q = p - K u with K = u.p / (2h); A' = A - u q^T - q u^T.
      let dot = 0;
      for (let k = 0; k <= l; k += 1) dot += (u[k] as number) * (p[k] as number);
      const kappa = dot / (h + h);
      for (let k = 0; k <= l; k += 1) q[k] = (p[k] as number) - kappa * (u[k] as number);
      updateRow(a, n, l, u, q);
    }
    if (l === 0) break;

    // The next reflector comes from the updated row l; rows 0..l-1 are then updated and
    // multiplied by it in one pass.
    const next = makeReflector(a, n, l, spare, offDiagonal);
    nextP.fill(0, 0, l);
    const v = next.u;
    for (let j = 0; j < l; j += 1) {
      if (h !== 0) updateRow(a, n, j, u, q);
      if (next.h === 0) continue;
      const row = j * n;
      const vj = v[j] as number;
      let sum = 0;
      for (let k = 0; k < j; k += 1) {
        const value = a[row + k] as number;
        sum += value * (v[k] as number);
        nextP[k] = (nextP[k] as number) + value * vj;
      }
      nextP[j] = (nextP[j] as number) + sum + (a[row + j] as number) * vj;
    }
    if (next.h !== 0) for (let k = 0; k < l; k += 1) nextP[k] = (nextP[k] as number) / next.h;

    spare = current.u;
    current = next;
    const swap = p;
    p = nextP;
    nextP = swap;
  }
  diagonal[0] = a[0] as number;
  offDiagonal[0] = 0;
}

function updateRow(a: Float64Array, n: number, j: number, u: Float64Array, q: Float64Array): void {
  const row = j * n;
  const uj = u[j] as number;
  const qj = q[j] as number;
  for (let k = 0; k <= j; k += 1) a[row + k] = (a[row + k] as number) - uj * (q[k] as number) - qj * (u[k] as number);
}

/** Eigenvalues of the symmetric tridiagonal matrix (d, e), e[i] coupling i and i+1; in place. */
function implicitQL(d: Float64Array, e: Float64Array, n: number): void {
  for (let l = 0; l < n; l += 1) {
    let iterations = 0;
    for (;;) {
      let m = l;
      for (; m < n - 1; m += 1) {
        const scale = Math.abs(d[m] as number) + Math.abs(d[m + 1] as number);
        if (Math.abs(e[m] as number) <= Number.EPSILON * scale) break;
      }
      if (m === l) break;
      iterations += 1;
      if (iterations > 60) throw new Error(`implicit QL did not converge for eigenvalue ${l} after 60 iterations`);
      let g = ((d[l + 1] as number) - (d[l] as number)) / (2 * (e[l] as number));
      let r = Math.hypot(g, 1);
      g = (d[m] as number) - (d[l] as number) + (e[l] as number) / (g + (g >= 0 ? r : -r));
      let s = 1;
      let c = 1;
      let p = 0;
      let i = m - 1;
      let deflated = false;
      for (; i >= l; i -= 1) {
        const f = s * (e[i] as number);
        const b = c * (e[i] as number);
        r = Math.hypot(f, g);
        e[i + 1] = r;
        if (r === 0) {
          d[i + 1] = (d[i + 1] as number) - p;
          e[m] = 0;
          deflated = true;
          break;
        }
        s = f / r;
        c = g / r;
        g = (d[i + 1] as number) - p;
        r = ((d[i] as number) - g) * s + 2 * c * b;
        p = s * r;
        d[i + 1] = g + p;
        g = c * r - b;
      }
      if (deflated) continue;
      d[l] = (d[l] as number) - p;
      e[l] = g;
      e[m] = 0;
    }
  }
}
