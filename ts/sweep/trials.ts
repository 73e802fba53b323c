// One folder per trial, `<out>/trials/<id>/`:
//   config.json   parameters, step commands, inputs and versions (written before the start)
//   log.txt       stderr and stdout of every attempt of the latest run
//   metrics.json  the JSON document the trial printed on stdout
//   done          marker written last (temporary file + rename): the trial is finished
//   failed        marker of the last failed run, removed when a later run succeeds
// A folder with config.json but no marker was interrupted and runs again.
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../data/fetch.ts';
import type { Scalar } from './experiment.ts';
import type { PlannedTrial } from './plan.ts';
import type { Versions } from './versions.ts';

export type TrialStatus = 'done' | 'failed' | 'interrupted' | 'pending';

export interface TrialConfig {
  id: string;
  index: number;
  experiment: string;
  params: Record<string, Scalar>;
  seed: number | null;
  /** Steps with `${trial_dir}` expanded, as run. */
  steps: PlannedTrial['steps'];
  env: Record<string, string>;
  inputs: string[];
  versions: Versions;
}

export interface TrialOutcome {
  startedAt: string;
  finishedAt: string;
  durationS: number;
  /** Attempts used in the run that wrote this marker. */
  attempts: number;
  error?: string;
}

export interface TrialRecord {
  id: string;
  status: TrialStatus;
  config: TrialConfig | undefined;
  metrics: unknown;
  outcome: TrialOutcome | undefined;
}

export function trialsRoot(out: string): string {
  return path.join(out, 'trials');
}

export function trialDir(out: string, id: string): string {
  return path.join(trialsRoot(out), id);
}

export async function writeTrialConfig(dir: string, config: TrialConfig): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFileAtomic(path.join(dir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
}

export async function markDone(dir: string, metrics: unknown, outcome: TrialOutcome): Promise<void> {
  await writeFileAtomic(path.join(dir, 'metrics.json'), `${JSON.stringify(metrics, null, 2)}\n`);
  await rm(path.join(dir, 'failed'), { force: true });
  await writeFileAtomic(path.join(dir, 'done'), `${JSON.stringify(outcome)}\n`);
}

export async function markFailed(dir: string, outcome: TrialOutcome): Promise<void> {
  await writeFileAtomic(path.join(dir, 'failed'), `${JSON.stringify(outcome)}\n`);
}

async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** Reads a trial folder; a missing folder is `pending`. */
export async function readTrial(out: string, id: string): Promise<TrialRecord> {
  const dir = trialDir(out, id);
  const config = await readJson<TrialConfig>(path.join(dir, 'config.json'));
  const done = await readJson<TrialOutcome>(path.join(dir, 'done'));
  if (done) return { id, status: 'done', config, metrics: await readJson(path.join(dir, 'metrics.json')), outcome: done };
  const failed = await readJson<TrialOutcome>(path.join(dir, 'failed'));
  if (failed) return { id, status: 'failed', config, metrics: undefined, outcome: failed };
  return { id, status: config ? 'interrupted' : 'pending', config, metrics: undefined, outcome: undefined };
}

/** Ids of every trial folder under `<out>/trials`, sorted. */
export async function listTrialIds(out: string): Promise<string[]> {
  const names = await readdir(trialsRoot(out)).catch(() => [] as string[]);
  return names.filter((name) => /^[0-9a-f]{16}$/.test(name)).sort();
}
