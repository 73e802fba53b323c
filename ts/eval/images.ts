// Image folders for evaluation: listing, header checks (through Pillow) and pairing by name.
import { existsSync, statSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { runJob } from '../bridge/jobs.ts';
import { UsageError } from '../cli/errors.ts';
import { countOf } from '../cli/output.ts';

export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.webp', '.bmp', '.tif', '.tiff'];
const SHOWN = 5;

export interface ImageInfo {
  file: string;
  width: number;
  height: number;
  mode: string;
  bits: number;
  alpha: boolean;
  error?: string;
}

export interface ImageSet {
  label: 'real' | 'fake';
  folder: string;
  files: string[];
  width: number;
  height: number;
  /** Files stored as greyscale or palette images, expanded to RGB before evaluation. */
  expanded: string[];
}

function listFirst(items: string[]): string {
  const shown = items.slice(0, SHOWN).join(', ');
  return items.length > SHOWN ? `${shown} and ${items.length - SHOWN} more` : shown;
}

/** Lists the image files of a folder (sorted by name), with errors for a missing or empty folder. */
export async function listImageFiles(folder: string, flag: string): Promise<string[]> {
  if (!existsSync(folder)) throw new UsageError(`${flag} ${folder}: folder not found`);
  if (!statSync(folder).isDirectory()) throw new UsageError(`${flag} ${folder}: not a folder`);
  const names = (await readdir(folder)).filter((name) => IMAGE_EXTENSIONS.includes(path.extname(name).toLowerCase())).sort();
  if (names.length === 0) {
    throw new UsageError(`${flag} ${folder}: no image files found (looked for ${IMAGE_EXTENSIONS.join(' ')})`);
  }
  // Absolute paths: backend jobs run with the repository as their working folder.
  return names.map((name) => path.resolve(folder, name));
}

/** Reads the header of every file with Pillow in one backend job. */
export async function probeImages(files: string[]): Promise<ImageInfo[]> {
  return runJob<ImageInfo[]>('metrics.eval_job:probe_images', { files }, { stderr: 'inherit', env: { OMP_NUM_THREADS: '1' } });
}

/**
 * Checks one folder: every file decodable, 8-bit, no alpha, one size for all, at least
 * `minSide` pixels per side. Greyscale and palette images are accepted and reported.
 */
export function checkImageSet(label: 'real' | 'fake', folder: string, infos: ImageInfo[], minSide: number): ImageSet {
  const flag = `--${label} ${folder}`;
  const name = (info: ImageInfo) => path.basename(info.file);
  const broken = infos.filter((info) => info.error);
  if (broken.length > 0) {
    throw new UsageError(`${flag}: ${countOf(broken.length, 'file')} cannot be read as images: ${listFirst(broken.map((i) => `${name(i)} (${i.error})`))}`);
  }
  const alpha = infos.filter((info) => info.alpha);
  if (alpha.length > 0) {
    throw new UsageError(`${flag}: ${countOf(alpha.length, 'image')} ${alpha.length === 1 ? 'has' : 'have'} an alpha channel: ${listFirst(alpha.map(name))}; metrics are defined on RGB, so save them without alpha first`);
  }
  const deep = infos.filter((info) => info.bits !== 8);
  if (deep.length > 0) {
    throw new UsageError(
      `${flag}: ${countOf(deep.length, 'image')} ${deep.length === 1 ? 'has' : 'have'} ${deep[0]?.bits}-bit samples: ${listFirst(deep.map(name))}; ` +
        'the metrics follow the 8-bit convention of the published tools, so convert them to 8-bit RGB first (the rounding changes FID)',
    );
  }
  const sizes = new Map<string, string[]>();
  for (const info of infos) {
    const key = `${info.width}x${info.height}`;
    sizes.set(key, [...(sizes.get(key) ?? []), name(info)]);
  }
  if (sizes.size > 1) {
    const listing = [...sizes.entries()].map(([size, files]) => `${size} (${files.length}: ${listFirst(files)})`).join('; ');
    throw new UsageError(`${flag}: images have different sizes: ${listing}; resize the folder to one size first`);
  }
  const [first] = infos as [ImageInfo];
  if (Math.min(first.width, first.height) < minSide) {
    throw new UsageError(`${flag}: images are ${first.width}x${first.height}, but the requested metrics need at least ${minSide}x${minSide}`);
  }
  const expanded = infos.filter((info) => ['L', '1', 'P'].includes(info.mode)).map((info) => info.file);
  return { label, folder, files: infos.map((info) => info.file), width: first.width, height: first.height, expanded };
}

const stem = (file: string) => path.basename(file, path.extname(file));

/**
 * Pairs real and fake files by file name without extension (reconstructions are often PNG
 * while originals are JPEG). Every file must have a partner; the first few unpaired names
 * of each side are listed otherwise.
 */
export function pairByName(real: string[], fake: string[]): { real: string[]; fake: string[] } {
  const index = (files: string[], flag: string) => {
    const map = new Map<string, string>();
    for (const file of files) {
      const key = stem(file);
      const previous = map.get(key);
      if (previous) throw new UsageError(`${flag}: ${path.basename(previous)} and ${path.basename(file)} have the same name without extension, so pairing is ambiguous`);
      map.set(key, file);
    }
    return map;
  };
  const realByName = index(real, '--real');
  const fakeByName = index(fake, '--fake');
  const onlyReal = [...realByName.keys()].filter((key) => !fakeByName.has(key));
  const onlyFake = [...fakeByName.keys()].filter((key) => !realByName.has(key));
  if (onlyReal.length > 0 || onlyFake.length > 0) {
    const parts = [];
    if (onlyReal.length > 0) parts.push(`${countOf(onlyReal.length, 'real image')} ${onlyReal.length === 1 ? 'has' : 'have'} no fake partner: ${listFirst(onlyReal)}`);
    if (onlyFake.length > 0) parts.push(`${countOf(onlyFake.length, 'fake image')} ${onlyFake.length === 1 ? 'has' : 'have'} no real partner: ${listFirst(onlyFake)}`);
    throw new UsageError(`paired metrics (psnr, ssim, lpips) match files by name without extension, but ${parts.join('; ')}`);
  }
  const keys = [...realByName.keys()].sort();
  return { real: keys.map((key) => realByName.get(key) as string), fake: keys.map((key) => fakeByName.get(key) as string) };
}
