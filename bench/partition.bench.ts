// Partition speed: ms per 256x256 photo on one thread at 64, 128 and 256 tokens over the 48
// embedded photos, images/s with every core (worker pool, decode included), and the same
// partition in a plain numpy port (bench/partition_reference.py) measured in the same run.
// The two complexity kernels (WebAssembly SIMD, the default, and the asm.js fallback) are timed
// side by side at 128 tokens, each in its own child process, alternating, best of three each:
// timing both in one process lets one kernel's garbage and JIT state slow the other.
//
// Times are CPU time of the measuring process (user + system) next to wall time: on a shared
// machine other processes stretch wall time, while CPU time tracks the work done. The ratio
// uses CPU time. OpenCV is not installed here, so the Python side is our numpy port of the
// published algorithm, not the published OpenCV code.
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'csv-stringify/sync';
import { execa } from 'execa';
import { REPO_ROOT } from '../ts/bridge/backend.ts';
import { decodeImageFile } from '../ts/image/decode.ts';
import type { RgbImage } from '../ts/image/types.ts';
import { defaultComplexityKernel, KERNEL_ENV, type ComplexityKernel } from '../ts/partition/complexity.ts';
import type { PartitionJob, PartitionJobOutcome } from '../ts/partition/job.ts';
import { partitionImage } from '../ts/partition/partition.ts';
import { defaultWorkerCount, runInWorkers } from '../ts/util/pool.ts';

const TOKEN_COUNTS = [64, 128, 256] as const;
const PYTHON = process.env.GPSTOKEN_BENCH_PYTHON ?? '/usr/bin/python3';
const CSV_PATH = path.join(REPO_ROOT, 'results', 'bench-partition.csv');
const COLUMNS = ['implementation', 'measure', 'tokens', 'threads', 'images', 'value', 'unit', 'wall_value', 'load_average', 'node_version', 'date', 'cpu_model'] as const;
const KERNEL_TOKENS = 128;
const KERNEL_ROUNDS = 3;

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

interface KernelTiming {
  kernel: ComplexityKernel;
  cpu: number;
  wall: number;
  layouts: string;
}

/** Child-process mode: times one kernel (from the environment) at 128 tokens and prints JSON. */
async function kernelChild(): Promise<void> {
  const images = await Promise.all((await embeddedPhotos()).map((file) => decodeImageFile(file)));
  const timing = timeSingleThread(images, KERNEL_TOKENS);
  const layouts = JSON.stringify(timing.layouts.map((layout) => Array.from(layout)));
  const result: KernelTiming = { kernel: defaultComplexityKernel(), cpu: timing.cpu, wall: timing.wall, layouts };
  process.stdout.write(JSON.stringify(result));
}

/** Best CPU time of each kernel over alternating child runs (asm.js, wasm, asm.js, ...). */
async function timeKernels(): Promise<Map<ComplexityKernel, KernelTiming>> {
  const best = new Map<ComplexityKernel, KernelTiming>();
  for (let round = 0; round < KERNEL_ROUNDS; round += 1) {
    for (const kernel of ['asmjs', 'wasm'] as const) {
      const run = await execa(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--kernel-child'], {
        cwd: REPO_ROOT,
        env: { [KERNEL_ENV]: kernel },
      });
      const timing = JSON.parse(run.stdout) as KernelTiming;
      if (timing.kernel !== kernel) throw new Error(`child ran the ${timing.kernel} kernel, expected ${kernel}`);
      process.stderr.write(`  run ${round + 1}/${KERNEL_ROUNDS}, ${kernel}: ${timing.cpu.toFixed(2)} ms/image CPU (${timing.wall.toFixed(2)} wall), load average ${loadAverage()}\n`);
      if (timing.cpu < (best.get(kernel)?.cpu ?? Infinity)) best.set(kernel, timing);
    }
  }
  return best;
}

function loadAverage(): string {
  return os.loadavg().map((value) => value.toFixed(2)).join(' ');
}

async function main(): Promise<void> {
  const files = await embeddedPhotos();
  const images = await Promise.all(files.map((file) => decodeImageFile(file)));
  const context = { node_version: process.version, date: new Date().toISOString(), cpu_model: os.cpus()[0]?.model ?? 'unknown' };
  const rows: Row[] = [];
  const add = (row: Omit<Row, keyof typeof context | 'load_average'>): void => void rows.push({ ...row, load_average: loadAverage(), ...context });

  process.stderr.write(`load average ${loadAverage()} on ${os.cpus().length} CPUs\n`);
  const kernels = await timeKernels();
  const asmjs = kernels.get('asmjs')!;
  const wasm = kernels.get('wasm')!;
  for (const timing of [asmjs, wasm]) {
    add({ implementation: `typescript_${timing.kernel}`, measure: 'ms_per_image', tokens: KERNEL_TOKENS, threads: 1, images: files.length, value: timing.cpu.toFixed(2), unit: `cpu ms, best of ${KERNEL_ROUNDS} child runs`, wall_value: timing.wall.toFixed(2) });
    process.stderr.write(`${timing.kernel} kernel, ${KERNEL_TOKENS} tokens: ${timing.cpu.toFixed(2)} ms/image CPU (${timing.wall.toFixed(2)} wall)\n`);
  }
  const sameKernelLayouts = asmjs.layouts === wasm.layouts;
  add({ implementation: 'typescript_wasm', measure: 'speed_ratio', tokens: KERNEL_TOKENS, threads: 1, images: files.length, value: (asmjs.cpu / wasm.cpu).toFixed(2), unit: 'asmjs cpu ms / wasm cpu ms', wall_value: (asmjs.wall / wasm.wall).toFixed(2) });
  add({ implementation: 'typescript_wasm', measure: 'identical_layouts', tokens: KERNEL_TOKENS, threads: 1, images: files.length, value: sameKernelLayouts ? files.length : 0, unit: 'images (wasm vs asmjs)', wall_value: '' });
  process.stderr.write(`wasm kernel ${(asmjs.cpu / wasm.cpu).toFixed(2)}x faster than asm.js (CPU), layouts ${sameKernelLayouts ? 'identical' : 'DIFFERENT'}\n`);

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

if (process.argv.includes('--kernel-child')) await kernelChild();
else await main();
