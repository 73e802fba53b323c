// Splitting an evaluation into shards and running each shard as a backend job.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { runJob } from '../bridge/jobs.ts';
import { readSafetensors } from '../util/safetensors.ts';

/** Everything that changes the numbers a shard produces; stored in each shard file. */
export interface ShardSettings {
  real: string;
  fake: string;
  paired: boolean;
  metrics: string[];
  ssimPresets: string[];
  seed: number;
  swdLevels: number;
  /** SWD uses the first this-many images of each set (descriptors take ~75 KB per image and level). */
  swdMaxImages: number;
  fakeSize: [number, number] | null;
  realStatsGiven: boolean;
  resizeMode: string;
  pairedResizeMode: string | null;
  weights: Record<string, string>;
  shardCount: number;
  realCount: number;
  fakeCount: number;
  /** Hash of the file names, sizes and modification times of both sets. */
  filesHash: string;
}

export interface ShardWork {
  index: number;
  real: string[];
  fake: string[];
  realOffset: number;
  fakeOffset: number;
  file: string;
}

export function settingsKey(settings: ShardSettings): string {
  return createHash('sha256').update(JSON.stringify(settings)).digest('hex').slice(0, 16);
}

/** Contiguous part `index` of `count` of a list, so shards concatenated in order give the list. */
export function slicePart<T>(items: T[], index: number, count: number): { items: T[]; offset: number } {
  const begin = Math.floor((index * items.length) / count);
  const end = Math.floor(((index + 1) * items.length) / count);
  return { items: items.slice(begin, end), offset: begin };
}

export function planShards(real: string[], fake: string[], count: number, folder: string): ShardWork[] {
  return Array.from({ length: count }, (_, index) => {
    const realPart = slicePart(real, index, count);
    const fakePart = slicePart(fake, index, count);
    return {
      index,
      real: realPart.items,
      fake: fakePart.items,
      realOffset: realPart.offset,
      fakeOffset: fakePart.offset,
      file: path.join(folder, `shard-${index}-of-${count}.safetensors`),
    };
  });
}

/** True when `file` is a finished shard written under the same settings (a resumed run). */
export async function isFinishedShard(file: string, key: string): Promise<boolean> {
  if (!existsSync(file)) return false;
  try {
    const { metadata } = await readSafetensors(file);
    return metadata.settings_key === key;
  } catch {
    return false;
  }
}

export interface ShardRunOptions {
  weights: Record<string, string>;
  batchSize: number;
  device: string;
  threads: number;
  isSplits: number;
  /** Metrics dropped for missing weights, kept so `eval merge` can report them. */
  skipped: Record<string, string>;
  onProgress: (shard: number, done: number) => void;
}

export async function runShard(work: ShardWork, settings: ShardSettings, options: ShardRunOptions): Promise<string> {
  await mkdir(path.dirname(work.file), { recursive: true });
  const spec = {
    real: work.real,
    fake: work.fake,
    realOffset: work.realOffset,
    fakeOffset: work.fakeOffset,
    paired: settings.paired,
    metrics: settings.metrics,
    ssimPresets: settings.ssimPresets,
    weights: options.weights,
    fakeSize: settings.fakeSize,
    realStatsGiven: settings.realStatsGiven,
    swdLevels: settings.swdLevels,
    swdMaxImages: settings.swdMaxImages,
    seed: settings.seed,
    batchSize: options.batchSize,
    device: options.device,
    threads: options.threads,
    out: work.file,
    metadata: {
      settings: JSON.stringify(settings),
      settings_key: settingsKey(settings),
      shard_index: String(work.index),
      shard_count: String(settings.shardCount),
      is_splits: String(options.isSplits),
      skipped: JSON.stringify(options.skipped),
      real_files: JSON.stringify(work.real.map((file) => path.basename(file))),
      fake_files: JSON.stringify(work.fake.map((file) => path.basename(file))),
    },
  };
  await runJob('metrics.eval_job:evaluate_shard', spec, {
    env: { OMP_NUM_THREADS: String(options.threads), MKL_NUM_THREADS: String(options.threads) },
    onEvent: (event) => {
      if (event.event === 'progress') options.onProgress(work.index, Number(event.done));
    },
  });
  return work.file;
}

/** Runs `tasks` with at most `limit` running at once; the first failure rejects. */
export async function runPool<T>(tasks: (() => Promise<T>)[], limit: number): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, tasks.length) }, async () => {
    while (next < tasks.length) {
      const index = next;
      next += 1;
      results[index] = await (tasks[index] as () => Promise<T>)();
    }
  });
  await Promise.all(lanes);
  return results;
}
