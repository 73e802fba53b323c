// Shared setup of the sweep tests: a fake experiment over the fake trial script, and a way
// to run the real `gpstoken` CLI as a child process.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { REPO_ROOT } from '../../../ts/bridge/backend.ts';

export const FAKE_TRIAL = path.join(REPO_ROOT, 'tests', 'ts', 'sweep', 'fixtures', 'fake-trial.mjs');

/** Pinned versions keep trial ids stable while other commits land, and skip the torch probe. */
export const PINNED_ENV = { GPSTOKEN_CODE_VERSION: 'abc1234', GPSTOKEN_BACKEND_VERSION: 'python 3.11.2 torch 1.13.1' };

/** 3 x values x 2 modes x 2 seeds = 12 trials. */
export function fakeExperimentYaml(options: { sleepMs?: number; extraTrial?: string; extraTop?: string } = {}): string {
  return `name: fake-sweep
description: fake trials for tests
vars:
  sleep: ${options.sleepMs ?? 200}
  data: missing-folder
trial:
  exec: [node, ${JSON.stringify(FAKE_TRIAL)}]
  options:
    sleep-ms: \${sleep}
${options.extraTrial ?? ''}grid:
  options.x: [1, 2, 3]
  mode:
    a: {options.mode: a}
    b: {options.mode: b}
seeds: [0, 1]
metrics:
  psnr: psnr
  ssim: quality.ssim
reference:
  source: made-up numbers
  rows:
    - where: {mode: a}
      values: {psnr: 3}
plots:
  - {x: x, y: psnr, group: [mode]}
${options.extraTop ?? ''}`;
}

export async function writeExperiment(dir: string, text: string, name = 'fake.yaml'): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, text);
  return file;
}

/** Starts `gpstoken ARGS` with the pinned versions; never rejects (check exitCode). */
export function runCli(args: string[], env: Record<string, string> = {}): ResultPromise<{ reject: false; env: Record<string, string>; cwd: string }> {
  return execa(process.execPath, [path.join(REPO_ROOT, 'bin', 'gpstoken.js'), ...args], {
    reject: false,
    env: { ...PINNED_ENV, ...env },
    cwd: REPO_ROOT,
  });
}
