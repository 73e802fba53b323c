// Input listing of a reconstruction run, and the output names that the published test script uses.
import { readFile, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { UsageError } from '../cli/errors.ts';

const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg', '.webp']);

export interface InputImage {
  /** Path as given (directory entry or list line resolved against the list's folder). */
  file: string;
  /** `<stem>.png`: the published script writes imgs/ and gt/ under the input stem with .png. */
  name: string;
}

/** Lists a folder's image files (sorted by name), or reads a text file of paths, one per line. */
export async function listInputs(data: string): Promise<InputImage[]> {
  let info;
  try {
    info = await stat(data);
  } catch (error) {
    throw new UsageError(`--data ${data}: no such folder or list file`, { cause: error });
  }
  const files = info.isDirectory() ? await listFolder(data) : await readList(data);
  if (files.length === 0) throw new UsageError(`--data ${data}: no images found (.png, .jpg, .jpeg, .webp)`);
  return withUniqueNames(files, data);
}

async function listFolder(folder: string): Promise<string[]> {
  const entries = await readdir(folder, { withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile() && IMAGE_EXTENSIONS.has(path.extname(entry.name).toLowerCase()))
    .map((entry) => path.join(folder, entry.name))
    .sort();
}

/** Blank lines and lines starting with '#' are skipped; relative paths are relative to the list. */
async function readList(list: string): Promise<string[]> {
  const text = await readFile(list, 'utf8');
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => path.resolve(path.dirname(list), line));
}

function withUniqueNames(files: string[], data: string): InputImage[] {
  const seen = new Map<string, string>();
  return files.map((file) => {
    const name = `${path.parse(file).name}.png`;
    const previous = seen.get(name);
    if (previous !== undefined) {
      throw new UsageError(`--data ${data}: ${previous} and ${file} would both be written as ${name}; rename one`);
    }
    seen.set(name, file);
    return { file, name };
  });
}
