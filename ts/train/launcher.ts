// Starts one Python training process per rank and supervises them (a torchrun replacement:
// Debian's torchrun fails on Python 3.11 with torch 1.13).
//
// Each rank runs `python3 -m py_kernels.job train.rank:run_rank SPEC.json` detached in its own
// process group with RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR=127.0.0.1, a free MASTER_PORT
// and OMP_NUM_THREADS. Rank 0's JSON events drive the progress display and are appended to
// RUN_DIR/train.log; every rank's stderr goes to RUN_DIR/logs/rank-<r>.log.
//
// Stopping: the first SIGINT/SIGTERM sends SIGTERM to every rank; the ranks agree on a step
// boundary, rank 0 writes a checkpoint and all exit. A second signal, a rank that fails, or
// ranks still alive after the grace period get SIGKILL. Every process group is killed before
// `launchRanks` returns, so nothing outlives the launcher.
import { appendFile, mkdir, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import readline from 'node:readline';
import { execa, type ResultPromise } from 'execa';
import { REPO_ROOT, reviveNonFinite } from '../bridge/backend.ts';
import type { JobEvent } from '../bridge/jobs.ts';
import { findPython } from '../bridge/python.ts';

export interface LaunchOptions {
  runDir: string;
  ranks: number;
  /** Threads per rank (OMP_NUM_THREADS and torch.set_num_threads). */
  threads: number;
  /** The rank spec without the per-rank fields; `shardManifests[r]` is added per rank. */
  spec: Record<string, unknown>;
  shardManifests: string[];
  /** Rank 0's events except `done`. */
  onEvent?: (event: JobEvent) => void;
  /** Seconds the ranks get to checkpoint and exit after a stop request before SIGKILL. */
  graceSeconds?: number;
  /** Extra environment for every rank. */
  env?: Record<string, string>;
}

export interface LaunchResult<T> {
  /** Rank 0's result. */
  result: T;
  /** Every rank's result, in rank order. */
  results: T[];
  /** The signal that stopped the run, if any. */
  stoppedBy?: NodeJS.Signals;
}

export class RankFailedError extends Error {
  override name = 'RankFailedError';
  constructor(
    readonly rank: number,
    message: string,
    readonly traceback?: string,
    readonly logFile?: string,
    /** The Python exception type and message when the rank reported an error. */
    readonly pythonType?: string,
    readonly pythonMessage?: string,
  ) {
    super(message);
  }
}

/** A TCP port on 127.0.0.1 that is free right now (the OS picks it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port assigned'))));
    });
  });
}

function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // The group has already exited.
  }
}

interface RankProcess {
  rank: number;
  child: ResultPromise;
  logFile: string;
  done?: JobEvent;
  failure?: JobEvent;
}

/** Runs every rank to completion and returns their results, or throws the first rank failure. */
export async function launchRanks<T>(options: LaunchOptions): Promise<LaunchResult<T>> {
  const { runDir, ranks } = options;
  const python = await findPython();
  const port = await freePort();
  await mkdir(path.join(runDir, 'logs'), { recursive: true });
  await mkdir(path.join(runDir, 'launch'), { recursive: true });
  const trainLog = path.join(runDir, 'train.log');

  const processes: RankProcess[] = [];
  for (let rank = 0; rank < ranks; rank += 1) {
    const specFile = path.join(runDir, 'launch', `rank-${rank}.spec.json`);
    await writeFile(specFile, JSON.stringify({ ...options.spec, shard_manifest: options.shardManifests[rank], threads: options.threads }));
    const logFile = path.join(runDir, 'logs', `rank-${rank}.log`);
    const child = execa(python.executable, ['-m', 'py_kernels.job', 'train.rank:run_rank', specFile], {
      cwd: REPO_ROOT,
      env: {
        PYTHONUNBUFFERED: '1',
        RANK: String(rank),
        WORLD_SIZE: String(ranks),
        LOCAL_RANK: String(rank),
        MASTER_ADDR: '127.0.0.1',
        MASTER_PORT: String(port),
        OMP_NUM_THREADS: String(options.threads),
        ...options.env,
      },
      detached: true,
      reject: false,
      stdin: 'ignore',
      stdout: 'pipe',
      stderr: { file: logFile, append: true },
    });
    processes.push({ rank, child, logFile });
  }

  let stoppedBy: NodeJS.Signals | undefined;
  let killTimer: NodeJS.Timeout | undefined;
  const graceMs = (options.graceSeconds ?? 120) * 1000;
  const stopAll = (hard: boolean) => {
    for (const p of processes) killGroup(p.child.pid, hard ? 'SIGKILL' : 'SIGTERM');
    if (!hard && !killTimer) killTimer = setTimeout(() => stopAll(true), graceMs);
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (stoppedBy) {
      stopAll(true);
      return;
    }
    stoppedBy = signal;
    stopAll(false);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const readRank = async (p: RankProcess) => {
    const lines = readline.createInterface({ input: p.child.stdout! });
    for await (const line of lines) {
      if (!line.trim().startsWith('{')) continue;
      const event = JSON.parse(line, reviveNonFinite) as JobEvent;
      if (event.event === 'done') p.done = event;
      else if (event.event === 'error') p.failure = event;
      if (p.rank === 0 || event.event === 'error') {
        await appendFile(trainLog, `${JSON.stringify({ time: new Date().toISOString(), rank: p.rank, ...event })}\n`);
      }
      if (p.rank === 0 && event.event !== 'done') options.onEvent?.(event);
    }
    const outcome = await p.child;
    // One rank ending without success leaves the others blocked in a collective: stop them.
    if (!p.done && !stoppedBy) stopAll(false);
    return outcome;
  };

  try {
    await Promise.all(processes.map(readRank));
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (killTimer) clearTimeout(killTimer);
    // Grandchildren (data loaders, NCCL helpers) share the rank's group.
    for (const p of processes) killGroup(p.child.pid, 'SIGKILL');
  }

  const failed = processes.find((p) => p.failure) ?? processes.find((p) => !p.done);
  if (failed && !(stoppedBy && processes[0]?.done)) {
    const outcome = await failed.child;
    const how = failed.failure
      ? `${String(failed.failure.type)}: ${String(failed.failure.message)}`
      : outcome.signal
        ? `was stopped by ${outcome.signal}`
        : `exited with code ${outcome.exitCode} before it finished`;
    throw new RankFailedError(
      failed.rank,
      `training rank ${failed.rank} ${failed.failure ? 'failed: ' : ''}${how} (log: ${failed.logFile})`,
      failed.failure ? String(failed.failure.traceback) : undefined,
      failed.logFile,
      failed.failure ? String(failed.failure.type) : undefined,
      failed.failure ? String(failed.failure.message) : undefined,
    );
  }
  const results = processes.map((p) => p.done?.result as T);
  return { result: results[0]!, results, stoppedBy };
}
