// Files written for a partition: the overlay PNG, the per-token CSV, and the demo summary.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { stringify } from 'csv-stringify/sync';
import { decodeImageFile } from '../image/decode.ts';
import { renderPartitionOverlay } from '../image/draw.ts';
import { preprocessImage } from '../image/preprocess.ts';
import type { RgbImage } from '../image/types.ts';
import { writePng } from '../image/write.ts';
import { formatFloat32 } from './format.ts';
import { partitionImage, PATCH_SIZE, type PartitionLayout, type PartitionResult } from './partition.ts';

/** Columns of `<stem>.csv`: one row per token, regions in [-1, 1] of the tile as in `--json`. */
export const TOKEN_CSV_COLUMNS = ['index', 'sigma_x', 'sigma_y', 'rho', 'x', 'y', 'x0', 'y0', 'x1', 'y1', 'complexity'] as const;

/** Columns of the demo summary CSV. */
export const SUMMARY_CSV_COLUMNS = ['image', 'tokens', 'mean_region_pixels', 'std_region_pixels', 'min_complexity', 'max_complexity'] as const;

/** Tokens used by `writePartitionDemo`, the paper's medium setting. */
export const DEMO_TOKENS = 128;

export interface PartitionSummary {
  tokens: number;
  /** Mean and population standard deviation of region areas in pixels. */
  meanRegionPixels: number;
  stdRegionPixels: number;
  minComplexity: number;
  maxComplexity: number;
}

/** Summarises one partition: token count, region-size statistics and the complexity range. */
export function summarisePartition(result: PartitionResult): PartitionSummary {
  const count = result.complexity.length;
  let sum = 0;
  let sumSquares = 0;
  for (let i = 0; i < count; i += 1) {
    const area = regionArea(result.pixelRegions, i);
    sum += area;
    sumSquares += area * area;
  }
  const mean = sum / count;
  let min = Infinity;
  let max = -Infinity;
  for (const value of result.complexity) {
    min = Math.min(min, value);
    max = Math.max(max, value);
  }
  return {
    tokens: count,
    meanRegionPixels: mean,
    stdRegionPixels: Math.sqrt(Math.max(0, sumSquares / count - mean * mean)),
    minComplexity: min,
    maxComplexity: max,
  };
}

function regionArea(pixelRegions: Int32Array, i: number): number {
  const b = i * 4;
  return (pixelRegions[b + 2]! - pixelRegions[b]! + 1) * (pixelRegions[b + 3]! - pixelRegions[b + 1]! + 1);
}

/**
 * Maps a layout to [-1, 1] coordinates of the whole image, for drawing. The partition's own
 * gpscodes and regions are relative to each 256x256 tile (as the reference concatenates them);
 * for a single-tile image this returns the same values.
 */
export function imageLayout(layout: PartitionLayout): Pick<PartitionLayout, 'gpscodes' | 'regions'> {
  if (layout.tiles.columns * layout.tiles.rows === 1) return { gpscodes: layout.gpscodes, regions: layout.regions };
  const count = layout.pixelRegions.length / 4;
  const gpscodes = new Float32Array(count * 5);
  const regions = new Float32Array(count * 4);
  const w = layout.width;
  const h = layout.height;
  for (let i = 0; i < count; i += 1) {
    const [x0, y0, x1, y1] = layout.pixelRegions.subarray(i * 4, i * 4 + 4) as unknown as [number, number, number, number];
    gpscodes.set([((x1 - x0) / w) * 2 / 3, ((y1 - y0) / h) * 2 / 3, 0, ((x1 + x0) / 2 / (w - 1) - 0.5) * 2, ((y1 + y0) / 2 / (h - 1) - 0.5) * 2], i * 5);
    regions.set([(x0 / (w - 1) - 0.5) * 2, (y0 / (h - 1) - 0.5) * 2, (x1 / (w - 1) - 0.5) * 2, (y1 / (h - 1) - 0.5) * 2], i * 4);
  }
  return { gpscodes, regions };
}

/** Renders the per-token CSV (TOKEN_CSV_COLUMNS); float32 values use `formatFloat32`. */
export function tokensCsv(result: PartitionResult): string {
  const records = [];
  for (let i = 0; i < result.complexity.length; i += 1) {
    const g = result.gpscodes.subarray(i * 5, i * 5 + 5);
    const r = result.regions.subarray(i * 4, i * 4 + 4);
    records.push({
      index: i,
      sigma_x: formatFloat32(g[0]!),
      sigma_y: formatFloat32(g[1]!),
      rho: formatFloat32(g[2]!),
      x: formatFloat32(g[3]!),
      y: formatFloat32(g[4]!),
      x0: formatFloat32(r[0]!),
      y0: formatFloat32(r[1]!),
      x1: formatFloat32(r[2]!),
      y1: formatFloat32(r[3]!),
      complexity: String(result.complexity[i]!),
    });
  }
  return stringify(records, { header: true, columns: [...TOKEN_CSV_COLUMNS] });
}

/** Writes `<stem>.png` (overlay) and `<stem>.csv` (tokens) into `outDir`. */
export async function writePartitionFiles(img: RgbImage, result: PartitionResult, outDir: string, stem: string): Promise<void> {
  await mkdir(outDir, { recursive: true });
  const layout = imageLayout(result);
  await writePng(path.join(outDir, `${stem}.png`), renderPartitionOverlay(img, layout.gpscodes, layout.regions));
  await writeFile(path.join(outDir, `${stem}.csv`), tokensCsv(result));
}

export interface DemoRow extends PartitionSummary {
  image: string;
}

/**
 * Partitions each photo at 128 tokens (photos that are not 256x256 are first preprocessed to
 * 256x256: shorter side to 256, centre crop), writes `<stem>.png` overlays into `outDir`, and
 * the per-image summary to `csvPath` (SUMMARY_CSV_COLUMNS). Returns the summary rows.
 */
export async function writePartitionDemo(files: readonly string[], outDir: string, csvPath: string): Promise<DemoRow[]> {
  const rows: DemoRow[] = [];
  const stems = uniqueStems(files);
  for (const [i, file] of files.entries()) {
    let img = await decodeImageFile(file);
    if (img.width !== PATCH_SIZE || img.height !== PATCH_SIZE) img = preprocessImage(img, PATCH_SIZE);
    const result = partitionImage(img, { tokens: DEMO_TOKENS });
    await mkdir(outDir, { recursive: true });
    await writePng(path.join(outDir, `${stems[i]!}.png`), renderPartitionOverlay(img, result.gpscodes, result.regions));
    rows.push({ image: file, ...summarisePartition(result) });
  }
  await mkdir(path.dirname(csvPath), { recursive: true });
  const records = rows.map((row) => ({
    image: row.image,
    tokens: row.tokens,
    mean_region_pixels: row.meanRegionPixels.toFixed(2),
    std_region_pixels: row.stdRegionPixels.toFixed(2),
    min_complexity: String(row.minComplexity),
    max_complexity: String(row.maxComplexity),
  }));
  await writeFile(csvPath, stringify(records, { header: true, columns: [...SUMMARY_CSV_COLUMNS] }));
  return rows;
}

/** File stems for output names, with `-2`, `-3` ... appended where a stem is already taken. */
export function uniqueStems(files: readonly string[]): string[] {
  const used = new Set<string>();
  return files.map((file) => {
    const base = path.basename(file, path.extname(file));
    let stem = base;
    for (let n = 2; used.has(stem); n += 1) stem = `${base}-${n}`;
    used.add(stem);
    return stem;
  });
}
