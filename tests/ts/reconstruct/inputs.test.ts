// Input listing, output names and --focus parsing of `gpstoken reconstruct`.
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { UsageError } from '../../../ts/cli/errors.ts';
import { focusBiasFor, parseFocusOptions } from '../../../ts/reconstruct/focus.ts';
import { listInputs } from '../../../ts/reconstruct/inputs.ts';
import { outputPaths } from '../../../ts/reconstruct/run.ts';

let work = '';

test.before(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'gpstoken-inputs-'));
  await mkdir(path.join(work, 'imgs'));
  for (const name of ['b.JPG', 'a.png', 'notes.txt', 'c.webp']) await writeFile(path.join(work, 'imgs', name), 'x');
});

test.after(async () => {
  await rm(work, { recursive: true, force: true });
});

test('a folder lists its images sorted, with .png output names', async () => {
  const inputs = await listInputs(path.join(work, 'imgs'));
  assert.equal(
    inputs.map((input) => [path.basename(input.file), input.name]),
    [['a.png', 'a.png'], ['b.JPG', 'b.png'], ['c.webp', 'c.png']],
  );
});

test('a list file resolves relative paths and skips blanks and comments', async () => {
  const list = path.join(work, 'list.txt');
  await writeFile(list, '# photos\nimgs/a.png\n\n  imgs/c.webp  \n/abs/x.jpg\n');
  const inputs = await listInputs(list);
  assert.equal(inputs.map((input) => input.file), [path.join(work, 'imgs', 'a.png'), path.join(work, 'imgs', 'c.webp'), '/abs/x.jpg']);
});

test('two inputs with one output name are refused', async () => {
  const list = path.join(work, 'dupes.txt');
  await writeFile(list, 'imgs/a.png\nother/a.jpg\n');
  try {
    await listInputs(list);
    assert.unreachable('should throw');
  } catch (error) {
    assert.instance(error, UsageError);
    assert.is(
      (error as Error).message,
      `--data ${list}: ${path.join(work, 'imgs', 'a.png')} and ${path.join(work, 'other', 'a.jpg')} would both be written as a.png; rename one`,
    );
  }
});

test('output paths follow the published layout', () => {
  assert.equal(outputPaths('/o', { file: '/d/x.jpg', name: 'x.png' }, true), {
    recon: '/o/imgs/x.png',
    gt: '/o/gt/x.png',
    tokens: '/o/tokens/x.safetensors',
  });
  assert.is(outputPaths('/o', { file: '/d/x.jpg', name: 'x.png' }, false).tokens, null);
});

const FOCUS_CASES: [string[], number[] | string][] = [
  [['10,20,30,40:5'], [10, 20, 30, 40, 5]],
  [['0,0,4,3:2.5'], [0, 0, 4, 3, 2.5]],
  [['10,20,10,40'], 'x0 (10) must be less than x1 (10)'],
  [['1,2,3'], 'expected x0,y0,x1,y1 or x0,y0,x1,y1:value'],
  [['1.5,2,3,4'], 'expected x0,y0,x1,y1 or x0,y0,x1,y1:value'],
];

for (const [raws, expected] of FOCUS_CASES) {
  test(`--focus ${raws.join(' ')}`, () => {
    if (typeof expected === 'string') {
      assert.throws(
        () => parseFocusOptions(raws),
        (error: Error) => error instanceof UsageError && error.message.includes(expected),
      );
    } else {
      const [x0, y0, x1, y1, value] = expected;
      assert.equal(parseFocusOptions(raws).boxes[0]!.box, { x0, y0, x1, y1, value });
    }
  });
}

test('focus bias adds the value inside the half-open box', async () => {
  const image = { width: 4, height: 3, data: new Uint8Array(36) };
  const bias = await focusBiasFor(image, parseFocusOptions(['1,0,3,2:7']), 2.5);
  assert.equal(Array.from(bias!), [0, 7, 7, 0, 0, 7, 7, 0, 0, 0, 0, 0]);
});

test('focus box outside the image is a usage error', async () => {
  const image = { width: 4, height: 3, data: new Uint8Array(36) };
  try {
    await focusBiasFor(image, parseFocusOptions(['0,0,5,1:1']), 2.5);
    assert.unreachable('the box leaves the image');
  } catch (error) {
    assert.instance(error, UsageError);
    assert.match((error as Error).message, /is outside the 4x3 image/);
  }
});

test('no focus gives no bias', async () => {
  const image = { width: 4, height: 3, data: new Uint8Array(36) };
  assert.is(await focusBiasFor(image, parseFocusOptions([]), 2.5), undefined);
});

test.run();
