// The partition cache: every training image decoded, preprocessed to the training size and
// partitioned once, for both orientations, in one safetensors file per image.
//
// File `<cacheDir>/<key>.safetensors` contains `image` U8 [H, W, 3] (the preprocessed pixels),
// `gpscodes` F32 [N, 5] and `regions` F32 [N, 4] of the image, and `gpscodes_flip` /
// `regions_flip` of its horizontal mirror. The mirror is partitioned from its own pixels, as
// the published dataset partitions after flipping. The key hashes the file content and every
// option that changes the result, so a cache folder can be shared by runs and configs.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { decodeImageBytes } from '../image/decode.ts';
import { preprocessImage } from '../image/preprocess.ts';
import type { RgbImage } from '../image/types.ts';
import { gridPartition, partitionImage, type PartitionLayout } from '../partition/partition.ts';
import { writeSafetensors } from '../util/safetensors.ts';

/** Bumped when the cache layout or the meaning of a key changes. */
export const CACHE_VERSION = 1;

export type InitMode = 'entropy' | 'grid';

export interface PartitionCacheOptions {
  size: number;
  tokens: number;
  weight: number;
  minhw: number;
  init: InitMode;
}

export interface CachedSample {
  /** The source image file. */
  source: string;
  /** The cache file (absolute path). */
  cache: string;
  key: string;
  /** True when the file already existed. */
  reused: boolean;
}

export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The cache key of one image: content hash plus every option that changes the cached tensors. */
export function cacheKey(contentSha256: string, options: PartitionCacheOptions): string {
  const { size, tokens, weight, minhw, init } = options;
  const description = JSON.stringify({ version: CACHE_VERSION, content: contentSha256, preprocess: 'published', size, init, tokens, weight, minhw });
  return sha256Hex(description).slice(0, 32);
}

/** Mirrors an image left to right. */
export function flipHorizontal(img: RgbImage): RgbImage {
  const out = new Uint8Array(img.data.length);
  const row = img.width * 3;
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < img.width; x++) {
      const from = y * row + x * 3;
      const to = y * row + (img.width - 1 - x) * 3;
      out[to] = img.data[from]!;
      out[to + 1] = img.data[from + 1]!;
      out[to + 2] = img.data[from + 2]!;
    }
  }
  return { width: img.width, height: img.height, data: out };
}

/** The initial layout of one image: the entropy partition, or the uniform grid for `--init grid`. */
export function initialLayout(img: RgbImage, options: PartitionCacheOptions): PartitionLayout {
  if (options.init === 'grid') return gridPartition({ width: img.width, height: img.height }, options.tokens);
  return partitionImage(img, { tokens: options.tokens, weight: options.weight, minhw: options.minhw });
}

/** Decodes, preprocesses and partitions one image unless its cache file exists. */
export async function cacheSample(file: string, cacheDir: string, options: PartitionCacheOptions): Promise<CachedSample> {
  const bytes = await readFile(file);
  const key = cacheKey(sha256Hex(bytes), options);
  const cache = path.join(cacheDir, `${key}.safetensors`);
  if (existsSync(cache)) return { source: file, cache, key, reused: true };

  const image = preprocessImage(await decodeImageBytes(bytes, file), options.size);
  const layout = initialLayout(image, options);
  const flipped = initialLayout(flipHorizontal(image), options);
  const n = options.tokens * layout.tiles.columns * layout.tiles.rows;
  await mkdir(cacheDir, { recursive: true });
  await writeSafetensors(
    cache,
    {
      image: { dtype: 'U8', shape: [image.height, image.width, 3], data: image.data },
      gpscodes: { dtype: 'F32', shape: [n, 5], data: layout.gpscodes },
      regions: { dtype: 'F32', shape: [n, 4], data: layout.regions },
      gpscodes_flip: { dtype: 'F32', shape: [n, 5], data: flipped.gpscodes },
      regions_flip: { dtype: 'F32', shape: [n, 4], data: flipped.regions },
    },
    { source: path.basename(file), ...Object.fromEntries(Object.entries(options).map(([k, v]) => [k, String(v)])) },
  );
  return { source: file, cache, key, reused: false };
}

export interface CacheFailure {
  source: string;
  message: string;
}

/** Caches every image; a file that fails is reported, not fatal, so one bad photo never stops a run. */
export async function cacheSamples(
  files: string[],
  cacheDir: string,
  options: PartitionCacheOptions,
  onProgress: (done: number) => void = () => undefined,
): Promise<{ samples: CachedSample[]; failures: CacheFailure[] }> {
  const samples: CachedSample[] = [];
  const failures: CacheFailure[] = [];
  for (const [index, file] of files.entries()) {
    try {
      samples.push(await cacheSample(file, cacheDir, options));
    } catch (error) {
      failures.push({ source: file, message: (error as Error).message });
    }
    onProgress(index + 1);
  }
  return { samples, failures };
}
