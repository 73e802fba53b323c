// A small worker-thread pool: runs one task per input on K threads and hands the outputs back
// in input order, so parallel runs print exactly what a single thread prints.
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parentPort, Worker } from 'node:worker_threads';

/** Worker threads to use by default: the CPUs available to this process. */
export function defaultWorkerCount(): number {
  return Math.max(1, typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length);
}

/**
 * Starts a worker thread on a TypeScript module. Node 20 does not apply `--import tsx` from a
 * worker's execArgv before loading its entry, so a small bootstrap registers tsx's loader
 * (resolved to an absolute URL from this file, so any current directory works) and then imports
 * the module.
 */
export function startTypeScriptWorker(moduleUrl: URL): Worker {
  // The ESM build of tsx's API (package export "./esm/api", condition "import").
  const tsxRoot = path.dirname(createRequire(import.meta.url).resolve('tsx/package.json'));
  const tsxApi = pathToFileURL(path.join(tsxRoot, 'dist', 'esm', 'api', 'index.mjs')).href;
  const bootstrap = [
    '(async () => {',
    `  const { register } = await import(${JSON.stringify(tsxApi)});`,
    '  register();',
    `  await import(${JSON.stringify(moduleUrl.href)});`,
    '})().catch((error) => { process.nextTick(() => { throw error; }); });',
  ].join('\n');
  return new Worker(bootstrap, { eval: true });
}

/** A worker thread exited or threw outside a task; the pool stops. */
export class WorkerCrashError extends Error {
  override name = 'WorkerCrashError';
}

interface TaskMessage<I> {
  index: number;
  input: I;
}

type ResultMessage<O> = { index: number; output: O } | { index: number; error: { name: string; message: string; stack?: string } };

export interface PoolOptions<O> {
  /** Threads to start (at most one per input). */
  workers: number;
  /** Called once per input, in input order, as soon as that output and all earlier ones are in. */
  onResult?: (output: O, index: number) => void;
}

/**
 * Runs the worker module `workerUrl` (which calls `serveTasks`) on every input and returns the
 * outputs in input order. A task that throws rejects the whole run; tasks that can fail per
 * input should return the failure as data.
 */
export async function runInWorkers<I, O>(workerUrl: URL, inputs: readonly I[], options: PoolOptions<O>): Promise<O[]> {
  const outputs: O[] = new Array(inputs.length);
  const done: boolean[] = new Array(inputs.length).fill(false);
  if (inputs.length === 0) return outputs;
  const count = Math.max(1, Math.min(options.workers, inputs.length));
  const workers: Worker[] = [];
  let next = 0;
  let flushed = 0;

  try {
    await new Promise<void>((resolve, reject) => {
      let finished = 0;
      const dispatch = (worker: Worker): void => {
        if (next >= inputs.length) return;
        const message: TaskMessage<I> = { index: next, input: inputs[next]! };
        next += 1;
        worker.postMessage(message);
      };
      for (let i = 0; i < count; i += 1) {
        const worker = startTypeScriptWorker(workerUrl);
        workers.push(worker);
        worker.on('message', (message: ResultMessage<O>) => {
          if ('error' in message) {
            const error = new WorkerCrashError(`task ${message.index} failed in a worker: ${message.error.name}: ${message.error.message}`);
            error.stack = message.error.stack ?? error.stack;
            reject(error);
            return;
          }
          outputs[message.index] = message.output;
          done[message.index] = true;
          while (flushed < inputs.length && done[flushed]) {
            options.onResult?.(outputs[flushed]!, flushed);
            flushed += 1;
          }
          finished += 1;
          if (finished === inputs.length) resolve();
          else dispatch(worker);
        });
        worker.on('error', (error) => reject(new WorkerCrashError(`worker thread ${i} failed: ${error.message}`, { cause: error })));
        worker.on('exit', (code) => {
          if (finished < inputs.length) reject(new WorkerCrashError(`worker thread ${i} exited with code ${code} before the tasks finished`));
        });
        dispatch(worker);
      }
    });
  } finally {
    await Promise.all(workers.map((worker) => worker.terminate()));
  }
  return outputs;
}

/** Serves tasks inside a worker thread: call it once at the top level of the worker module. */
export function serveTasks<I, O>(handler: (input: I) => Promise<O> | O): void {
  const port = parentPort;
  if (!port) throw new Error('serveTasks must run inside a worker thread started by runInWorkers');
  port.on('message', async (message: TaskMessage<I>) => {
    try {
      const output = await handler(message.input);
      port.postMessage({ index: message.index, output } satisfies ResultMessage<O>);
    } catch (caught) {
      const error = caught instanceof Error ? caught : new Error(String(caught));
      port.postMessage({ index: message.index, error: { name: error.name, message: error.message, stack: error.stack } } satisfies ResultMessage<O>);
    }
  });
}
