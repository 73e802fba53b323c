// Fixed square crops of the photo pool, with a manifest (crops.tsv) that records where each
// crop came from: photo, scale, box in the scaled photo and in the original.
//
// Positions are a pure function of (seed, photo file, photo size, crop size, count), so the
// test crops are the same on every machine. A trainer that wants fresh training crops each
// epoch runs `gpstoken data crops --split train --seed <epoch>` (or calls `planCrops`)
// instead of reusing one set.
import { createHash } from 'node:crypto';
import { access, mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { stringify } from 'csv-stringify/sync';
import { decodeImageFile } from '../image/decode.ts';
import { resizeImage } from '../image/resize.ts';
import type { RgbImage } from '../image/types.ts';
import { writePng } from '../image/write.ts';
import { UsageError } from '../cli/errors.ts';
import { writeFileAtomic } from './fetch.ts';
import { splitTsvLine } from './manifest.ts';

/** Photos whose shorter side exceeds DEFAULT_CROP_MULTIPLE x size are downscaled first. */
export const DEFAULT_CROP_MULTIPLE = 2;
export const CROP_COLUMNS = ['file', 'split', 'photo', 'group', 'license', 'seed', 'scale', 'x', 'y', 'size', 'source_x', 'source_y', 'source_size'] as const;

export interface PoolPhoto {
  /** Path relative to the pool folder, e.g. `train/x.jpg`. */
  file: string;
  split: 'train' | 'test';
  group: string;
  license: string;
  /** SHA-256 of the file's bytes (hex), as verified by `gpstoken data fetch`. */
  sha256: string;
  width: number;
  height: number;
}

export interface CropPlan {
  photo: PoolPhoto;
  /** Factor applied to the photo before cropping (1 when it is not downscaled). */
  scale: number;
  scaledWidth: number;
  scaledHeight: number;
  /** Top-left corners in the scaled photo. */
  boxes: { x: number; y: number }[];
}

/** A 32-bit generator (mulberry32); enough for crop positions and identical in every runtime. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Plans `count` crops of `size` pixels: the photo is scaled so its shorter side is at most
 * `multiple * size`, then each top-left corner is drawn uniformly. Returns undefined for a
 * photo smaller than one crop.
 */
export function planCrops(photo: PoolPhoto, size: number, count: number, seed: number, multiple = DEFAULT_CROP_MULTIPLE): CropPlan | undefined {
  const shorter = Math.min(photo.width, photo.height);
  if (shorter < size) return undefined;
  const targetShorter = Math.round(multiple * size);
  const scale = shorter > targetShorter ? targetShorter / shorter : 1;
  const scaledWidth = scale === 1 ? photo.width : Math.max(size, Math.round(photo.width * scale));
  const scaledHeight = scale === 1 ? photo.height : Math.max(size, Math.round(photo.height * scale));
  const digest = createHash('sha256').update(`${seed}:${photo.file}`).digest();
  const random = mulberry32(digest.readUInt32BE(0));
  const boxes = Array.from({ length: count }, () => ({
    x: Math.floor(random() * (scaledWidth - size + 1)),
    y: Math.floor(random() * (scaledHeight - size + 1)),
  }));
  return { photo, scale, scaledWidth, scaledHeight, boxes };
}

/** Reads `<pool>/index.tsv` as written by `gpstoken data fetch`. */
export async function readPoolIndex(pool: string): Promise<PoolPhoto[]> {
  const indexFile = path.join(pool, 'index.tsv');
  const text = await readFile(indexFile, 'utf8').catch((error: Error) => {
    throw new UsageError(`no pool index at ${indexFile}; run \`gpstoken data fetch\` first or pass --pool`, { cause: error });
  });
  const [header, ...lines] = text.split(/\r?\n/).filter((line) => line !== '');
  const columns = splitTsvLine(header ?? '');
  const at = (name: string) => {
    const index = columns.indexOf(name);
    if (index === -1) throw new UsageError(`${indexFile}: column ${name} is missing (found ${columns.join(', ')})`);
    return index;
  };
  const [file, split, group, license, sha256, width, height] = ['file', 'split', 'group', 'license', 'sha256', 'width', 'height'].map(at) as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  return lines.map((line) => {
    const fields = splitTsvLine(line);
    return {
      file: fields[file]!,
      split: fields[split] === 'test' ? 'test' : 'train',
      group: fields[group]!,
      license: fields[license]!,
      sha256: fields[sha256]!,
      width: Number(fields[width]),
      height: Number(fields[height]),
    };
  });
}

function cropFileName(plan: CropPlan, index: number): string {
  const stem = path.basename(plan.photo.file).replace(/\.[^.]+$/, '');
  return `${plan.photo.split}/${stem}__${index}.png`;
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

/** Copies the `size` x `size` square at (x, y) out of an RGB image. */
export function cropImage(image: RgbImage, x: number, y: number, size: number): RgbImage {
  const data = new Uint8Array(size * size * 3);
  for (let row = 0; row < size; row += 1) {
    const start = ((y + row) * image.width + x) * 3;
    data.set(image.data.subarray(start, start + size * 3), row * size * 3);
  }
  return { width: size, height: size, data };
}

/**
 * Decodes, scales and writes the planned crops of one photo. Scaling is Pillow 9.4's
 * `Image.resize(..., LANCZOS)` (ts/image/resize.ts), so Python code can cut the same crops.
 */
async function writePlannedCrops(pool: string, out: string, plan: CropPlan, size: number): Promise<void> {
  const image = await decodeImageFile(path.join(pool, plan.photo.file));
  if (image.width !== plan.photo.width || image.height !== plan.photo.height) {
    throw new Error(`size mismatch: decoded as ${image.width}x${image.height}, index.tsv lists ${plan.photo.width}x${plan.photo.height}; run \`gpstoken data fetch\` again`);
  }
  const scaled = plan.scale === 1 ? image : resizeImage(image, plan.scaledWidth, plan.scaledHeight, 'lanczos');
  for (const [index, box] of plan.boxes.entries()) {
    await writePng(path.join(out, cropFileName(plan, index)), cropImage(scaled, box.x, box.y, size));
  }
}

/**
 * Checks a pool file against the SHA-256 in index.tsv before its listed size is trusted: a
 * damaged or replaced file would otherwise be cropped, or skipped as too small, unnoticed.
 */
async function verifyPoolFile(pool: string, photo: PoolPhoto): Promise<void> {
  const bytes = await readFile(path.join(pool, photo.file)).catch((error: NodeJS.ErrnoException) => {
    throw new Error(`cannot read the photo (${error.code ?? error.message}); run \`gpstoken data fetch\` again`);
  });
  const actual = createHash('sha256').update(bytes).digest('hex');
  if (actual !== photo.sha256) {
    throw new Error(`sha256 mismatch: index.tsv lists ${photo.sha256}, the file has ${actual}; run \`gpstoken data fetch\` again to restore it`);
  }
}

export interface CropsOptions {
  pool: string;
  out: string;
  size: number;
  perPhoto: number;
  seed: number;
  splits: ('train' | 'test')[];
  shortSideMultiple: number;
  onProgress?: (done: number, total: number, file: string) => void;
}

export interface CropsSummary {
  photos: number;
  crops: number;
  /** Photos smaller than one crop. */
  tooSmall: string[];
  failures: { file: string; reason: string }[];
  manifest: string;
}

/** Writes the crops of every photo of the chosen splits and the crops.tsv manifest; resumable. */
export async function writeCrops(options: CropsOptions): Promise<CropsSummary> {
  const photos = (await readPoolIndex(options.pool)).filter((photo) => options.splits.includes(photo.split));
  await Promise.all(options.splits.map((split) => mkdir(path.join(options.out, split), { recursive: true })));
  const summary: CropsSummary = { photos: 0, crops: 0, tooSmall: [], failures: [], manifest: path.join(options.out, 'crops.tsv') };
  const rows: (string | number)[][] = [];
  for (const [done, photo] of photos.entries()) {
    try {
      await verifyPoolFile(options.pool, photo);
    } catch (error) {
      summary.failures.push({ file: photo.file, reason: (error as Error).message });
      options.onProgress?.(done + 1, photos.length, photo.file);
      continue;
    }
    const plan = planCrops(photo, options.size, options.perPhoto, options.seed, options.shortSideMultiple);
    if (!plan) summary.tooSmall.push(photo.file);
    else {
      try {
        const files = plan.boxes.map((_, index) => path.join(options.out, cropFileName(plan, index)));
        const present = await Promise.all(files.map(exists));
        if (!present.every(Boolean)) await writePlannedCrops(options.pool, options.out, plan, options.size);
        rows.push(...manifestRows(plan, options));
        summary.photos += 1;
        summary.crops += plan.boxes.length;
      } catch (error) {
        summary.failures.push({ file: photo.file, reason: (error as Error).message });
      }
    }
    options.onProgress?.(done + 1, photos.length, photo.file);
  }
  await writeFileAtomic(summary.manifest, stringify(rows, { delimiter: '\t', header: true, columns: [...CROP_COLUMNS] }));
  return summary;
}

function manifestRows(plan: CropPlan, options: CropsOptions): (string | number)[][] {
  const round = (value: number) => Number(value.toFixed(3));
  return plan.boxes.map((box, index) => [
    cropFileName(plan, index),
    plan.photo.split,
    plan.photo.file,
    plan.photo.group,
    plan.photo.license,
    options.seed,
    round(plan.scale),
    box.x,
    box.y,
    options.size,
    round(box.x / plan.scale),
    round(box.y / plan.scale),
    round(options.size / plan.scale),
  ]);
}
