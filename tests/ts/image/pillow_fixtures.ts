// Helpers that run the Pillow fixture scripts of these tests with Debian's Python 3 + Pillow 9.4.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { REPO_ROOT } from '../../../ts/bridge/backend.ts';
import type { RgbImage } from '../../../ts/image/types.ts';

/** The interpreter whose Pillow is the reference; GPSTOKEN_PYTHON overrides it. */
export const PILLOW_PYTHON = process.env.GPSTOKEN_PYTHON ?? '/usr/bin/python3';

export const FIXTURE_SCRIPTS = path.join(REPO_ROOT, 'tests', 'ts', 'image', 'fixtures');
export const SHARED_DIR = path.join(REPO_ROOT, '..', 'shared');

/** Runs fixtures/<script> with the arguments; fails the test after 90 s. */
export async function runFixtureScript(script: string, args: string[]): Promise<void> {
  await execa(PILLOW_PYTHON, [path.join(FIXTURE_SCRIPTS, script), ...args], { timeout: 90_000, env: { OMP_NUM_THREADS: '1' } });
}

export function makeTempDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export function readRgb(file: string, width: number, height: number): RgbImage {
  const bytes = readFileSync(file);
  return { width, height, data: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) };
}

/** Returns the count of differing samples and the largest absolute difference. */
export function compareSamples(actual: Uint8Array, expected: Uint8Array): { differing: number; maxDifference: number } {
  let differing = 0;
  let maxDifference = 0;
  for (let i = 0; i < expected.length; i++) {
    const difference = Math.abs(actual[i]! - expected[i]!);
    if (difference !== 0) differing++;
    if (difference > maxDifference) maxDifference = difference;
  }
  return { differing, maxDifference };
}
