// One folder per trial, `<out>/trials/<id>/`:
//   config.json   parameters, step commands, inputs and versions (written before the start)
//   log.txt       stderr and stdout of every attempt of the latest run
//   metrics.json  the JSON document the trial printed on stdout
//   done          marker written last (temporary file + rename): the trial is finished
//   failed        marker of the last failed run, removed when a later run succeeds
//   running       lock of the sweep process running the trial (pid and host)
// A folder with config.json but no marker was interrupted and runs again.
import { mkdir, open, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
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

interface TrialLock {
  pid: number;
  host: string;
  startedAt: string;
}

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM means the process exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes the trial's `running` lock, so two sweep processes sharing an output folder never
 * run one trial twice. A lock left by a dead process on this host is taken over. Returns
 * undefined on success, else a description of the holder.
 */
export async function lockTrial(dir: string): Promise<string | undefined> {
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, 'running');
  const lock: TrialLock = { pid: process.pid, host: os.hostname(), startedAt: new Date().toISOString() };
  for (let attempt = 0; attempt < 2; attempt += 1) {
    try {
      const handle = await open(file, 'wx');
      await handle.writeFile(JSON.stringify(lock));
      await handle.close();
      return undefined;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = await readJson<TrialLock>(file);
      const stale = holder === undefined || (holder.host === lock.host && !processIsAlive(holder.pid));
      if (!stale) return `pid ${holder.pid} on ${holder.host} since ${holder.startedAt}`;
      await rm(file, { force: true });
    }
  }
  return 'another process took the lock at the same moment';
}

export async function unlockTrial(dir: string): Promise<void> {
  await rm(path.join(dir, 'running'), { force: true });
}
