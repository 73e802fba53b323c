// The photo pool manifest (pool.tsv): which file of which Debian package is a photo,
// its sha256, licence and group, and the file name it gets in the fetched pool.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { UsageError } from '../cli/errors.ts';

export const MANIFEST_COLUMNS = ['package', 'version', 'path', 'sha256', 'width', 'height', 'license', 'is_photo', 'note'] as const;

/** One row of pool.tsv. `innerPath` is set for a file inside a Qt resource bundle (`BUNDLE.rcc::/inner`). */
export interface PoolEntry {
  package: string;
  version: string;
  /** Path of the file (or of the .rcc bundle) inside the package, e.g. `/usr/share/backgrounds/x.jpg`. */
  packagePath: string;
  innerPath?: string;
  sha256: string;
  width: number;
  height: number;
  license: string;
  isPhoto: boolean;
  note: string;
  group: string;
  /** Flat file name in the fetched pool, unique within the manifest. */
  fileName: string;
  split: 'train' | 'test';
}

/**
 * Splits one TSV line into fields. A field may be quoted the CSV way (`"a ""b"" c"`), which is
 * how the manifest stores notes that contain double quotes.
 */
export function splitTsvLine(line: string): string[] {
  const fields: string[] = [];
  let index = 0;
  while (index <= line.length) {
    if (line[index] === '"') {
      let value = '';
      index += 1;
      while (index < line.length) {
        if (line[index] === '"' && line[index + 1] === '"') {
          value += '"';
          index += 2;
        } else if (line[index] === '"') {
          index += 1;
          break;
        } else {
          value += line[index];
          index += 1;
        }
      }
      fields.push(value);
      index = line.indexOf('\t', index) === -1 ? line.length + 1 : line.indexOf('\t', index) + 1;
    } else {
      const end = line.indexOf('\t', index);
      fields.push(line.slice(index, end === -1 ? line.length : end));
      index = end === -1 ? line.length + 1 : end + 1;
    }
  }
  return fields;
}

/** Reads the group id from a note that starts with `group=<id>;`. */
export function groupOfNote(note: string, where: string): string {
  const match = /^group=([^;]+);/.exec(note);
  if (!match?.[1]) throw new UsageError(`${where}: the note must start with "group=<id>;", found ${JSON.stringify(note.slice(0, 60))}`);
  return match[1];
}

/**
 * Returns the split of a group: test when the first 8 hex digits of SHA-1(group id, UTF-8),
 * read as an integer, are divisible by 5, else train. Splitting by group keeps stereo pairs,
 * sequences and edited copies of one scene on the same side.
 */
export function splitOfGroup(group: string): 'train' | 'test' {
  const prefix = createHash('sha1').update(group, 'utf8').digest('hex').slice(0, 8);
  return Number.parseInt(prefix, 16) % 5 === 0 ? 'test' : 'train';
}

/** Parses pool.tsv text; `source` names the file in error messages. */
export function parseManifest(text: string, source: string): PoolEntry[] {
  const lines = text.split(/\r?\n/).filter((line) => line.trim() !== '');
  const header = splitTsvLine(lines[0] ?? '');
  if (header.join('\t') !== MANIFEST_COLUMNS.join('\t')) {
    throw new UsageError(`${source}: expected the header ${MANIFEST_COLUMNS.join(',')}, found ${header.join(',')}`);
  }
  const entries = lines.slice(1).map((line, index) => parseRow(splitTsvLine(line), `${source}:${index + 2}`));
  assignFileNames(entries);
  return entries;
}

function parseRow(fields: string[], where: string): PoolEntry {
  if (fields.length !== MANIFEST_COLUMNS.length) {
    throw new UsageError(`${where}: expected ${MANIFEST_COLUMNS.length} tab-separated fields, found ${fields.length}`);
  }
  const [pkg, version, rawPath, sha256, width, height, license, isPhoto, note] = fields as [string, string, string, string, string, string, string, string, string];
  if (!/^[0-9a-f]{64}$/.test(sha256)) throw new UsageError(`${where}: sha256 must be 64 lowercase hex digits, found ${JSON.stringify(sha256)}`);
  const [packagePath, innerPath] = rawPath.split('::') as [string, string | undefined];
  const group = groupOfNote(note, where);
  return {
    package: pkg,
    version,
    packagePath,
    ...(innerPath === undefined ? {} : { innerPath }),
    sha256,
    width: Number(width),
    height: Number(height),
    license,
    isPhoto: isPhoto === 'yes',
    note,
    group,
    fileName: '',
    split: splitOfGroup(group),
  };
}

/**
 * Names each file `<package>__<basename>` (`<package>__<bundle>__<basename>` inside a bundle);
 * names that would collide get the first 8 digits of the sha256 before the extension.
 */
function assignFileNames(entries: PoolEntry[]): void {
  const counts = new Map<string, number>();
  const baseNames = entries.map((entry) => {
    const bundle = entry.innerPath === undefined ? '' : `${path.posix.basename(entry.packagePath, '.rcc')}__`;
    const name = `${entry.package}__${bundle}${path.posix.basename(entry.innerPath ?? entry.packagePath)}`.replace(/[^A-Za-z0-9._+-]/g, '_');
    counts.set(name, (counts.get(name) ?? 0) + 1);
    return name;
  });
  entries.forEach((entry, index) => {
    const name = baseNames[index]!;
    if (counts.get(name) === 1) {
      entry.fileName = name;
      return;
    }
    const extension = path.posix.extname(name);
    entry.fileName = `${name.slice(0, name.length - extension.length)}-${entry.sha256.slice(0, 8)}${extension}`;
  });
}

export async function readManifest(file: string): Promise<PoolEntry[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read the pool manifest ${file}: ${(error as Error).message}`, { cause: error });
  }
  return parseManifest(text, file);
}
