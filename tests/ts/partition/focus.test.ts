import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { RgbImage } from '../../../ts/image/types.ts';
import { ComplexityScorer, greyForComplexity } from '../../../ts/partition/complexity.ts';
import { DEFAULT_FOCUS_GAIN, FocusSpecError, buildFocusBias, checkFocusBox, defaultFocusValue, parseFocusBox } from '../../../ts/partition/focus.ts';
import { partitionImage } from '../../../ts/partition/partition.ts';

function noiseImage(width: number, height: number, seed: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  let state = seed >>> 0;
  for (let i = 0; i < data.length; i += 1) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    data[i] = state >>> 24;
  }
  return { width, height, data };
}

const FORMAT = 'expected x0,y0,x1,y1 or x0,y0,x1,y1:value (integer pixels, half-open box, value a finite number)';

test('parseFocusBox reads boxes and values', () => {
  assert.equal(parseFocusBox('10,20,30,40'), { x0: 10, y0: 20, x1: 30, y1: 40 });
  assert.equal(parseFocusBox('0, 0, 5, 6:2.5'), { x0: 0, y0: 0, x1: 5, y1: 6, value: 2.5 });
  assert.equal(parseFocusBox('0,0,5,6:-1e3'), { x0: 0, y0: 0, x1: 5, y1: 6, value: -1000 });
});

test('parseFocusBox rejects bad specifications', () => {
  const table: Array<[string, string]> = [
    ['a,b,c,d', `invalid --focus "a,b,c,d": ${FORMAT}`],
    ['1,2,3', `invalid --focus "1,2,3": ${FORMAT}`],
    ['1.5,2,3,4', `invalid --focus "1.5,2,3,4": ${FORMAT}`],
    ['30,0,10,5', 'invalid --focus "30,0,10,5": x0 (30) must be less than x1 (10)'],
    ['0,5,10,5', 'invalid --focus "0,5,10,5": y0 (5) must be less than y1 (5)'],
    ['-4,0,10,5', 'invalid --focus "-4,0,10,5": box corners must not be negative'],
    ['0,0,10,10:abc', `invalid --focus "0,0,10,10:abc": value "abc" is not a finite number; ${FORMAT}`],
    ['0,0,10,10:', `invalid --focus "0,0,10,10:": value "" is not a finite number; ${FORMAT}`],
    ['0,0,10,10:1:2', `invalid --focus "0,0,10,10:1:2": ${FORMAT}`],
  ];
  for (const [raw, message] of table) {
    assert.throws(
      () => parseFocusBox(raw),
      (error: unknown) => error instanceof FocusSpecError && error.message === message,
      raw,
    );
  }
});

test('checkFocusBox rejects boxes outside the image', () => {
  checkFocusBox(parseFocusBox('0,0,256,256'), 256, 256, '0,0,256,256');
  assert.throws(
    () => checkFocusBox(parseFocusBox('200,0,300,10'), 256, 256, '200,0,300,10'),
    (error: unknown) =>
      error instanceof FocusSpecError &&
      error.message ===
        'invalid --focus "200,0,300,10": box [200, 300) x [0, 10) is outside the 256x256 image (coordinates are pixels of the image after --size preprocessing)',
  );
});

test('default focus value scales the whole-image density', () => {
  const img = noiseImage(64, 64, 3);
  const entropy = new ComplexityScorer(greyForComplexity(img), 64).entropyOf(0, 0, 63, 63);
  assert.is(defaultFocusValue(img, 2.5), DEFAULT_FOCUS_GAIN * Math.pow(entropy, 2.5));
  assert.is(defaultFocusValue(img, 1), DEFAULT_FOCUS_GAIN * entropy);
});

test('buildFocusBias adds boxes and the mask', () => {
  const img = noiseImage(4, 3, 5);
  assert.is(buildFocusBias(img, [], undefined), undefined);
  const bias = buildFocusBias(img, [parseFocusBox('1,0,3,2:2'), parseFocusBox('2,1,4,3:0.5')], undefined)!;
  assert.equal(Array.from(bias), [0, 2, 2, 0, 0, 2, 2.5, 0.5, 0, 0, 0.5, 0.5]);
  const fallback = defaultFocusValue(img);
  const mask = new Float32Array(12).fill(0.5);
  const masked = buildFocusBias(img, [parseFocusBox('0,0,1,1')], mask)!;
  assert.is(masked[0], Math.fround(Math.fround(0.5 * fallback) + fallback));
  assert.is(masked[1], Math.fround(0.5 * fallback));
});

test('focus box draws regions into it', () => {
  const img = noiseImage(256, 256, 9);
  const inside = (pixelRegions: Int32Array): number => {
    let count = 0;
    for (let i = 0; i < pixelRegions.length; i += 4) if (pixelRegions[i + 2]! < 64 && pixelRegions[i + 3]! < 64) count += 1;
    return count;
  };
  const plain = partitionImage(img, { tokens: 64 });
  const bias = buildFocusBias(img, [parseFocusBox('0,0,64,64')], undefined)!;
  const focused = partitionImage(img, { tokens: 64, bias });
  assert.is(inside(plain.pixelRegions), 4);
  assert.is(inside(focused.pixelRegions), 8);
});

test.run();
