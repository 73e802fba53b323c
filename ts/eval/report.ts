// The result of an evaluation as one CSV row (explicit columns) and one JSON document.
import { existsSync } from 'node:fs';
import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { stringify } from 'csv-stringify/sync';
import { UsageError } from '../cli/errors.ts';

export interface EvalResult {
  /** Headline numbers; undefined when a metric was not requested or was skipped. */
  metrics: Record<string, number | undefined>;
  swdLevels?: number[];
  skipped: Record<string, string>;
  settings: Record<string, unknown>;
  counts: { real: number; fake: number; pairs: number };
  diagnostics: Record<string, unknown>;
}

export const CSV_COLUMNS = [
  'date',
  'real',
  'fake',
  'n_real',
  'n_fake',
  'n_pairs',
  'psnr',
  'psnr_dataset',
  'ssim',
  'ssim_preset',
  'ssim_pytorch_msssim',
  'ssim_skimage',
  'lpips',
  'rfid',
  'sfid',
  'is',
  'is_std',
  'precision',
  'recall',
  'swd',
  'resize_mode',
  'paired_resize_mode',
  'fid_weights_sha256',
  'lpips_weights_sha256',
  'seed',
  'is_splits',
  'gpstoken_version',
  'torch_version',
  'skipped',
] as const;

/** Builds one CSV record: numbers as JavaScript prints them, infinities as inf, absent values empty. */
export function csvRecord(result: EvalResult): Record<string, string | number> {
  const s = result.settings;
  const record: Record<string, string | number | undefined> = {
    date: String(s.date ?? ''),
    real: String(s.real ?? ''),
    fake: String(s.fake ?? ''),
    n_real: result.counts.real,
    n_fake: result.counts.fake,
    n_pairs: result.counts.pairs,
    ssim_preset: String(s.ssimPreset ?? ''),
    resize_mode: String(s.resizeMode ?? ''),
    paired_resize_mode: String(s.pairedResizeMode ?? ''),
    fid_weights_sha256: String((s.weights as Record<string, string> | undefined)?.fid ?? ''),
    lpips_weights_sha256: String((s.weights as Record<string, string> | undefined)?.lpips ?? ''),
    seed: Number(s.seed),
    is_splits: Number(s.isSplits),
    gpstoken_version: String(s.gpstokenVersion ?? ''),
    torch_version: String(s.torchVersion ?? ''),
    skipped: Object.keys(result.skipped).join(' '),
  };
  for (const [name, value] of Object.entries(result.metrics)) record[name] = value;
  const out: Record<string, string | number> = {};
  for (const column of CSV_COLUMNS) {
    const value = record[column];
    out[column] = value === undefined ? '' : typeof value === 'number' && !Number.isFinite(value) ? String(value).replace('Infinity', 'inf') : value;
  }
  return out;
}

export function csvText(result: EvalResult): string {
  return stringify([csvRecord(result)], { header: true, columns: [...CSV_COLUMNS] });
}

/**
 * Writes the header and one row to `file`, or with `append` adds the row to an existing
 * file after checking that its header has the same columns.
 */
/**
 * Rejects an existing --out file unless --append is given, before any metric is computed, so
 * a second run never replaces an earlier row silently.
 */
export function checkCsvTarget(file: string | undefined, append: boolean): void {
  if (file === undefined || append || !existsSync(file)) return;
  throw new UsageError(`--out ${file} already exists; pass --append to add a row to it, or choose another --out file`);
}

export async function writeCsv(file: string, result: EvalResult, append = false): Promise<void> {
  await mkdir(path.dirname(path.resolve(file)), { recursive: true });
  if (!append || !existsSync(file)) {
    await writeFile(file, csvText(result));
    return;
  }
  const [header] = (await readFile(file, 'utf8')).split('\n');
  if (header?.trim() !== CSV_COLUMNS.join(',')) {
    throw new UsageError(`--append: ${file} has different columns (${header?.slice(0, 60)}...); write to a new file`);
  }
  await appendFile(file, stringify([csvRecord(result)], { header: false, columns: [...CSV_COLUMNS] }));
}

/** Builds the JSON document, writing infinities as the strings "inf"/"-inf" because JSON has no such numbers. */
export function jsonDocument(result: EvalResult): unknown {
  return JSON.parse(JSON.stringify(result, (_key, value: unknown) => (typeof value === 'number' && !Number.isFinite(value) ? String(value).replace('Infinity', 'inf') : value)));
}

/** Human-readable lines for the terminal. */
export function summaryLines(result: EvalResult): string[] {
  const lines: string[] = [];
  for (const [name, value] of Object.entries(result.metrics)) {
    if (value === undefined) continue;
    lines.push(`${name.padEnd(20)} ${Number.isFinite(value) ? value.toPrecision(6) : String(value)}`);
  }
  for (const [name, reason] of Object.entries(result.skipped)) lines.push(`${name.padEnd(20)} skipped: ${reason}`);
  return lines;
}
