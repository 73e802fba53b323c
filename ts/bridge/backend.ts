// The one place that starts the Python backend through pythonia, calls it, and shuts it down.
//
// pythonia traps this module works around (checked with pythonia 1.2.6, Node 20):
// - it spawns Python when imported, using PYTHON_BIN, so the interpreter is probed first and
//   pythonia is loaded with a dynamic import afterwards;
// - Node never exits until `python.exit()` runs, so every start is paired with `closeBackend`
//   in `finally` and on SIGINT/SIGTERM;
// - a Python exception arrives with an empty message and a returned NaN kills Node, so every
//   entry point returns one JSON string (see py_kernels/bridge.py) that is parsed here;
// - a timeout does not stop the Python call, so a timed-out backend is shut down.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { findPython, type PythonInfo } from './python.ts';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const BRIDGE_MODULE = path.join(REPO_ROOT, 'py_kernels', 'bridge.py');
const DEFAULT_TIMEOUT_MS = 30 * 60_000;

/** An error raised inside a backend entry point, with the Python type and traceback. */
export class BackendCallError extends Error {
  override name = 'BackendCallError';
  constructor(
    readonly entry: string,
    readonly pythonType: string,
    message: string,
    readonly traceback: string,
  ) {
    super(`${entry} failed: ${pythonType}: ${message}`);
  }
}

export class BackendTimeoutError extends Error {
  override name = 'BackendTimeoutError';
}

interface PythoniaModule {
  invoke(entry: string, argsJson: string): Promise<string>;
}

interface PythoniaApi {
  python: ((file: string) => Promise<PythoniaModule>) & { exit(): void };
}

interface BackendState {
  api: PythoniaApi;
  module: PythoniaModule;
  info: PythonInfo;
}

let state: Promise<BackendState> | undefined;
let signalHandlersInstalled = false;

/** Decodes the `{"$float": "nan"}` tags that the Python side uses for non-finite numbers. */
export function reviveNonFinite(_key: string, value: unknown): unknown {
  if (value !== null && typeof value === 'object' && '$float' in value) {
    const tag = (value as { $float: string }).$float;
    if (tag === 'nan') return Number.NaN;
    if (tag === 'inf') return Number.POSITIVE_INFINITY;
    if (tag === '-inf') return Number.NEGATIVE_INFINITY;
  }
  return value;
}

function installSignalHandlers(): void {
  if (signalHandlersInstalled) return;
  signalHandlersInstalled = true;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      void closeBackend().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
    });
  }
}

async function startBackend(): Promise<BackendState> {
  const info = await findPython();
  process.env.PYTHON_BIN = info.executable;
  const api = (await import('pythonia')) as unknown as PythoniaApi;
  installSignalHandlers();
  try {
    const module = await api.python(BRIDGE_MODULE);
    return { api, module, info };
  } catch (error) {
    api.python.exit();
    throw new Error(`The Python backend failed to start with ${info.executable}`, { cause: error });
  }
}

/** Starts the backend once per process and returns the interpreter it runs on. */
export async function openBackend(): Promise<PythonInfo> {
  state ??= startBackend();
  try {
    return (await state).info;
  } catch (error) {
    state = undefined;
    throw error;
  }
}

/** Stops the Python process; safe to call when nothing was started. */
export async function closeBackend(): Promise<void> {
  const current = state;
  state = undefined;
  if (!current) return;
  try {
    (await current).api.python.exit();
  } catch {
    // The backend never started, so there is nothing to stop.
  }
}

/**
 * Calls `entry` ("module:function" under py_kernels) with JSON-able keyword arguments and
 * returns its result. Python errors become BackendCallError; after `timeoutMs` the backend is
 * shut down (the Python call cannot be cancelled) and BackendTimeoutError is thrown.
 */
export async function callBackend<T>(
  entry: string,
  args: Record<string, unknown> = {},
  options: { timeoutMs?: number } = {},
): Promise<T> {
  await openBackend();
  const { module } = await (state as Promise<BackendState>);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      void closeBackend();
      reject(new BackendTimeoutError(`${entry} did not return within ${timeoutMs} ms; the backend was stopped`));
    }, timeoutMs);
  });
  let raw: string;
  try {
    raw = await Promise.race([module.invoke(entry, JSON.stringify(args)), timeout]);
  } catch (error) {
    if (error instanceof BackendTimeoutError) throw error;
    const stack = String((error as Error).stack ?? error);
    throw new BackendCallError(entry, 'BridgeError', stack, stack);
  } finally {
    clearTimeout(timer);
  }
  const reply = JSON.parse(raw, reviveNonFinite) as
    | { ok: true; result: T }
    | { ok: false; type: string; message: string; traceback: string };
  if (!reply.ok) throw new BackendCallError(entry, reply.type, reply.message, reply.traceback);
  return reply.result;
}

/** Runs `work` with the backend open and always closes it afterwards. */
export async function withBackend<T>(work: () => Promise<T>): Promise<T> {
  try {
    await openBackend();
    return await work();
  } finally {
    await closeBackend();
  }
}
