// `gpstoken demo`: the main job on the embedded photos, with no download.
//
// 1. Entropy partition of every photo at 128 tokens: overlays and results/demo-partition.csv.
// 2. Reconstruction with the committed demo tokenizer (entropy-initialised tokens) and with the
//    grid-initialised baseline trained the same way (experiments/demo, `make train-demo`).
// 3. PSNR, SSIM and sliced Wasserstein distance of both against the preprocessed photos (plus
//    rFID and LPIPS when their weight files are present): results/demo-eval.csv (entropy),
//    results/demo-eval-grid.csv, and the comparison results/demo.csv.
// 4. A picture per photo: original, Gaussian overlay, reconstruction, grid reconstruction.
import { existsSync } from 'node:fs';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { stringify } from 'csv-stringify/sync';
import { REPO_ROOT } from '../bridge/backend.ts';
import { UsageError } from '../cli/errors.ts';
import { log, warn } from '../cli/output.ts';
import { evaluateForDemo } from '../eval/demo.ts';
import type { EvalResult } from '../eval/report.ts';
import { writePartitionDemo, type DemoRow } from '../partition/outputs.ts';
import { runReconstruct, type ReconstructSummary } from '../reconstruct/run.ts';
import { writeComparisonPictures } from './pictures.ts';

export const DEMO_DIR = path.join(REPO_ROOT, 'experiments', 'demo');

export interface DemoOptions {
  data: string;
  /** Folder of the CSV files; pictures and reconstructions go to `<results>/demo/`. */
  results: string;
  config: string;
  entropyWeights: string;
  gridWeights: string;
  workers: number;
}

export const DEMO_DEFAULTS: DemoOptions = {
  data: path.join(REPO_ROOT, 'data', 'embedded'),
  results: path.join(REPO_ROOT, 'results'),
  config: path.join(DEMO_DIR, 'tokenizer.yaml'),
  entropyWeights: path.join(DEMO_DIR, 'entropy.safetensors'),
  gridWeights: path.join(DEMO_DIR, 'grid.safetensors'),
  workers: 1,
};

export interface DemoVariant {
  name: 'entropy' | 'grid';
  weights: string;
  reconstruction: ReconstructSummary;
  evaluation: EvalResult;
}

export interface DemoSummary {
  partition: DemoRow[];
  variants: DemoVariant[];
  seconds: number;
  files: string[];
}

export const COMPARISON_COLUMNS = ['variant', 'init', 'images', 'tokens', 'psnr', 'ssim', 'ssim_preset', 'swd', 'lpips', 'rfid', 'weights'] as const;

function checkInputs(options: DemoOptions): void {
  for (const [flag, file] of [
    ['--config', options.config],
    ['--entropy-weights', options.entropyWeights],
    ['--grid-weights', options.gridWeights],
  ] as const) {
    if (!existsSync(file)) {
      throw new UsageError(`${flag} ${file}: file not found; the demo checkpoints are committed in experiments/demo (rebuild them with \`make train-demo\`)`);
    }
  }
  if (!existsSync(options.data)) throw new UsageError(`--data ${options.data}: no such folder`);
}

async function listPhotos(folder: string): Promise<string[]> {
  const names = (await readdir(folder)).filter((name) => /\.(png|jpe?g|webp)$/i.test(name)).sort();
  if (names.length === 0) throw new UsageError(`--data ${folder}: no .png, .jpg or .webp images`);
  return names.map((name) => path.join(folder, name));
}

async function runVariant(name: DemoVariant['name'], weights: string, options: DemoOptions, demoDir: string): Promise<DemoVariant> {
  log(`demo: reconstructing with the ${name}-initialised tokenizer ...`);
  // Reconstructions are derived outputs: start afresh, so a retrained checkpoint never meets
  // the resume check of an older folder.
  await rm(path.join(demoDir, name), { recursive: true, force: true });
  const reconstruction = await runReconstruct({
    config: options.config,
    weights,
    randomInit: false,
    data: options.data,
    out: path.join(demoDir, name),
    init: name,
    focus: { boxes: [] },
    batch: 8,
    device: 'cpu',
    saveTokens: false,
    refine: true,
    seed: 0,
  });
  if (reconstruction.failed > 0) warn(`demo: ${reconstruction.failed} images failed to reconstruct; see ${path.join(demoDir, name, 'failures.csv')}`);
  log(`demo: evaluating the ${name} reconstructions ...`);
  const csv = path.join(options.results, name === 'entropy' ? 'demo-eval.csv' : 'demo-eval-grid.csv');
  const evaluation = await evaluateForDemo({
    real: path.join(demoDir, name, 'gt'),
    fake: path.join(demoDir, name, 'imgs'),
    csv,
    workers: options.workers,
    hooks: { log, warn },
  });
  return { name, weights, reconstruction, evaluation };
}

function comparisonRows(variants: DemoVariant[]): Record<string, string | number>[] {
  const format = (value: number | undefined, digits: number) => (value === undefined ? '' : value.toFixed(digits));
  return variants.map((variant) => ({
    variant: variant.name === 'entropy' ? 'GPSToken (entropy partition)' : 'uniform grid baseline',
    init: variant.name,
    images: variant.evaluation.counts.pairs,
    tokens: variant.reconstruction.tokens,
    psnr: format(variant.evaluation.metrics.psnr, 3),
    ssim: format(variant.evaluation.metrics.ssim, 4),
    ssim_preset: String(variant.evaluation.settings.ssimPreset ?? ''),
    swd: format(variant.evaluation.metrics.swd, 2),
    lpips: format(variant.evaluation.metrics.lpips, 4),
    rfid: format(variant.evaluation.metrics.rfid, 3),
    weights: path.relative(REPO_ROOT, variant.weights),
  }));
}

/** Formats comparison rows as an aligned text table (n/a where a metric was skipped). */
export function formatComparison(rows: Record<string, string | number>[]): string {
  const columns = ['variant', 'psnr', 'ssim', 'swd', 'lpips', 'rfid'];
  const header = ['', 'PSNR dB', 'SSIM', 'SWD x1e3', 'LPIPS', 'rFID'];
  const cells = [header, ...rows.map((row) => columns.map((column) => String(row[column] ?? '') || 'n/a'))];
  const widths = header.map((_, i) => Math.max(...cells.map((line) => line[i]!.length)));
  return cells.map((line) => line.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ')).join('\n');
}

/** Runs the whole demo and returns what it measured. */
export async function runDemo(options: DemoOptions): Promise<DemoSummary> {
  const started = Date.now();
  checkInputs(options);
  const photos = await listPhotos(options.data);
  const demoDir = path.join(options.results, 'demo');
  await mkdir(demoDir, { recursive: true });

  log(`demo: partitioning ${photos.length} photos at 128 tokens ...`);
  const partitionCsv = path.join(options.results, 'demo-partition.csv');
  const partition = await writePartitionDemo(photos, path.join(demoDir, 'partition'), partitionCsv);

  const variants = [
    await runVariant('entropy', options.entropyWeights, options, demoDir),
    await runVariant('grid', options.gridWeights, options, demoDir),
  ];
  const rows = comparisonRows(variants);
  const comparisonCsv = path.join(options.results, 'demo.csv');
  await writeFile(comparisonCsv, stringify(rows, { header: true, columns: [...COMPARISON_COLUMNS] }));

  log('demo: drawing the comparison pictures ...');
  const pictures = await writeComparisonPictures(photos, demoDir);
  const files = [partitionCsv, path.join(options.results, 'demo-eval.csv'), path.join(options.results, 'demo-eval-grid.csv'), comparisonCsv, ...pictures];
  return { partition, variants, seconds: (Date.now() - started) / 1000, files };
}
