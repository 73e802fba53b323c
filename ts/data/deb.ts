// Extracts chosen files from a Debian package: ar container, data.tar.{xz,zst,gz,bz2} or
// plain data.tar, symbolic and hard links followed inside the package.
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { createGunzip } from 'node:zlib';
import { execa } from 'execa';
import { ArchiveFormatError, listArMembers, type ArMember } from './ar.ts';
import { normalizeArchivePath, readTar } from './tar.ts';

const MAX_LINK_DEPTH = 32;

/** Decompressors for the data.tar member; Debian 12 builds use xz, some use zstd. */
const DECOMPRESSORS: Record<string, string[] | 'gzip' | 'none'> = {
  'data.tar.xz': ['xz', '-dc'],
  'data.tar.zst': ['zstd', '-dc'],
  'data.tar.bz2': ['bzip2', '-dc'],
  'data.tar.gz': 'gzip',
  'data.tar': 'none',
};

export class PackageFileError extends Error {
  override name = 'PackageFileError';
}

/** Streams the decompressed bytes of the data.tar member. */
async function* dataTarChunks(debFile: string, member: ArMember): AsyncGenerator<Buffer> {
  const raw = createReadStream(debFile, { start: member.offset, end: member.offset + member.size - 1 });
  const decompressor = DECOMPRESSORS[member.name]!;
  if (decompressor === 'none') {
    yield* raw as AsyncIterable<Buffer>;
    return;
  }
  if (decompressor === 'gzip') {
    yield* raw.pipe(createGunzip()) as AsyncIterable<Buffer>;
    return;
  }
  const [command, ...args] = decompressor as [string, ...string[]];
  const child = execa(command, args, { stdin: 'pipe', buffer: false, stripFinalNewline: false, encoding: 'buffer' });
  raw.pipe(child.stdin!);
  raw.on('error', (error) => child.kill(error));
  let finished = false;
  try {
    yield* child.stdout! as AsyncIterable<Buffer>;
    await child;
    finished = true;
  } catch (error) {
    throw new ArchiveFormatError(`${debFile}: ${member.name} could not be decompressed with ${command} (is it installed?): ${(error as Error).message}`, { cause: error });
  } finally {
    if (!finished) {
      raw.destroy();
      child.kill();
      await child.catch(() => undefined);
    }
  }
}

/** Finds the data.tar member of a .deb, or explains what the file contains instead. */
export async function findDataMember(debFile: string): Promise<ArMember> {
  const members = await listArMembers(debFile);
  const data = members.find((member) => member.name.startsWith('data.tar'));
  if (!data) throw new ArchiveFormatError(`${debFile}: no data.tar member (members: ${members.map((m) => m.name).join(', ')})`);
  if (!(data.name in DECOMPRESSORS)) {
    throw new ArchiveFormatError(`${debFile}: ${data.name} uses an unsupported compression; supported: ${Object.keys(DECOMPRESSORS).join(', ')}`);
  }
  return data;
}

interface Link {
  type: 'symlink' | 'hardlink';
  target: string;
}

/**
 * Resolves a path through the package's links, component by component, so a link to a
 * directory in the middle of the path is followed too. Symbolic link targets are relative to
 * the link's directory; hard link targets are archive paths.
 */
export function resolveInPackage(wanted: string, links: Map<string, Link>): string {
  let parts = normalizeArchivePath(wanted).split('/');
  let followed = 0;
  for (let index = 0; index < parts.length; index += 1) {
    const prefix = parts.slice(0, index + 1).join('/');
    const link = links.get(prefix);
    if (!link) continue;
    followed += 1;
    if (followed > MAX_LINK_DEPTH) throw new PackageFileError(`${wanted}: more than ${MAX_LINK_DEPTH} links to follow (a link loop?)`);
    const base = link.type === 'hardlink' || link.target.startsWith('/') ? '' : path.posix.dirname(prefix);
    const joined = path.posix.normalize(path.posix.join('/', base, link.target));
    const target = normalizeArchivePath(joined);
    parts = [...(target === '' ? [] : target.split('/')), ...parts.slice(index + 1)];
    index = -1;
  }
  return parts.join('/');
}

/** One pass over data.tar, keeping the bodies of `wanted` files and recording every link. */
async function scanPackage(debFile: string, member: ArMember, wanted: Set<string>) {
  const files = new Map<string, Buffer>();
  const links = new Map<string, Link>();
  const seen = new Set<string>();
  for await (const entry of readTar(dataTarChunks(debFile, member), (e) => wanted.has(e.path), `${debFile}:${member.name}`)) {
    seen.add(entry.path);
    if (entry.data) files.set(entry.path, entry.data);
    if (entry.type === 'symlink' || entry.type === 'hardlink') links.set(entry.path, { type: entry.type, target: entry.linkTarget });
  }
  return { files, links, seen };
}

/**
 * Reads the given files (absolute or archive paths) out of a .deb. Returns the bytes per
 * requested path; a path that is missing from the package is absent from the map and listed
 * in `missing`. A second pass over the archive runs only when a link points at a file that
 * the first pass skipped.
 */
export async function extractFromDeb(debFile: string, requested: string[]): Promise<{ files: Map<string, Buffer>; missing: string[] }> {
  const member = await findDataMember(debFile);
  const normalized = new Map(requested.map((file) => [file, normalizeArchivePath(file)]));
  const first = await scanPackage(debFile, member, new Set(normalized.values()));

  const resolved = new Map<string, string>();
  for (const [file, archivePath] of normalized) resolved.set(file, first.files.has(archivePath) ? archivePath : resolveInPackage(archivePath, first.links));
  const secondWanted = new Set([...resolved.values()].filter((target) => !first.files.has(target) && first.seen.has(target)));
  const second = secondWanted.size > 0 ? await scanPackage(debFile, member, secondWanted) : undefined;

  const files = new Map<string, Buffer>();
  const missing: string[] = [];
  for (const [file, target] of resolved) {
    const data = first.files.get(target) ?? second?.files.get(target);
    if (data) files.set(file, data);
    else missing.push(file);
  }
  return { files, missing };
}
