// Partition speed: ms per 256x256 photo on one thread at 64, 128 and 256 tokens over the 48
// embedded photos, images/s with every core (worker pool, decode included), and the same
// partition in a plain numpy port (bench/partition_reference.py) measured in the same run.
//
// Times are CPU time of the measuring process (user + system) next to wall time: on a shared
// machine other processes stretch wall time, while CPU time tracks the work done. The ratio
// uses CPU time. OpenCV is not installed here, so the Python side is our numpy port of the
// published algorithm, not the published OpenCV code.
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'csv-stringify/sync';
import { execa } from 'execa';
import { REPO_ROOT } from '../ts/bridge/backend.ts';
import { decodeImageFile } from '../ts/image/decode.ts';
import type { RgbImage } from '../ts/image/types.ts';
import type { PartitionJob, PartitionJobOutcome } from '../ts/partition/job.ts';
import { partitionImage } from '../ts/partition/partition.ts';
import { defaultWorkerCount, runInWorkers } from '../ts/util/pool.ts';

const TOKEN_COUNTS = [64, 128, 256] as const;
const PYTHON = process.env.GPSTOKEN_BENCH_PYTHON ?? '/usr/bin/python3';
const CSV_PATH = path.join(REPO_ROOT, 'results', 'bench-partition.csv');
const COLUMNS = ['implementation', 'measure', 'tokens', 'threads', 'images', 'value', 'unit', 'wall_value', 'node_version', 'date', 'cpu_model'] as const;

type Row = Record<(typeof COLUMNS)[number], string | number>;

function cpuMs(start: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}

async function embeddedPhotos(): Promise<string[]> {
  const folder = path.join(REPO_ROOT, 'data', 'embedded');
  return (await readdir(folder)).filter((name) => name.endsWith('.jpg')).sort().map((name) => path.join(folder, name));
}

/** Single-thread ms per image (CPU and wall), after one warm-up pass. */
function timeSingleThread(images: readonly RgbImage[], tokens: number): { cpu: number; wall: number; layouts: Int32Array[] } {
  for (const img of images.slice(0, 4)) partitionImage(img, { tokens });
  const wallStart = performance.now();
  const cpuStart = process.cpuUsage();
  const layouts = images.map((img) => partitionImage(img, { tokens }).pixelRegions);
  return { cpu: cpuMs(cpuStart) / images.length, wall: (performance.now() - wallStart) / images.length, layouts };
}

/** Images per second through the worker pool (decode and partition), wall time. */
async function timePool(files: readonly string[], tokens: number, workers: number): Promise<number> {
  const jobs: PartitionJob[] = files.map((image, i) => ({ image, tokens, weight: 2.5, minhw: 8, focus: [], stem: String(i) }));
  const start = performance.now();
  const outcomes = await runInWorkers<PartitionJob, PartitionJobOutcome>(new URL('../ts/partition/worker.ts', import.meta.url), jobs, { workers });
  const seconds = (performance.now() - start) / 1000;
  const failed = outcomes.filter((outcome) => !outcome.ok);
  if (failed.length > 0) throw new Error(`pool run failed on ${failed.length} images`);
  return files.length / seconds;
}

interface ReferenceTimings {
  ms_per_image: Record<string, number>;
  cpu_ms_per_image: Record<string, number>;
  layouts: Record<string, number[][][]>;
}

async function runReference(files: readonly string[]): Promise<ReferenceTimings> {
  const script = path.join(REPO_ROOT, 'bench', 'partition_reference.py');
  const run = await execa(PYTHON, [script, '--tokens', TOKEN_COUNTS.join(','), ...files], { env: { OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1' } });
  return JSON.parse(run.stdout) as ReferenceTimings;
}

function sameLayouts(ours: Int32Array[], theirs: number[][][]): number {
  let same = 0;
  ours.forEach((layout, i) => {
    if (JSON.stringify(Array.from(layout)) === JSON.stringify((theirs[i] ?? []).flat())) same += 1;
  });
  return same;
}

async function main(): Promise<void> {
  const files = await embeddedPhotos();
  const images = await Promise.all(files.map((file) => decodeImageFile(file)));
  const context = { node_version: process.version, date: new Date().toISOString(), cpu_model: os.cpus()[0]?.model ?? 'unknown' };
  const rows: Row[] = [];
  const add = (row: Omit<Row, keyof typeof context>): void => void rows.push({ ...row, ...context });

  const layouts = new Map<number, Int32Array[]>();
  for (const tokens of TOKEN_COUNTS) {
    const timing = timeSingleThread(images, tokens);
    layouts.set(tokens, timing.layouts);
    add({ implementation: 'typescript', measure: 'ms_per_image', tokens, threads: 1, images: images.length, value: timing.cpu.toFixed(2), unit: 'cpu ms', wall_value: timing.wall.toFixed(2) });
    process.stderr.write(`typescript, ${tokens} tokens: ${timing.cpu.toFixed(2)} ms/image CPU (${timing.wall.toFixed(2)} wall)\n`);
  }

  const workers = defaultWorkerCount();
  const rate = await timePool(files, 128, workers);
  add({ implementation: 'typescript', measure: 'images_per_second', tokens: 128, threads: workers, images: files.length, value: rate.toFixed(1), unit: 'images/s wall, decode included', wall_value: rate.toFixed(1) });
  process.stderr.write(`typescript pool, ${workers} threads, 128 tokens: ${rate.toFixed(1)} images/s\n`);

  const reference = await runReference(files);
  for (const tokens of TOKEN_COUNTS) {
    const cpu = reference.cpu_ms_per_image[String(tokens)]!;
    const wall = reference.ms_per_image[String(tokens)]!;
    const agree = sameLayouts(layouts.get(tokens)!, reference.layouts[String(tokens)] ?? []);
    const ours = Number(rows.find((row) => row.tokens === tokens && row.implementation === 'typescript')!.value);
    add({ implementation: 'numpy_port', measure: 'ms_per_image', tokens, threads: 1, images: files.length, value: cpu.toFixed(2), unit: 'cpu ms', wall_value: wall.toFixed(2) });
    add({ implementation: 'numpy_port', measure: 'speed_ratio', tokens, threads: 1, images: files.length, value: (cpu / ours).toFixed(2), unit: 'numpy cpu ms / typescript cpu ms', wall_value: '' });
    add({ implementation: 'numpy_port', measure: 'identical_layouts', tokens, threads: 1, images: files.length, value: agree, unit: 'images', wall_value: '' });
    process.stderr.write(`numpy port, ${tokens} tokens: ${cpu.toFixed(2)} ms/image CPU, ${(cpu / ours).toFixed(2)}x the TypeScript time, ${agree}/${files.length} identical layouts\n`);
  }

  await mkdir(path.dirname(CSV_PATH), { recursive: true });
  await writeFile(CSV_PATH, stringify(rows, { header: true, columns: [...COLUMNS] }));
  process.stderr.write(`wrote ${CSV_PATH}\n`);
}

await main();
