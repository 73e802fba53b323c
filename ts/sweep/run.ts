// Runs the planned trials of one shard with K workers. Finished trials are skipped and
// failures retried. After a stop request no new trial starts and running ones are stopped.
import { access, appendFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { REPO_ROOT } from '../bridge/backend.ts';
import type { Experiment } from './experiment.ts';
import { TRIAL_DIR_VARIABLE, type PlannedStep, type PlannedTrial } from './plan.ts';
import { runTrialProcess, TrialError, USAGE_EXIT_CODE, type TrialRunner } from './runner.ts';
import { lockTrial, markDone, markFailed, readTrial, trialDir, unlockTrial, writeTrialConfig } from './trials.ts';
import type { Versions } from './versions.ts';

export interface SweepRunOptions {
  experiment: Experiment;
  trials: PlannedTrial[];
  out: string;
  workers: number;
  /** One device id per worker slot (CUDA_VISIBLE_DEVICES); empty leaves the variable alone. */
  gpus: string[];
  /** Extra attempts after a failure, within this run. */
  retries: number;
  versions: Versions;
  runner?: TrialRunner;
  /** Aborting stops running trials and starts no new ones. */
  signal: AbortSignal;
  onEvent?: (event: SweepEvent) => void;
}

export type SweepEvent =
  | { type: 'start'; trial: PlannedTrial; attempt: number; worker: number }
  | { type: 'done'; trial: PlannedTrial; durationS: number }
  | { type: 'failed'; trial: PlannedTrial; error: string; willRetry: boolean }
  | { type: 'skipped'; trial: PlannedTrial; reason: string };

export interface SweepRunSummary {
  done: number;
  failed: number;
  alreadyDone: number;
  /** Trials skipped because another sweep process held them. */
  busy: number;
  /** Trials not finished because the sweep was stopped. */
  notRun: number;
  stopped: boolean;
}

export async function missingInputs(inputs: string[]): Promise<string[]> {
  const missing: string[] = [];
  for (const input of inputs) {
    await access(path.resolve(REPO_ROOT, input)).catch(() => missing.push(input));
  }
  return missing;
}

/** Replaces `${trial_dir}` with the trial's folder. */
export function expandTrialDir(text: string, dir: string): string {
  return text.split(`\${${TRIAL_DIR_VARIABLE}}`).join(dir);
}

/** Runs the steps of one attempt in order; returns the metrics document. */
async function runSteps(options: SweepRunOptions, trial: PlannedTrial, steps: PlannedStep[], env: Record<string, string>, logFile: string, attempt: number): Promise<unknown> {
  const outputs: Record<string, unknown> = {};
  for (const step of steps) {
    if (options.signal.aborted) throw new Error('stopped by the sweep');
    const label = trial.multiStep ? `, step ${step.name}` : '';
    await appendFile(logFile, `=== attempt ${attempt}${label} (${new Date().toISOString()}): ${step.argv.join(' ')}\n`);
    try {
      outputs[step.name] = await (options.runner ?? runTrialProcess)({ argv: step.argv, env, cwd: REPO_ROOT, logFile, timeoutS: trial.timeoutS, signal: options.signal });
    } catch (error) {
      if (!trial.multiStep) throw error;
      throw new Error(`step ${step.name}: ${(error as Error).message}`, { cause: error });
    }
  }
  return trial.multiStep ? outputs : outputs[steps[0]!.name];
}

/**
 * Runs one trial under its lock. Returns 'done' or 'failed', 'stopped' after a stop request,
 * or 'busy' when another sweep process holds the trial.
 */
async function runLocked(options: SweepRunOptions, trial: PlannedTrial, worker: number): Promise<'done' | 'failed' | 'stopped' | 'busy'> {
  const dir = trialDir(options.out, trial.id);
  const holder = await lockTrial(dir);
  if (holder) {
    options.onEvent?.({ type: 'skipped', trial, reason: `running in another sweep process (${holder}); delete ${path.join(dir, 'running')} if that process is gone` });
    return 'busy';
  }
  try {
    // Another process may have finished the trial between the queue scan and the lock.
    if ((await readTrial(options.out, trial.id)).status === 'done') return 'done';
    if (await runOne(options, trial, worker)) return 'done';
    return options.signal.aborted ? 'stopped' : 'failed';
  } finally {
    await unlockTrial(dir);
  }
}

/** Returns true for a failure that a retry cannot fix: a program that exited with a usage error. */
function isUsageFailure(error: unknown): boolean {
  for (let current = error; current instanceof Error; current = current.cause) {
    if (current instanceof TrialError && current.exitCode === USAGE_EXIT_CODE) return true;
  }
  return false;
}

/** Runs one trial with its attempts; returns true when it finished. */
async function runOne(options: SweepRunOptions, trial: PlannedTrial, worker: number): Promise<boolean> {
  const dir = trialDir(options.out, trial.id);
  const steps = trial.steps.map((step) => ({ ...step, argv: step.argv.map((arg) => expandTrialDir(arg, dir)) }));
  await writeTrialConfig(dir, {
    id: trial.id,
    index: trial.index,
    experiment: options.experiment.name,
    params: trial.params,
    seed: trial.seed,
    steps,
    env: trial.env,
    inputs: trial.inputs,
    versions: options.versions,
  });
  const logFile = path.join(dir, 'log.txt');
  await writeFile(logFile, '');
  const env: Record<string, string> = { ...(process.env as Record<string, string>), ...trial.env, GPSTOKEN_TRIAL_DIR: dir };
  if (options.gpus.length > 0) env.CUDA_VISIBLE_DEVICES = options.gpus[worker % options.gpus.length]!;

  const missing = await missingInputs(trial.inputs);
  const maxAttempts = missing.length > 0 ? 1 : 1 + options.retries;
  for (let attempt = 1; attempt <= maxAttempts; attempt += 1) {
    if (options.signal.aborted) return false;
    const started = new Date();
    options.onEvent?.({ type: 'start', trial, attempt, worker });
    try {
      if (missing.length > 0) throw new Error(`missing input files: ${missing.join(', ')}`);
      const metrics = await runSteps(options, trial, steps, env, logFile, attempt);
      const finished = new Date();
      const durationS = (finished.getTime() - started.getTime()) / 1000;
      await markDone(dir, metrics, { startedAt: started.toISOString(), finishedAt: finished.toISOString(), durationS, attempts: attempt });
      options.onEvent?.({ type: 'done', trial, durationS });
      return true;
    } catch (error) {
      const message = (error as Error).message;
      await appendFile(logFile, `=== attempt ${attempt} failed: ${message}\n`);
      // A trial stopped by Ctrl-C stays unmarked (interrupted) and runs again next time.
      if (options.signal.aborted) return false;
      const finished = new Date();
      await markFailed(dir, { startedAt: started.toISOString(), finishedAt: finished.toISOString(), durationS: (finished.getTime() - started.getTime()) / 1000, attempts: attempt, error: message });
      // Exit code 2 means bad arguments or input files: the same command fails the same way.
      const willRetry = attempt < maxAttempts && !isUsageFailure(error);
      options.onEvent?.({ type: 'failed', trial, error: message, willRetry });
      if (!willRetry) return false;
    }
  }
  return false;
}

/** Runs the given trials; finished ones (a `done` marker) are skipped. */
export async function runSweep(options: SweepRunOptions): Promise<SweepRunSummary> {
  const summary: SweepRunSummary = { done: 0, failed: 0, alreadyDone: 0, busy: 0, notRun: 0, stopped: false };
  const queue: PlannedTrial[] = [];
  for (const trial of options.trials) {
    if ((await readTrial(options.out, trial.id)).status === 'done') {
      summary.alreadyDone += 1;
      options.onEvent?.({ type: 'skipped', trial, reason: 'already done' });
    } else queue.push(trial);
  }

  let next = 0;
  const worker = async (slot: number) => {
    while (!options.signal.aborted && next < queue.length) {
      const trial = queue[next]!;
      next += 1;
      const outcome = await runLocked(options, trial, slot);
      if (outcome === 'done') summary.done += 1;
      else if (outcome === 'failed') summary.failed += 1;
      else if (outcome === 'busy') summary.busy += 1;
      else summary.notRun += 1;
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(options.workers, queue.length)) }, (_, slot) => worker(slot)));
  summary.notRun += queue.length - next;
  summary.stopped = options.signal.aborted;
  return summary;
}
