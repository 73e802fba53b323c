import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { REPO_ROOT } from '../../../ts/bridge/backend.ts';
import { vstack } from '../../../ts/demo/pictures.ts';
import { formatComparison } from '../../../ts/demo/run.ts';

test('vstack puts a white gap between images', () => {
  const red = { width: 1, height: 1, data: new Uint8Array([255, 0, 0]) };
  const blue = { width: 1, height: 2, data: new Uint8Array([0, 0, 255, 0, 0, 255]) };
  const stacked = vstack([red, blue], 1);
  assert.is(stacked.height, 4);
  assert.equal(Array.from(stacked.data), [255, 0, 0, 255, 255, 255, 0, 0, 255, 0, 0, 255]);
});

test('vstack rejects different widths', () => {
  const one = { width: 1, height: 1, data: new Uint8Array(3) };
  const two = { width: 2, height: 1, data: new Uint8Array(6) };
  assert.throws(() => vstack([one, two], 0), /widths differ \(2 and 1\)/);
});

test('comparison table aligns columns and marks skipped metrics', () => {
  const table = formatComparison([
    { variant: 'entropy partition', psnr: '20.10', ssim: '0.5000', swd: '50.00', lpips: '', rfid: '' },
    { variant: 'uniform grid', psnr: '19.00', ssim: '0.4000', swd: '60.00', lpips: '', rfid: '' },
  ]);
  const lines = table.split('\n');
  assert.is(lines.length, 3);
  assert.is(lines[0], '                   PSNR dB    SSIM  SWD x1e3  LPIPS  rFID');
  assert.is(lines[1], 'entropy partition    20.10  0.5000     50.00    n/a   n/a');
  assert.is(lines[2], 'uniform grid         19.00  0.4000     60.00    n/a   n/a');
});

test('demo with a missing checkpoint names the file and the fix', async () => {
  const results = await mkdtemp(path.join(os.tmpdir(), 'gpstoken-demo-'));
  const missing = path.join(results, 'missing.safetensors');
  // Only existence is checked before any work starts, so any existing file stands in for the entropy weights.
  const present = path.join(REPO_ROOT, 'package.json');
  const args = ['bin/gpstoken.js', 'demo', '--results', results, '--entropy-weights', present, '--grid-weights', missing];
  const run = await execa('node', args, { cwd: REPO_ROOT, reject: false });
  assert.is(run.exitCode, 2);
  assert.match(run.stderr, `--grid-weights ${missing}: file not found`);
  assert.match(run.stderr, 'make train-demo');
});

test.run();
