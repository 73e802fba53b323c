// Reader for Qt binary resource bundles (.rcc), where GCompris keeps its photos.
//
// Layout (big-endian, Qt 5 and 6 rcc versions 1-3): "qres", then u32 version, tree offset,
// data offset, names offset (version 3 adds a u32 feature-flags word). The tree is an array
// of nodes, 14 bytes each in version 1 and 22 in versions 2-3 (a trailing u64 modification
// time); node 0 is the root directory. A node is u32 name offset, u16 flags
// (2 directory, 1 zlib, 4 zstd), then either u32 child count + u32 first child index
// (directory) or u16 country + u16 language + u32 data offset (file). A name is u16 length,
// u32 hash, UTF-16BE code units; a data entry is u32 length + bytes, and zlib entries start
// with a u32 uncompressed size before the zlib stream.
import { inflateSync } from 'node:zlib';
import { execa } from 'execa';

export const RCC_FLAG_COMPRESSED = 1;
export const RCC_FLAG_DIRECTORY = 2;
export const RCC_FLAG_COMPRESSED_ZSTD = 4;

export class RccFormatError extends Error {
  override name = 'RccFormatError';
}

export interface RccFile {
  /** Path inside the bundle with a leading `/`, e.g. `/gcompris/src/activities/erase/resource/bee.webp`. */
  path: string;
  flags: number;
  /** Stored bytes (still compressed when a compression flag is set). */
  stored: Buffer;
}

interface RccHeader {
  version: number;
  treeOffset: number;
  dataOffset: number;
  namesOffset: number;
  nodeSize: number;
}

function readHeader(bundle: Buffer, source: string): RccHeader {
  if (bundle.length < 20 || bundle.toString('latin1', 0, 4) !== 'qres') {
    throw new RccFormatError(`${source}: not a Qt resource bundle (expected the magic "qres")`);
  }
  const version = bundle.readUInt32BE(4);
  if (version < 1 || version > 3) throw new RccFormatError(`${source}: unsupported rcc format version ${version} (supported: 1, 2, 3)`);
  return {
    version,
    treeOffset: bundle.readUInt32BE(8),
    dataOffset: bundle.readUInt32BE(12),
    namesOffset: bundle.readUInt32BE(16),
    nodeSize: version === 1 ? 14 : 22,
  };
}

function checkRange(bundle: Buffer, start: number, length: number, what: string, source: string): void {
  if (start < 0 || start + length > bundle.length) throw new RccFormatError(`${source}: ${what} at byte ${start} lies outside the bundle (${bundle.length} bytes)`);
}

function readName(bundle: Buffer, header: RccHeader, offset: number, source: string): string {
  const start = header.namesOffset + offset;
  checkRange(bundle, start, 6, 'a name', source);
  const length = bundle.readUInt16BE(start);
  checkRange(bundle, start + 6, length * 2, 'a name', source);
  let name = '';
  for (let index = 0; index < length; index += 1) name += String.fromCharCode(bundle.readUInt16BE(start + 6 + index * 2));
  return name;
}

/** Lists every file of a bundle with its stored bytes. */
export function listRccFiles(bundle: Buffer, source: string): RccFile[] {
  const header = readHeader(bundle, source);
  const files: RccFile[] = [];
  const visited = new Set<number>();
  const visit = (index: number, parentPath: string, depth: number): void => {
    if (visited.has(index) || depth > 64) throw new RccFormatError(`${source}: the resource tree has a cycle at node ${index}`);
    visited.add(index);
    const start = header.treeOffset + index * header.nodeSize;
    checkRange(bundle, start, header.nodeSize, `tree node ${index}`, source);
    const flags = bundle.readUInt16BE(start + 4);
    const name = index === 0 ? '' : readName(bundle, header, bundle.readUInt32BE(start), source);
    const nodePath = index === 0 ? '' : `${parentPath}/${name}`;
    if (flags & RCC_FLAG_DIRECTORY) {
      const count = bundle.readUInt32BE(start + 6);
      const first = bundle.readUInt32BE(start + 10);
      for (let child = 0; child < count; child += 1) visit(first + child, nodePath, depth + 1);
      return;
    }
    const dataStart = header.dataOffset + bundle.readUInt32BE(start + 10);
    checkRange(bundle, dataStart, 4, `the data of ${nodePath}`, source);
    const length = bundle.readUInt32BE(dataStart);
    checkRange(bundle, dataStart + 4, length, `the data of ${nodePath}`, source);
    files.push({ path: nodePath, flags, stored: bundle.subarray(dataStart + 4, dataStart + 4 + length) });
  };
  visit(0, '', 0);
  return files;
}

/** Returns the file's bytes, decompressed (zlib in-process, zstd through the `zstd` program). */
export async function decompressRccFile(file: RccFile, source: string): Promise<Buffer> {
  if (file.flags & RCC_FLAG_COMPRESSED) {
    if (file.stored.length < 4) throw new RccFormatError(`${source}::${file.path}: compressed entry shorter than its size prefix`);
    const expected = file.stored.readUInt32BE(0);
    const data = inflateSync(file.stored.subarray(4));
    if (data.length !== expected) throw new RccFormatError(`${source}::${file.path}: inflated to ${data.length} bytes, the bundle declares ${expected}`);
    return data;
  }
  if (file.flags & RCC_FLAG_COMPRESSED_ZSTD) {
    try {
      const { stdout } = await execa('zstd', ['-dc'], { input: file.stored, encoding: 'buffer', stripFinalNewline: false });
      return Buffer.from(stdout);
    } catch (error) {
      throw new RccFormatError(`${source}::${file.path}: zstd-compressed entry could not be decompressed; install the zstd program (Debian package zstd)`, { cause: error });
    }
  }
  return Buffer.from(file.stored);
}

/** Extracts the listed inner paths; paths not in the bundle are returned in `missing`. */
export async function extractFromRcc(bundle: Buffer, innerPaths: string[], source: string): Promise<{ files: Map<string, Buffer>; missing: string[] }> {
  const byPath = new Map(listRccFiles(bundle, source).map((file) => [file.path, file]));
  const files = new Map<string, Buffer>();
  const missing: string[] = [];
  for (const inner of innerPaths) {
    const file = byPath.get(inner);
    if (file) files.set(inner, await decompressRccFile(file, source));
    else missing.push(inner);
  }
  return { files, missing };
}
