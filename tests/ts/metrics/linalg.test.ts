// Symmetric eigenvalues and pivoted Cholesky on matrices with known results.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { congruence, pivotedCholesky, symmetricEigenvalues } from '../../../ts/metrics/linalg.ts';

function generator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32 - 0.5;
  };
}

/** X X^T for a random n x k matrix X: rank min(n, k). */
function gram(n: number, k: number, seed: number): Float64Array {
  const random = generator(seed);
  const x = Float64Array.from({ length: n * k }, () => random());
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i += 1) for (let j = 0; j < n; j += 1) for (let t = 0; t < k; t += 1) out[i * n + j]! += x[i * k + t]! * x[j * k + t]!;
  return out;
}

const cases: [string, Float64Array, number, number[]][] = [
  ['1x1', Float64Array.from([4]), 1, [4]],
  ['diagonal', Float64Array.from([3, 0, 0, 0, -1, 0, 0, 0, 2]), 3, [-1, 2, 3]],
  ['2x2', Float64Array.from([2, 1, 1, 2]), 2, [1, 3]],
  ['tridiagonal', Float64Array.from([2, -1, 0, -1, 2, -1, 0, -1, 2]), 3, [2 - Math.SQRT2, 2, 2 + Math.SQRT2]],
];

for (const [name, matrix, n, expected] of cases) {
  test(`eigenvalues of ${name}`, () => {
    const values = symmetricEigenvalues(matrix.slice(), n);
    assert.is(values.length, n);
    values.forEach((value, i) => assert.ok(Math.abs(value - expected[i]!) < 1e-14, `${value} vs ${expected[i]}`));
  });
}

test('eigenvalues keep trace and Frobenius norm', () => {
  const n = 40;
  const a = gram(n, 60, 3);
  let trace = 0;
  let frobenius = 0;
  for (let i = 0; i < n; i += 1) trace += a[i * n + i]!;
  for (const v of a) frobenius += v * v;
  const values = symmetricEigenvalues(a.slice(), n);
  assert.ok(Math.abs(values.reduce((s, v) => s + v, 0) - trace) < 1e-10 * trace);
  assert.ok(Math.abs(values.reduce((s, v) => s + v * v, 0) - frobenius) < 1e-10 * frobenius);
  for (let i = 1; i < n; i += 1) assert.ok(values[i]! >= values[i - 1]!);
});

test('pivoted Cholesky finds the rank and reproduces the matrix', () => {
  const n = 12;
  const a = gram(n, 5, 4);
  const { factor, permutation, rank } = pivotedCholesky(a, n);
  assert.is(rank, 5);
  for (let i = 0; i < n; i += 1) {
    for (let j = 0; j < n; j += 1) {
      let sum = 0;
      for (let t = 0; t < rank; t += 1) sum += factor[i * n + t]! * factor[j * n + t]!;
      assert.ok(Math.abs(sum - a[permutation[i]! * n + permutation[j]!]!) < 1e-12);
    }
  }
});

test('congruence spectrum equals the spectrum of the product', () => {
  // For diagonal A and B the non-zero eigenvalues of A B are the products of the diagonals.
  const a = Float64Array.from([4, 0, 0, 0, 0, 0, 0, 0, 9]);
  const b = Float64Array.from([2, 0, 0, 0, 5, 0, 0, 0, 3]);
  const cholesky = pivotedCholesky(a, 3);
  assert.is(cholesky.rank, 2);
  const values = symmetricEigenvalues(congruence(cholesky, b), cholesky.rank);
  assert.equal(Array.from(values).map((v) => Math.round(v * 1e12) / 1e12), [8, 27]);
});

test('zero matrix has rank 0', () => {
  assert.is(pivotedCholesky(new Float64Array(9), 3).rank, 0);
});

test.run();
