// Parity with the published partition: every golden case must give the same float32 gpscodes
// and regions in the same order.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { REPO_ROOT } from '../../../ts/bridge/backend.ts';
import { decodeImageFile } from '../../../ts/image/decode.ts';
import { KERNEL_ENV } from '../../../ts/partition/complexity.ts';
import { partitionImage } from '../../../ts/partition/partition.ts';

const GOLDEN = path.join(REPO_ROOT, '..', 'shared', 'golden', 'partition');

interface GoldenCase {
  image: string;
  tokens: number;
  weight: number;
  minhw: number;
  bias: null | { box: [number, number, number, number]; value: number };
  gpscodes: number[][];
  regions: number[][];
}

const cases = (JSON.parse(readFileSync(path.join(GOLDEN, 'cases.json'), 'utf8')) as { cases: GoldenCase[] }).cases;

function boxBias(width: number, height: number, bias: NonNullable<GoldenCase['bias']>): Float32Array {
  const map = new Float32Array(width * height);
  const [x0, y0, x1, y1] = bias.box;
  for (let y = y0; y < y1; y += 1) map.fill(bias.value, y * width + x0, y * width + x1);
  return map;
}

/** Index of the first differing value (bit-exact, so -0 and 0 differ), or -1. */
function firstMismatch(actual: Float32Array, expected: Float32Array): number {
  if (actual.length !== expected.length) return Math.min(actual.length, expected.length);
  for (let i = 0; i < actual.length; i += 1) if (!Object.is(actual[i], expected[i])) return i;
  return -1;
}

test('golden set has the documented 66 cases', () => {
  assert.is(cases.length, 66);
  assert.is(cases.filter((c) => c.bias !== null).length, 11);
});

const failures: string[] = [];
test('every golden case matches as float32', async () => {
  for (const c of cases) {
    const img = await decodeImageFile(path.join(GOLDEN, 'images', c.image));
    const bias = c.bias ? boxBias(img.width, img.height, c.bias) : undefined;
    const result = partitionImage(img, { tokens: c.tokens, weight: c.weight, minhw: c.minhw, ...(bias ? { bias } : {}) });
    const gps = firstMismatch(result.gpscodes, new Float32Array(c.gpscodes.flat()));
    const reg = firstMismatch(result.regions, new Float32Array(c.regions.flat()));
    if (gps >= 0 || reg >= 0) {
      failures.push(`${c.image} tokens=${c.tokens} weight=${c.weight} minhw=${c.minhw} bias=${c.bias ? 'box' : 'none'}: first gpscodes mismatch at row ${Math.floor(gps / 5)}, regions at row ${Math.floor(reg / 4)}`);
    }
  }
  assert.equal(failures, [], `${cases.length - failures.length}/${cases.length} cases pass`);
});

// The asm.js kernel is the fallback where WebAssembly SIMD cannot load: it must match as well.
test('every golden case matches with the asm.js kernel', async () => {
  const saved = process.env[KERNEL_ENV];
  process.env[KERNEL_ENV] = 'asmjs';
  const asmFailures: string[] = [];
  try {
    for (const c of cases) {
      const img = await decodeImageFile(path.join(GOLDEN, 'images', c.image));
      const bias = c.bias ? boxBias(img.width, img.height, c.bias) : undefined;
      const result = partitionImage(img, { tokens: c.tokens, weight: c.weight, minhw: c.minhw, ...(bias ? { bias } : {}) });
      const gps = firstMismatch(result.gpscodes, new Float32Array(c.gpscodes.flat()));
      const reg = firstMismatch(result.regions, new Float32Array(c.regions.flat()));
      if (gps >= 0 || reg >= 0) asmFailures.push(`${c.image} tokens=${c.tokens} weight=${c.weight} minhw=${c.minhw}: gpscodes row ${Math.floor(gps / 5)}, regions row ${Math.floor(reg / 4)}`);
    }
  } finally {
    if (saved === undefined) delete process.env[KERNEL_ENV];
    else process.env[KERNEL_ENV] = saved;
  }
  assert.equal(asmFailures, [], `${cases.length - asmFailures.length}/${cases.length} cases pass`);
});

test.run();
