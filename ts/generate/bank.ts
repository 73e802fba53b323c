// Layout banks: entropy-partition layouts of real images, grouped by class, in one safetensors
// file that py_kernels/layout/bank.py reads (tensors `layouts` [M, N, 5] float32 and `classes`
// [M] int32; metadata format, tokens, class_names, partition, source).
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { decodeImageFile } from '../image/decode.ts';
import { preprocessImage } from '../image/preprocess.ts';
import { partitionImage } from '../partition/partition.ts';
import { writeSafetensors } from '../util/safetensors.ts';

export const BANK_FORMAT = 'gpstoken-layout-bank';
const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg', '.webp']);

export interface BankImage {
  file: string;
  className: string;
}

export interface BankOptions {
  tokens: number;
  weight?: number;
  minhw?: number;
  /** Preprocess every image to this side (shorter side scaled, centre crop) before partitioning. */
  size?: number;
  onProgress?: (done: number, total: number, file: string) => void;
}

export interface BankSummary {
  images: number;
  classes: string[];
  failures: { file: string; reason: string }[];
}

function isImage(name: string): boolean {
  return IMAGE_EXTENSIONS.has(path.extname(name).toLowerCase());
}

/**
 * Lists the images under `root`. Files in sub-folders take the sub-folder's name as class
 * (the ImageFolder convention). When no sub-folder contains images, the images of `root`
 * form one class named after the folder. The list is sorted, so class ids are stable.
 */
export async function listClassImages(root: string): Promise<BankImage[]> {
  const entries = (await readdir(root, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
  const images: BankImage[] = [];
  for (const entry of entries) {
    if (!entry.isDirectory()) continue;
    const names = (await readdir(path.join(root, entry.name))).filter(isImage).sort();
    for (const name of names) images.push({ file: path.join(root, entry.name, name), className: entry.name });
  }
  if (images.length > 0) return images;
  const flat = entries.filter((entry) => entry.isFile() && isImage(entry.name));
  return flat.map((entry) => ({ file: path.join(root, entry.name), className: path.basename(path.resolve(root)) }));
}

/** Partitions every image and writes the bank; unreadable or unsuitable images are listed, not fatal. */
export async function writeLayoutBank(out: string, images: BankImage[], options: BankOptions): Promise<BankSummary> {
  if (!(await stat(path.dirname(path.resolve(out))).catch(() => undefined))) {
    throw new Error(`the folder of ${out} does not exist`);
  }
  const classNames = [...new Set(images.map((image) => image.className))].sort();
  const layouts: Float32Array[] = [];
  const classes: number[] = [];
  const failures: BankSummary['failures'] = [];
  for (const [index, image] of images.entries()) {
    try {
      const raw = await decodeImageFile(image.file);
      const decoded = options.size !== undefined ? preprocessImage(raw, options.size) : raw;
      const result = partitionImage(decoded, { tokens: options.tokens, weight: options.weight, minhw: options.minhw });
      if (result.tiles.columns * result.tiles.rows !== 1) {
        throw new Error(`image is ${decoded.width}x${decoded.height}; a bank stores single-patch layouts, so resize it to at most 256x256`);
      }
      layouts.push(result.gpscodes);
      classes.push(classNames.indexOf(image.className));
    } catch (error) {
      failures.push({ file: image.file, reason: error instanceof Error ? error.message : String(error) });
    }
    options.onProgress?.(index + 1, images.length, image.file);
  }
  if (layouts.length === 0) throw new Error(`no layouts: all ${images.length} images failed (first: ${failures[0]?.reason ?? 'no images'})`);

  const flat = new Float32Array(layouts.length * options.tokens * 5);
  layouts.forEach((layout, i) => flat.set(layout, i * options.tokens * 5));
  await writeSafetensors(
    out,
    {
      layouts: { dtype: 'F32', shape: [layouts.length, options.tokens, 5], data: flat },
      classes: { dtype: 'I32', shape: [classes.length], data: Int32Array.from(classes) },
    },
    {
      format: BANK_FORMAT,
      tokens: String(options.tokens),
      class_names: JSON.stringify(classNames),
      partition: JSON.stringify({ tokens: options.tokens, weight: options.weight ?? null, minhw: options.minhw ?? null, size: options.size ?? null }),
      source: JSON.stringify({ images: layouts.length, failed: failures.length }),
    },
  );
  return { images: layouts.length, classes: classNames, failures };
}
