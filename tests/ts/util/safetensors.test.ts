import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { REPO_ROOT } from '../../../ts/bridge/backend.ts';
import { encodeSafetensors, parseSafetensors, readSafetensors } from '../../../ts/util/safetensors.ts';

test('round trip keeps values and metadata', () => {
  const bytes = encodeSafetensors(
    { b: { dtype: 'F32', shape: [2, 2], data: new Float32Array([1, 2, 3, 4.5]) }, a: { dtype: 'I64', shape: [1], data: new BigInt64Array([7n]) } },
    { config: '{"x":1}' },
  );
  const { tensors, metadata } = parseSafetensors(bytes);
  assert.equal(Array.from(tensors.get('b')!.data as Float32Array), [1, 2, 3, 4.5]);
  assert.equal(tensors.get('a')!.data[0], 7n);
  assert.is(metadata.config, '{"x":1}');
});

test('golden splat file is readable', async () => {
  const { tensors } = await readSafetensors(path.join(REPO_ROOT, '..', 'shared', 'golden', 'model', 'splat_io.safetensors'));
  assert.equal(tensors.get('colors')!.shape, [48, 6]);
});

test('truncated data is rejected', () => {
  const bytes = encodeSafetensors({ x: { dtype: 'F32', shape: [4], data: new Float32Array(4) } });
  assert.throws(() => parseSafetensors(bytes.subarray(0, bytes.length - 4), 'x.safetensors'), /x.safetensors: tensor x is truncated/);
});

test.run();
