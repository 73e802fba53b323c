// Runs one trial as a child process and returns the JSON document it printed on stdout.
//
// The child starts detached in its own process group: a terminal's Ctrl-C reaches only the
// sweep, which then sends SIGTERM to each trial's whole group (the trial's own workers
// included) and SIGKILL after a grace period.
import { appendFile, readFile } from 'node:fs/promises';
import { execa } from 'execa';
import { reviveNonFinite } from '../bridge/backend.ts';

export interface TrialLaunch {
  argv: string[];
  env: Record<string, string>;
  cwd: string;
  logFile: string;
  /** Seconds before the trial is stopped; 0 means no limit. */
  timeoutS: number;
  signal: AbortSignal;
}

/** Runs a trial and resolves to its parsed JSON output; rejects with a readable error. */
export type TrialRunner = (launch: TrialLaunch) => Promise<unknown>;

export class TrialError extends Error {
  override name = 'TrialError';
  constructor(
    message: string,
    /** The program's exit code, when it exited by itself. */
    readonly exitCode?: number,
  ) {
    super(message);
  }
}

/** Exit code of a `gpstoken` usage error: the same arguments can never succeed. */
export const USAGE_EXIT_CODE = 2;

/** Seconds between SIGTERM and SIGKILL when a trial is stopped. */
export const KILL_GRACE_S = 10;

/** Process group ids of the trials running now, for an immediate exit. */
const runningGroups = new Set<number>();

/** Sends `signal` to every running trial's process group (a second Ctrl-C uses SIGKILL). */
export function signalAllTrials(signal: NodeJS.Signals): void {
  for (const pid of runningGroups) killGroup(pid, signal);
}

function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // The group already exited.
  }
}

/**
 * Parses a trial's stdout: the whole text as JSON, else its last line (commands that print
 * a log line before the result).
 */
export function parseTrialOutput(stdout: string): unknown {
  const text = stdout.trim();
  try {
    return JSON.parse(text, reviveNonFinite);
  } catch {
    const lastLine = text.split('\n').pop() ?? '';
    try {
      return JSON.parse(lastLine, reviveNonFinite);
    } catch {
      throw new TrialError(`the trial printed no JSON document on stdout (${text.length} characters; see log.txt)`);
    }
  }
}

/** Returns the last non-empty stderr line of the latest attempt, for the error message. */
async function lastStderrLine(logFile: string): Promise<string> {
  const log = await readFile(logFile, 'utf8').catch(() => '');
  const attempt = log.slice(log.lastIndexOf('=== attempt'));
  const lines = attempt.split('\n').filter((line) => line.trim() !== '' && !line.startsWith('=== attempt'));
  return lines.pop() ?? '';
}

export const runTrialProcess: TrialRunner = async (launch) => {
  const [program, ...args] = launch.argv as [string, ...string[]];
  const child = execa(program, args, {
    cwd: launch.cwd,
    env: launch.env,
    detached: true,
    reject: false,
    stdin: 'ignore',
    stderr: { file: launch.logFile, append: true },
  });
  if (child.pid !== undefined) runningGroups.add(child.pid);
  let stopped: string | undefined;
  let killTimer: NodeJS.Timeout | undefined;
  const stop = (reason: string) => {
    if (stopped) return;
    stopped = reason;
    killGroup(child.pid, 'SIGTERM');
    killTimer = setTimeout(() => killGroup(child.pid, 'SIGKILL'), KILL_GRACE_S * 1000);
  };
  const onAbort = () => stop('stopped by the sweep');
  launch.signal.addEventListener('abort', onAbort);
  if (launch.signal.aborted) onAbort();
  const timeout = launch.timeoutS > 0 ? setTimeout(() => stop(`timed out after ${launch.timeoutS} s`), launch.timeoutS * 1000) : undefined;

  const result = await child;
  if (child.pid !== undefined) runningGroups.delete(child.pid);
  launch.signal.removeEventListener('abort', onAbort);
  clearTimeout(timeout);
  clearTimeout(killTimer);
  const stdout = typeof result.stdout === 'string' ? result.stdout : '';
  const stderrLine = await lastStderrLine(launch.logFile);
  await appendFile(launch.logFile, `--- stdout ---\n${stdout}\n`);

  // A trial that finished its work and exited 0 counts, even if a stop request raced it.
  if (result.exitCode === 0) return parseTrialOutput(stdout);
  if (stopped) throw new TrialError(stopped);
  if (result.failed && result.exitCode === undefined) {
    throw new TrialError(`${program} could not be started or was killed: ${result.shortMessage ?? result.message}`);
  }
  throw new TrialError(`exit code ${result.exitCode}${stderrLine ? `: ${stderrLine}` : ''} (full output in log.txt)`, result.exitCode);
};
