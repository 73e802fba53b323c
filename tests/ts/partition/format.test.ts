import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { formatFloat32, partitionJson } from '../../../ts/partition/format.ts';

test('formatFloat32 prints the shortest round-trip text', () => {
  // Expected digits are numpy 1.24's shortest float32 repr.
  const table: Array<[number, string]> = [
    [0.0807291641831398, '0.080729164'],
    [0.6274510025978088, '0.627451'],
    [-0.003921568859368563, '-0.003921569'],
    [0, '0'],
    [-0, '-0'],
    [1, '1'],
    [-1, '-1'],
    [0.1, '0.1'],
    [1e-7, '1e-7'],
    [3.4028234663852886e38, '3.4028235e+38'],
    [Math.fround(1 / 3), '0.33333334'],
    [-14188182870425600, '-14188183000000000'],
  ];
  for (const [value, text] of table) assert.is(formatFloat32(value), text, `${value}`);
});

test('formatFloat32 round-trips and cannot be shorter', () => {
  let state = 12345;
  const bits = new Uint32Array(1);
  const view = new Float32Array(bits.buffer);
  for (let i = 0; i < 20000; i += 1) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    bits[0] = state;
    const value = view[0]!;
    if (!Number.isFinite(value)) continue;
    const text = formatFloat32(value);
    assert.ok(Object.is(Math.fround(Number(text)), value), `${value} -> ${text} round-trips`);
    const mantissa = text.replace(/^-/, '').replace(/e.*$/, '');
    const significant = mantissa.includes('.') ? mantissa.replace('.', '').replace(/^0+/, '') : mantissa.replace(/0+$/, '');
    const digits = significant.length;
    if (digits > 1) {
      const shorter = value.toPrecision(digits - 1);
      assert.is.not(Math.fround(Number(shorter)), value, `${value}: ${shorter} would also round-trip`);
    }
  }
});

test('formatFloat32 rejects non-finite values', () => {
  assert.throws(() => formatFloat32(Number.NaN), /cannot format NaN as a JSON number/);
});

test('partitionJson has the documented shape', () => {
  const layout = { gpscodes: new Float32Array([0.5, 0.25, 0, -0.5, 0.1]), regions: new Float32Array([-1, -1, 0, 0.2]) };
  const text = partitionJson([{ image: 'a "b".png', layout }]);
  assert.equal(JSON.parse(text), {
    images: [{ image: 'a "b".png', tokens: 1, gpscodes: [[0.5, 0.25, 0, -0.5, 0.1]], regions: [[-1, -1, 0, 0.2]] }],
  });
  assert.ok(text.includes('[0.5, 0.25, 0, -0.5, 0.1]'));
  assert.not.ok(text.includes('errors'));
  const withErrors = JSON.parse(partitionJson([], [{ image: 'x.png', error: 'bad' }]));
  assert.equal(withErrors, { images: [], errors: [{ image: 'x.png', error: 'bad' }] });
});

test.run();
