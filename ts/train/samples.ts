// Which image files a training run reads: a folder (searched recursively), a crops.tsv-style
// manifest with a `file` column, or a plain list with one path per line. Paths in a list are
// relative to the list's folder. The order is sorted, so runs on the same files agree.
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { UsageError } from '../cli/errors.ts';

export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.webp'];

function isImageFile(name: string): boolean {
  return IMAGE_EXTENSIONS.includes(path.extname(name).toLowerCase());
}

async function listFolder(folder: string): Promise<string[]> {
  const entries = await readdir(folder, { withFileTypes: true, recursive: true });
  return entries
    .filter((entry) => entry.isFile() && isImageFile(entry.name))
    .map((entry) => path.join(entry.parentPath ?? (entry as { path?: string }).path ?? folder, entry.name));
}

/** Parses a list file: a TSV whose header has a `file` column, or one path per line (`#` starts a comment). */
export function parseImageList(text: string, listFile: string): string[] {
  const lines = text.split(/\r?\n/).filter((line) => line.trim() !== '' && !line.startsWith('#'));
  const base = path.dirname(listFile);
  const header = lines[0]?.split('\t') ?? [];
  let files: string[];
  if (header.length > 1 || header[0] === 'file') {
    const column = header.indexOf('file');
    if (column < 0) throw new UsageError(`${listFile}: a TSV list needs a 'file' column; found ${header.join(', ')}`);
    files = lines.slice(1).map((line) => line.split('\t')[column] ?? '');
  } else {
    files = lines.map((line) => line.trim());
  }
  return files.filter((file) => file !== '').map((file) => path.resolve(base, file));
}

/** Resolves `--data` / `--eval-data` to a sorted list of image files. */
export async function listImages(source: string, flag: string): Promise<string[]> {
  let info;
  try {
    info = await stat(source);
  } catch (error) {
    throw new UsageError(`${flag} ${source}: no such file or folder`, { cause: error });
  }
  const files = info.isDirectory() ? await listFolder(source) : parseImageList(await readFile(source, 'utf8'), source);
  if (files.length === 0) {
    throw new UsageError(`${flag} ${source}: no images found (expected ${IMAGE_EXTENSIONS.join(', ')} files, or a list of them)`);
  }
  return [...new Set(files)].sort();
}

/** Splits off the last `holdout` files as the held-out set. */
export function holdOut(files: string[], holdout: number): { train: string[]; test: string[] } {
  if (holdout >= files.length) {
    throw new UsageError(`--holdout ${holdout} leaves no training images out of ${files.length}; use a smaller value`);
  }
  return { train: files.slice(0, files.length - holdout), test: files.slice(files.length - holdout) };
}
