// Dense symmetric linear algebra in float64 for the Fréchet distance: pivoted Cholesky,
// the congruence L^T B L, Householder tridiagonalisation and implicit QL eigenvalues.
//
// Matrices are row-major Float64Array of n * n values. Loops run along rows, so the inner
// loops read contiguous memory; several rows are combined per pass where that saves loads.

/** Result of a pivoted Cholesky factorisation P^T A P = L L^T of a positive semidefinite A. */
export interface PivotedCholesky {
  /** L, n rows of stride n; row i contains L[i][0..min(i, rank - 1)] and zeros elsewhere. */
  factor: Float64Array;
  /** permutation[i] is the index in A of row i of the permuted matrix. */
  permutation: Int32Array;
  rank: number;
  n: number;
}

/**
 * Factors a symmetric positive semidefinite matrix with diagonal pivoting (the rule of
 * LAPACK's dpstrf): each step takes the largest remaining diagonal, and the factorisation
 * stops when it falls to `tolerance` or below (default n * eps * max diagonal, LAPACK's
 * default), so a singular covariance (fewer samples than dimensions) gives a factor of
 * lower rank. Only the lower triangle of `a` is read.
 *
 * Blocked: columns are factored in panels of PANEL; within a panel each column subtracts
 * the panel's earlier columns, and after the panel the trailing matrix is updated once, so
 * the large update reads a panel that stays in cache.
 */
export function pivotedCholesky(a: Float64Array, n: number, tolerance?: number): PivotedCholesky {
  const work = a.slice();
  const factor = new Float64Array(n * n);
  const permutation = Int32Array.from({ length: n }, (_, i) => i);
  const remaining = new Float64Array(n);
  let maxDiagonal = 0;
  for (let i = 0; i < n; i += 1) {
    remaining[i] = work[i * n + i] as number;
    maxDiagonal = Math.max(maxDiagonal, remaining[i] as number);
  }
  const limit = tolerance ?? n * Number.EPSILON * maxDiagonal;
  let rank = 0;
  for (let p0 = 0; p0 < n && rank === p0; p0 += PANEL) {
    const p1 = Math.min(n, p0 + PANEL);
    for (let k = p0; k < p1; k += 1) {
      let pivot = k;
      for (let j = k + 1; j < n; j += 1) if ((remaining[j] as number) > (remaining[pivot] as number)) pivot = j;
      if (!((remaining[pivot] as number) > limit)) break;
      if (pivot !== k) swapPivot(work, factor, permutation, remaining, n, k, pivot);
      factorColumn(work, factor, remaining, n, p0, k);
      rank = k + 1;
    }
    if (rank === p1) updateTrailing(work, factor, n, p0, p1);
  }
  return { factor, permutation, rank, n };
}

const PANEL = 48;

/** Column k of L below the diagonal, from the trailing matrix and the panel's columns p0..k-1. */
function factorColumn(work: Float64Array, factor: Float64Array, remaining: Float64Array, n: number, p0: number, k: number): void {
  const diagonal = Math.sqrt(remaining[k] as number);
  const rowK = k * n;
  factor[rowK + k] = diagonal;
  for (let j = k + 1; j < n; j += 1) {
    const rowJ = j * n;
    let dot = 0;
    for (let t = p0; t < k; t += 1) dot += (factor[rowJ + t] as number) * (factor[rowK + t] as number);
    const value = ((work[rowJ + k] as number) - dot) / diagonal;
    factor[rowJ + k] = value;
    remaining[j] = (remaining[j] as number) - value * value;
  }
}

/** work[i][j] -= sum_{t in [p0, p1)} L[i][t] L[j][t] for p1 <= j <= i, four j per pass. */
function updateTrailing(work: Float64Array, factor: Float64Array, n: number, p0: number, p1: number): void {
  const width = p1 - p0;
  const panel = new Float64Array((n - p1) * width);
  for (let i = p1; i < n; i += 1) panel.set(factor.subarray(i * n + p0, i * n + p1), (i - p1) * width);
  for (let i = p1; i < n; i += 1) {
    const pi = (i - p1) * width;
    const row = i * n;
    let j = p1;
    for (; j + 3 <= i; j += 4) {
      const pj = (j - p1) * width;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let t = 0; t < width; t += 1) {
        const v = panel[pi + t] as number;
        s0 += v * (panel[pj + t] as number);
        s1 += v * (panel[pj + width + t] as number);
        s2 += v * (panel[pj + 2 * width + t] as number);
        s3 += v * (panel[pj + 3 * width + t] as number);
      }
      work[row + j] = (work[row + j] as number) - s0;
      work[row + j + 1] = (work[row + j + 1] as number) - s1;
      work[row + j + 2] = (work[row + j + 2] as number) - s2;
      work[row + j + 3] = (work[row + j + 3] as number) - s3;
    }
    for (; j <= i; j += 1) {
      const pj = (j - p1) * width;
      let sum = 0;
      for (let t = 0; t < width; t += 1) sum += (panel[pi + t] as number) * (panel[pj + t] as number);
      work[row + j] = (work[row + j] as number) - sum;
    }
  }
}

/** Exchanges index k and p (k < p) in the lower triangle of `work`, in L's first k columns and in the bookkeeping. */
function swapPivot(work: Float64Array, factor: Float64Array, permutation: Int32Array, remaining: Float64Array, n: number, k: number, p: number): void {
  const exchange = (array: Float64Array, x: number, y: number) => {
    const tmp = array[x] as number;
    array[x] = array[y] as number;
    array[y] = tmp;
  };
  for (let t = 0; t < k; t += 1) {
    exchange(factor, k * n + t, p * n + t);
    exchange(work, k * n + t, p * n + t);
  }
  exchange(work, k * n + k, p * n + p);
  for (let t = k + 1; t < p; t += 1) exchange(work, t * n + k, p * n + t);
  for (let t = p + 1; t < n; t += 1) exchange(work, t * n + k, t * n + p);
  exchange(remaining, k, p);
  const index = permutation[k] as number;
  permutation[k] = permutation[p] as number;
  permutation[p] = index;
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
  blockedRowDots(lt, r, bp, n, n, ct, false);
  // M[s][t] = sum_{i >= s} Lt[s][i] Ct[t][i] for t <= s, then mirrored.
  const m = new Float64Array(r * r);
  blockedRowDots(lt, r, ct, r, n, m, true);
  // Returned in reverse index order with both triangles filled. The pivots decrease, so M
  // is graded with its large entries first. Reversed, they sit at the lower right, which is
  // the order in which Householder reduction from the last row and QL keep small
  // eigenvalues accurate.
  const reversed = new Float64Array(r * r);
  for (let s = 0; s < r; s += 1) {
    for (let t = 0; t <= s; t += 1) {
      const value = m[s * r + t] as number;
      reversed[(r - 1 - s) * r + (r - 1 - t)] = value;
      reversed[(r - 1 - t) * r + (r - 1 - s)] = value;
    }
  }
  return reversed;
}

const K_BLOCK = 256;
const Y_BLOCK = 48;

/**
 * out[t][i] += sum_k x[t][k] y[i][k] for rows of length `length`, where row t of x is zero
 * before index t (so each group of four x rows starts at its first row's index). With
 * `lowerOnly`, only i <= t is guaranteed. The loops are blocked so a block of y rows stays
 * in cache while every group of four x rows passes over it, sharing each y load four times.
 */
function blockedRowDots(x: Float64Array, xRows: number, y: Float64Array, yRows: number, length: number, out: Float64Array, lowerOnly: boolean): void {
  for (let k0 = 0; k0 < length; k0 += K_BLOCK) {
    const k1 = Math.min(length, k0 + K_BLOCK);
    for (let i0 = 0; i0 < yRows; i0 += Y_BLOCK) {
      const i1 = Math.min(yRows, i0 + Y_BLOCK);
      for (let t = 0; t < xRows; t += 4) {
        const kStart = Math.max(k0, t);
        if (kStart >= k1) break;
        const iEnd = lowerOnly ? Math.min(i1, t + 4) : i1;
        if (i0 >= iEnd) continue;
        if (t + 3 < xRows) dotsOfFour(x, y, out, length, yRows, t, i0, iEnd, kStart, k1);
        else for (let row = t; row < xRows; row += 1) dotsOfOne(x, y, out, length, yRows, row, i0, iEnd, kStart, k1);
      }
    }
  }
}

function dotsOfFour(x: Float64Array, y: Float64Array, out: Float64Array, length: number, outStride: number, t: number, i0: number, i1: number, k0: number, k1: number): void {
  const x0 = t * length;
  const x1 = x0 + length;
  const x2 = x1 + length;
  const x3 = x2 + length;
  const o0 = t * outStride;
  const o1 = o0 + outStride;
  const o2 = o1 + outStride;
  const o3 = o2 + outStride;
  let i = i0;
  // Two y rows per pass: eight sums share six loads per k.
  for (; i + 1 < i1; i += 2) {
    const ya = i * length;
    const yb = ya + length;
    let a0 = 0;
    let a1 = 0;
    let a2 = 0;
    let a3 = 0;
    let b0 = 0;
    let b1 = 0;
    let b2 = 0;
    let b3 = 0;
    for (let k = k0; k < k1; k += 1) {
      const va = y[ya + k] as number;
      const vb = y[yb + k] as number;
      const w0 = x[x0 + k] as number;
      const w1 = x[x1 + k] as number;
      const w2 = x[x2 + k] as number;
      const w3 = x[x3 + k] as number;
      a0 += w0 * va;
      a1 += w1 * va;
      a2 += w2 * va;
      a3 += w3 * va;
      b0 += w0 * vb;
      b1 += w1 * vb;
      b2 += w2 * vb;
      b3 += w3 * vb;
    }
    out[o0 + i] = (out[o0 + i] as number) + a0;
    out[o1 + i] = (out[o1 + i] as number) + a1;
    out[o2 + i] = (out[o2 + i] as number) + a2;
    out[o3 + i] = (out[o3 + i] as number) + a3;
    out[o0 + i + 1] = (out[o0 + i + 1] as number) + b0;
    out[o1 + i + 1] = (out[o1 + i + 1] as number) + b1;
    out[o2 + i + 1] = (out[o2 + i + 1] as number) + b2;
    out[o3 + i + 1] = (out[o3 + i + 1] as number) + b3;
  }
  if (i < i1) {
    const yi = i * length;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    for (let k = k0; k < k1; k += 1) {
      const v = y[yi + k] as number;
      s0 += (x[x0 + k] as number) * v;
      s1 += (x[x1 + k] as number) * v;
      s2 += (x[x2 + k] as number) * v;
      s3 += (x[x3 + k] as number) * v;
    }
    out[o0 + i] = (out[o0 + i] as number) + s0;
    out[o1 + i] = (out[o1 + i] as number) + s1;
    out[o2 + i] = (out[o2 + i] as number) + s2;
    out[o3 + i] = (out[o3 + i] as number) + s3;
  }
}

function dotsOfOne(x: Float64Array, y: Float64Array, out: Float64Array, length: number, outStride: number, t: number, i0: number, i1: number, k0: number, k1: number): void {
  for (let i = i0; i < i1; i += 1) {
    let sum = 0;
    for (let k = k0; k < k1; k += 1) sum += (x[t * length + k] as number) * (y[i * length + k] as number);
    out[t * outStride + i] = (out[t * outStride + i] as number) + sum;
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
    // q = p - K u with K = u.p / (2h); A' = A - u q^T - q u^T. Without a reflection q = 0.
    q.fill(0, 0, l + 1);
    if (h !== 0) {
      let dot = 0;
      for (let k = 0; k <= l; k += 1) dot += (u[k] as number) * (p[k] as number);
      const kappa = dot / (h + h);
      for (let k = 0; k <= l; k += 1) q[k] = (p[k] as number) - kappa * (u[k] as number);
      updateRow(a, n, l, u, q);
    }
    if (l === 0) break;

    // The next reflector comes from the updated row l. Rows 0..l-1 are then updated and
    // multiplied by it in one pass, two rows at a time so the vector loads are shared.
    const next = makeReflector(a, n, l, spare, offDiagonal);
    if (next.h === 0) next.u.fill(0, 0, l);
    nextP.fill(0, 0, l);
    let j = 0;
    for (; j + 1 < l; j += 2) updateAndMultiplyPair(a, n, j, u, q, next.u, nextP);
    if (j < l) updateAndMultiplyPair(a, n, j, u, q, next.u, nextP, true);
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

/**
 * Rows j and j+1 (only j when `single`): A[r][k] -= u_r q_k + q_r u_k for k <= r, then
 * nextP += A v restricted to those rows and their mirrored columns.
 */
function updateAndMultiplyPair(a: Float64Array, n: number, j: number, u: Float64Array, q: Float64Array, v: Float64Array, nextP: Float64Array, single = false): void {
  const r0 = j * n;
  const r1 = r0 + n;
  const u0 = u[j] as number;
  const q0 = q[j] as number;
  const v0 = v[j] as number;
  if (single) {
    let sum = 0;
    for (let k = 0; k <= j; k += 1) {
      const value = (a[r0 + k] as number) - u0 * (q[k] as number) - q0 * (u[k] as number);
      a[r0 + k] = value;
      if (k < j) {
        sum += value * (v[k] as number);
        nextP[k] = (nextP[k] as number) + value * v0;
      } else nextP[j] = (nextP[j] as number) + sum + value * v0;
    }
    return;
  }
  const u1 = u[j + 1] as number;
  const q1 = q[j + 1] as number;
  const v1 = v[j + 1] as number;
  let s0 = 0;
  let s1 = 0;
  for (let k = 0; k < j; k += 1) {
    const uk = u[k] as number;
    const qk = q[k] as number;
    const vk = v[k] as number;
    const a0 = (a[r0 + k] as number) - u0 * qk - q0 * uk;
    const a1 = (a[r1 + k] as number) - u1 * qk - q1 * uk;
    a[r0 + k] = a0;
    a[r1 + k] = a1;
    s0 += a0 * vk;
    s1 += a1 * vk;
    nextP[k] = (nextP[k] as number) + a0 * v0 + a1 * v1;
  }
  const diagonal0 = (a[r0 + j] as number) - 2 * u0 * q0;
  const lower = (a[r1 + j] as number) - u1 * q0 - q1 * u0;
  const diagonal1 = (a[r1 + j + 1] as number) - 2 * u1 * q1;
  a[r0 + j] = diagonal0;
  a[r1 + j] = lower;
  a[r1 + j + 1] = diagonal1;
  nextP[j] = (nextP[j] as number) + s0 + diagonal0 * v0 + lower * v1;
  nextP[j + 1] = (nextP[j + 1] as number) + s1 + lower * v0 + diagonal1 * v1;
}

function updateRow(a: Float64Array, n: number, j: number, u: Float64Array, q: Float64Array): void {
  const row = j * n;
  const uj = u[j] as number;
  const qj = q[j] as number;
  for (let k = 0; k <= j; k += 1) a[row + k] = (a[row + k] as number) - uj * (q[k] as number) - qj * (u[k] as number);
}

/** Eigenvalues of the symmetric tridiagonal matrix (d, e), e[i] coupling i and i+1; in place. */
function implicitQL(d: Float64Array, e: Float64Array, n: number): void {
  // After 30 iterations an off-diagonal element also counts as zero below eps * |T|:
  // covariance products have eigenvalues spanning 20 decades, and next to the smallest ones
  // the purely relative test can stall at rounding level.
  let norm = 0;
  for (let i = 0; i < n; i += 1) norm = Math.max(norm, Math.abs(d[i] as number) + Math.abs(e[i] as number) + (i > 0 ? Math.abs(e[i - 1] as number) : 0));
  const floor = Number.EPSILON * norm;
  for (let l = 0; l < n; l += 1) {
    let iterations = 0;
    for (;;) {
      let m = l;
      for (; m < n - 1; m += 1) {
        const scale = Math.abs(d[m] as number) + Math.abs(d[m + 1] as number);
        const off = Math.abs(e[m] as number);
        if (off <= Number.EPSILON * scale || (iterations > 30 && off <= floor)) break;
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
