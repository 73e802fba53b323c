// Long backend jobs (training, large evaluations, sweeps) run as child processes of
// `python3 -m py_kernels.job MODULE:FUNCTION SPEC.json`, reporting one JSON event per line.
//
// The child starts detached in its own process group, so stopping it (Ctrl-C, an error)
// also stops its own children (distributed ranks, data loaders) and no stream hangs.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { execa } from 'execa';
import { InterruptedError } from '../cli/errors.ts';
import { REPO_ROOT, reviveNonFinite } from './backend.ts';
import { findPython } from './python.ts';

export interface JobEvent {
  event: string;
  [key: string]: unknown;
}

export class JobError extends Error {
  override name = 'JobError';
  constructor(
    readonly entry: string,
    message: string,
    readonly pythonType?: string,
    readonly traceback?: string,
  ) {
    super(message);
  }
}

export interface JobOptions {
  /** Called for every event line except the final `done`. */
  onEvent?: (event: JobEvent) => void;
  /** Extra environment variables (OMP_NUM_THREADS, RANK ...). */
  env?: Record<string, string>;
  /** Where the child's stderr goes: 'inherit' (default) or a file path. */
  stderr?: 'inherit' | 'ignore' | { file: string };
  signal?: AbortSignal;
}

function processGroupKill(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // The group already exited.
  }
}

/** Runs one backend job to completion and returns the `result` of its `done` event. */
export async function runJob<T>(entry: string, spec: unknown, options: JobOptions = {}): Promise<T> {
  const python = await findPython();
  const tempDir = await mkdtemp(path.join(os.tmpdir(), 'gpstoken-job-'));
  const specPath = path.join(tempDir, 'spec.json');
  await writeFile(specPath, JSON.stringify(spec));

  const stderr = options.stderr ?? 'inherit';
  const child = execa(python.executable, ['-m', 'py_kernels.job', entry, specPath], {
    cwd: REPO_ROOT,
    env: { PYTHONUNBUFFERED: '1', ...options.env },
    detached: true,
    reject: false,
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: typeof stderr === 'string' ? stderr : { file: stderr.file, append: true },
  });

  const stop = () => processGroupKill(child.pid, 'SIGTERM');
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  options.signal?.addEventListener('abort', stop, { once: true });
  if (options.signal?.aborted) stop();

  let done: JobEvent | undefined;
  let failure: JobEvent | undefined;
  let interrupted = false;
  const lines = readline.createInterface({ input: child.stdout! });
  for await (const line of lines) {
    if (!line.trim().startsWith('{')) continue;
    const event = JSON.parse(line, reviveNonFinite) as JobEvent;
    if (event.event === 'done') done = event;
    else if (event.event === 'error') failure = event;
    else if (event.event === 'interrupted') interrupted = true;
    else options.onEvent?.(event);
  }
  const result = await child;
  process.off('SIGINT', stop);
  process.off('SIGTERM', stop);
  options.signal?.removeEventListener('abort', stop);
  await rm(tempDir, { recursive: true, force: true });

  if (done) return done.result as T;
  // py_kernels.job turns SIGINT/SIGTERM into KeyboardInterrupt, reports `interrupted` and
  // exits 130; a child killed before it could do so ends with the signal itself.
  const stoppedBySignal = result.signal === 'SIGINT' || result.signal === 'SIGTERM';
  if (interrupted || result.exitCode === 130 || stoppedBySignal) {
    const how = stoppedBySignal ? `by ${result.signal}` : 'by the user';
    throw new InterruptedError(`${entry} was stopped ${how} before it finished`);
  }
  if (failure) {
    throw new JobError(entry, `${entry} failed: ${failure.type}: ${failure.message}`, String(failure.type), String(failure.traceback));
  }
  const how = result.signal ? `was stopped by ${result.signal}` : `exited with code ${result.exitCode}`;
  throw new JobError(entry, `${entry} ${how} before it finished`);
}
