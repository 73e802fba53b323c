// Benchmark image decoding and resizing against plain library calls, side by side in one run.
//
// Cases: the 48 embedded JPEGs and the golden partition PNGs (all 256x256). For each case the
// Pillow-exact path of ts/image is timed next to a plain call that makes no parity promise:
// sharp's raw decode, fast-png's decode, sharp's resize. Each implementation runs `REPEATS`
// rounds over all images after one warm-up round; the median round gives ms per image.
// Writes results/bench-decode.csv with the ratio to the plain call (above 1 = slower).
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'csv-stringify/sync';
import { decode as fastPngDecode } from 'fast-png';
import sharp from 'sharp';
import { REPO_ROOT } from '../ts/bridge/backend.ts';
import { decodeImageFile } from '../ts/image/decode.ts';
import { preprocessImage } from '../ts/image/preprocess.ts';
import { resizeImage } from '../ts/image/resize.ts';
import type { RgbImage } from '../ts/image/types.ts';

const REPEATS = 5;
const COLUMNS = ['case', 'images', 'implementation', 'median_ms_per_image', 'ratio_vs_plain', 'repeats', 'node', 'cpu'];

type Job = (file: string, index: number) => Promise<unknown> | unknown;

async function medianMsPerImage(files: string[], job: Job): Promise<number> {
  const rounds: number[] = [];
  for (let round = 0; round <= REPEATS; round++) {
    const start = performance.now();
    for (let i = 0; i < files.length; i++) await job(files[i]!, i);
    if (round > 0) rounds.push((performance.now() - start) / files.length);
  }
  rounds.sort((a, b) => a - b);
  return rounds[Math.floor(rounds.length / 2)]!;
}

const sharpRaw: Job = (file) => sharp(file).raw().toBuffer();

async function main(): Promise<void> {
  const jpegDir = path.join(REPO_ROOT, 'data', 'embedded');
  const pngDir = path.join(REPO_ROOT, '..', 'shared', 'golden', 'partition', 'images');
  const jpegs = readdirSync(jpegDir).filter((f) => f.endsWith('.jpg')).map((f) => path.join(jpegDir, f));
  const pngs = readdirSync(pngDir).filter((f) => f.endsWith('.png')).map((f) => path.join(pngDir, f));
  const decoded: RgbImage[] = await Promise.all(jpegs.map((f) => decodeImageFile(f)));
  const doubled = decoded.map((img) => resizeImage(img, 512, 512, 'bicubic'));

  const cases: Array<{ name: string; files: string[]; ours: [string, Job]; plain: [string, Job] }> = [
    { name: 'decode JPEG', files: jpegs, ours: ['decodeImageFile', (f) => decodeImageFile(f)], plain: ['sharp raw', sharpRaw] },
    { name: 'decode PNG', files: pngs, ours: ['decodeImageFile', (f) => decodeImageFile(f)], plain: ['fast-png decode', (f) => fastPngDecode(readFileSync(f))] },
    {
      name: 'resize 256 to 128 bicubic',
      files: jpegs,
      ours: ['resizeImage (Pillow)', (_, i) => resizeImage(decoded[i]!, 128, 128, 'bicubic')],
      plain: ['sharp resize cubic', (_, i) => sharpResize(decoded[i]!, 128)],
    },
    {
      name: 'preprocess 512 to 256',
      files: jpegs,
      ours: ['preprocessImage (OpenCV linear)', (_, i) => preprocessImage(doubled[i]!, 256)],
      plain: ['sharp resize linear', (_, i) => sharpResize(doubled[i]!, 256, 'linear')],
    },
  ];

  const rows: Array<Record<string, string | number>> = [];
  for (const c of cases) {
    const plainMs = await medianMsPerImage(c.files, c.plain[1]);
    const oursMs = await medianMsPerImage(c.files, c.ours[1]);
    for (const [implementation, ms] of [[c.plain[0], plainMs], [c.ours[0], oursMs]] as const) {
      rows.push({ case: c.name, images: c.files.length, implementation, median_ms_per_image: ms.toFixed(3), ratio_vs_plain: (ms / plainMs).toFixed(2), repeats: REPEATS, node: process.version, cpu: os.cpus()[0]?.model ?? 'unknown' });
    }
    process.stderr.write(`${c.name}: ${c.ours[0]} ${oursMs.toFixed(3)} ms/image, ${c.plain[0]} ${plainMs.toFixed(3)} ms/image\n`);
  }

  await mkdir(path.join(REPO_ROOT, 'results'), { recursive: true });
  await writeFile(path.join(REPO_ROOT, 'results', 'bench-decode.csv'), stringify(rows, { header: true, columns: COLUMNS }));
}

function sharpResize(img: RgbImage, size: number, kernel: 'cubic' | 'linear' = 'cubic'): Promise<Buffer> {
  return sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } }).resize(size, size, { kernel }).raw().toBuffer();
}

await main();
