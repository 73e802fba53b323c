// Input listing, output names and --focus parsing of `gpstoken reconstruct`.
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { UsageError } from '../../../ts/cli/errors.ts';
import { focusBias, parseFocus } from '../../../ts/reconstruct/focus.ts';
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

const FOCUS_CASES: [string, { box: number[]; value: number } | string][] = [
  ['10,20,30,40', { box: [10, 20, 30, 40], value: 100 }],
  ['0,0,256,256,5.5', { box: [0, 0, 256, 256], value: 5.5 }],
  ['10,20,10,40', 'x0 < x1'],
  ['1,2,3', 'expected x0,y0,x1,y1[,value]'],
  ['1.5,2,3,4', 'integer pixel bounds'],
];

for (const [raw, expected] of FOCUS_CASES) {
  test(`--focus ${raw}`, () => {
    if (typeof expected === 'string') {
      assert.throws(() => parseFocus(raw), (error: Error) => error instanceof UsageError && error.message.includes(expected));
    } else {
      assert.equal(parseFocus(raw), expected);
    }
  });
}

test('the focus bias is the value inside the half-open box', () => {
  const bias = focusBias({ box: [1, 0, 3, 2], value: 7 }, 4, 3);
  assert.equal(Array.from(bias), [0, 7, 7, 0, 0, 7, 7, 0, 0, 0, 0, 0]);
  assert.throws(() => focusBias({ box: [0, 0, 5, 1], value: 1 }, 4, 3), /leaves the 4x3 preprocessed image/);
});

test.run();
