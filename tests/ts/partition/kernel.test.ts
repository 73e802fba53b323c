// The two complexity kernels (WebAssembly SIMD and the asm.js fallback) must give the same
// entropy bits on every region. The golden tests check both against the reference.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { REPO_ROOT } from '../../../ts/bridge/backend.ts';
import { decodeImageFile } from '../../../ts/image/decode.ts';
import {
  ComplexityScorer,
  defaultComplexityKernel,
  greyForComplexity,
  KERNEL_ENV,
  pairwiseSum,
  wasmKernelFailure,
  type ComplexityKernel,
} from '../../../ts/partition/complexity.ts';

const EMBEDDED = path.join(REPO_ROOT, 'data', 'embedded');
const KERNELS: ComplexityKernel[] = ['wasm', 'asmjs'];

/** Deterministic uniform numbers in [0, 1), so a failure names a reproducible region. */
function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

function withKernelEnv<T>(value: string | undefined, body: () => T): T {
  const saved = process.env[KERNEL_ENV];
  if (value === undefined) delete process.env[KERNEL_ENV];
  else process.env[KERNEL_ENV] = value;
  try {
    return body();
  } finally {
    if (saved === undefined) delete process.env[KERNEL_ENV];
    else process.env[KERNEL_ENV] = saved;
  }
}

/** Entropy in bits of a histogram with the given non-empty bins, as the reference computes it. */
function referenceEntropy(bins: Map<number, number>): number {
  const total = [...bins.values()].reduce((sum, count) => sum + count, 0);
  const terms = new Float64Array(512);
  for (const [bin, count] of bins) {
    const p = count / (total + 1e-5);
    terms[bin] = p * Math.log2(p + 1e-10);
  }
  return -(0 + pairwiseSum(terms, 0, 512));
}

test('the WebAssembly kernel loads and is the default', () => {
  assert.is(wasmKernelFailure(), undefined);
  assert.is(withKernelEnv(undefined, defaultComplexityKernel), 'wasm');
  assert.is(new ComplexityScorer(new Float32Array(16), 4).kernel, withKernelEnv(undefined, defaultComplexityKernel));
});

test(`${KERNEL_ENV} forces a kernel and rejects unknown names`, () => {
  assert.is(withKernelEnv('asmjs', defaultComplexityKernel), 'asmjs');
  assert.is(withKernelEnv('wasm', defaultComplexityKernel), 'wasm');
  assert.is(withKernelEnv('', defaultComplexityKernel), 'wasm');
  assert.throws(
    () => withKernelEnv('simd', defaultComplexityKernel),
    (error: Error) => error instanceof RangeError && error.message === `${KERNEL_ENV} must be "wasm" or "asmjs", got "simd"; unset it to pick automatically`,
  );
});

test('kernels agree on 2000 random regions', async () => {
  const files = readdirSync(EMBEDDED).filter((name) => name.endsWith('.jpg')).sort();
  assert.is(files.length, 48);
  const random = lcg(20251204);
  const mismatches: string[] = [];
  let scored = 0;
  for (const file of files) {
    const img = await decodeImageFile(path.join(EMBEDDED, file));
    const grey = greyForComplexity(img);
    // One scorer per kernel and photo, used for many sizes: the cached tables must follow.
    const scorers = KERNELS.map((kernel) => new ComplexityScorer(grey, img.width, kernel));
    for (let i = 0; i < 2000 / files.length + 1 && scored < 2000; i += 1, scored += 1) {
      // Half the regions have power-of-two sides, as the partition makes; half any size.
      const side = (limit: number): number => (random() < 0.5 ? 2 ** Math.floor(random() * 9) : 1 + Math.floor(random() * limit));
      const w = Math.min(side(img.width), img.width);
      const h = Math.min(side(img.height), img.height);
      const x0 = Math.floor(random() * (img.width - w + 1));
      const y0 = Math.floor(random() * (img.height - h + 1));
      const [wasm, asmjs] = scorers.map((scorer) => scorer.entropyOf(x0, y0, x0 + w - 1, y0 + h - 1));
      if (!Object.is(wasm, asmjs)) mismatches.push(`${file} box (${x0}, ${y0}) ${w}x${h}: wasm ${wasm}, asm.js ${asmjs}`);
    }
  }
  assert.is(scored, 2000);
  assert.equal(mismatches.slice(0, 5), []);
});

test('scorers sharing the WebAssembly kernel keep their own grey maps', () => {
  const random = lcg(7);
  const maps = [0, 1].map(() => Float32Array.from({ length: 96 * 80 }, () => Math.fround(random())));
  const alone = maps.map((grey) => new ComplexityScorer(grey, 96, 'asmjs').entropyOf(3, 5, 70, 60));
  const shared = maps.map((grey) => new ComplexityScorer(grey, 96, 'wasm'));
  // Alternate so that every call finds the other scorer's map in the kernel.
  for (let round = 0; round < 3; round += 1) {
    assert.equal(
      shared.map((scorer) => scorer.entropyOf(3, 5, 70, 60)),
      alone,
    );
  }
  assert.is.not(alone[0], alone[1]);
});

// Sobel magnitudes of values in [0, 1] stay below sqrt(20) < 5.5, so these grey maps leave [0, 1]
// on purpose: a step of 1.375 between columns gives |gx| = 4 * 1.375 = 5.5, the top edge.
function stepMap(step: number): Float32Array {
  const grey = new Float32Array(64 * 64);
  for (let y = 0; y < 64; y += 1) grey.fill(step, y * 64 + 32, y * 64 + 64);
  return grey;
}

const topEdgeCases: { name: string; step: number; bins: Map<number, number> }[] = [
  // Columns 31 and 32 have magnitude exactly 5.5: numpy puts the top edge into the last bin.
  { name: 'a magnitude of exactly 5.5 counts in the last bin', step: 1.375, bins: new Map([[256, 64 * 62], [511, 128]]) },
  // Just above 5.5 the magnitudes fall outside the range and the total drops to 3968.
  { name: 'magnitudes above 5.5 are dropped from the total', step: Math.fround(1.375 + 2 ** -20), bins: new Map([[256, 64 * 62]]) },
  // Step 1: magnitude 4, bin floor(9.5 * 512 / 11) = 442.
  { name: 'an in-range step lands in its bin', step: 1, bins: new Map([[256, 64 * 62], [442, 128]]) },
];

for (const { name, step, bins } of topEdgeCases) {
  test(`both kernels: ${name}`, () => {
    const expected = referenceEntropy(bins);
    for (const kernel of KERNELS) {
      assert.is(new ComplexityScorer(stepMap(step), 64, kernel).entropyOf(0, 0, 63, 63), expected, kernel);
    }
  });
}

test('both kernels agree on grey maps outside [0, 1] at any size', () => {
  const random = lcg(99);
  const grey = Float32Array.from({ length: 300 * 200 }, () => Math.fround(random() * 7 - 3));
  const scorers = KERNELS.map((kernel) => new ComplexityScorer(grey, 300, kernel));
  const boxes = [
    [0, 0, 299, 199],
    [10, 20, 73, 83],
    [5, 5, 6, 6],
    [100, 0, 299, 150],
    [250, 190, 299, 199],
  ] as const;
  for (const [x0, y0, x1, y1] of boxes) {
    const [wasm, asmjs] = scorers.map((scorer) => scorer.entropyOf(x0, y0, x1, y1));
    assert.is(wasm, asmjs, `box ${x0},${y0},${x1},${y1}`);
  }
});

test.run();
