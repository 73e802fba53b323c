// Starts a training job as several ranks (one process each, torchrun-style environment) and
// relays rank 0's events. Minimal on purpose: the ranks run on this machine only.
import net from 'node:net';
import { runJob, type JobEvent } from '../bridge/jobs.ts';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface RankOptions {
  ranks: number;
  threadsPerRank?: number;
  onEvent?: (event: JobEvent) => void;
}

/** Runs `entry` on `ranks` processes; resolves with rank 0's result, stops every rank on a failure. */
export async function runRanks<T>(entry: string, spec: unknown, options: RankOptions): Promise<T> {
  const threads: Record<string, string> = options.threadsPerRank !== undefined ? { OMP_NUM_THREADS: String(options.threadsPerRank) } : {};
  if (options.ranks === 1) return runJob<T>(entry, spec, { env: threads, onEvent: options.onEvent });
  const port = await freePort();
  const controller = new AbortController();
  const jobs = Array.from({ length: options.ranks }, (_, rank) =>
    runJob<T>(entry, spec, {
      env: {
        ...threads,
        RANK: String(rank),
        LOCAL_RANK: String(rank),
        WORLD_SIZE: String(options.ranks),
        MASTER_ADDR: '127.0.0.1',
        MASTER_PORT: String(port),
      },
      signal: controller.signal,
      ...(rank === 0 && options.onEvent ? { onEvent: options.onEvent } : {}),
    }).catch((error: unknown) => {
      controller.abort();
      throw error;
    }),
  );
  const results = await Promise.allSettled(jobs);
  const failed = results.find((result) => result.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
  return (results[0] as PromiseFulfilledResult<T>).value;
}
