// Manifests that tell each rank what it reads.
//
// `samples.json` lists every training sample (source image and cache file). Each rank gets
// `shards/rank-<r>.json` with the same list plus its rank, the world size and the per-rank
// batch: every epoch is one permutation of all samples derived from (seed, epoch), and rank r
// reads positions [r * batch, (r + 1) * batch) of each global batch of batch * world_size.
// Ranks thus read disjoint samples at every step, and a run with more ranks but the same
// global batch reads the same images per step as a single process.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { CachedSample } from './cache.ts';

export interface ShardManifest {
  rank: number;
  world_size: number;
  batch_size: number;
  global_batch: number;
  samples: { source: string; cache: string }[];
}

export function shardManifests(samples: CachedSample[], worldSize: number, batchSize: number): ShardManifest[] {
  const entries = samples.map(({ source, cache }) => ({ source, cache }));
  return Array.from({ length: worldSize }, (_, rank) => ({
    rank,
    world_size: worldSize,
    batch_size: batchSize,
    global_batch: batchSize * worldSize,
    samples: entries,
  }));
}

/** Writes samples.json, shards/rank-<r>.json and (when given) eval.json; returns their paths. */
export async function writeManifests(
  runDir: string,
  samples: CachedSample[],
  evalSamples: CachedSample[] | undefined,
  worldSize: number,
  batchSize: number,
): Promise<{ samples: string; shards: string[]; eval: string | undefined }> {
  await mkdir(path.join(runDir, 'shards'), { recursive: true });
  const list = samples.map(({ source, cache }) => ({ source, cache }));
  const samplesFile = path.join(runDir, 'samples.json');
  await writeFile(samplesFile, `${JSON.stringify({ samples: list }, null, 1)}\n`);
  const shards: string[] = [];
  for (const manifest of shardManifests(samples, worldSize, batchSize)) {
    const file = path.join(runDir, 'shards', `rank-${manifest.rank}.json`);
    await writeFile(file, `${JSON.stringify(manifest, null, 1)}\n`);
    shards.push(file);
  }
  let evalFile: string | undefined;
  if (evalSamples) {
    evalFile = path.join(runDir, 'eval.json');
    await writeFile(evalFile, `${JSON.stringify({ samples: evalSamples.map(({ source, cache }) => ({ source, cache })) }, null, 1)}\n`);
  }
  return { samples: samplesFile, shards, eval: evalFile };
}
