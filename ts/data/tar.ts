// Streaming reader for tar archives (ustar, GNU long names, pax headers), enough for the
// data.tar of a Debian package. Bodies are read into memory only for the entries a caller
// keeps; the rest are skipped, so a 300 MB archive never sits in memory.
import { ArchiveFormatError } from './ar.ts';

export type TarEntryType = 'file' | 'directory' | 'symlink' | 'hardlink' | 'other';

export interface TarEntry {
  /** Path without a leading `./` or `/`, e.g. `usr/share/backgrounds/x.jpg`. */
  path: string;
  type: TarEntryType;
  size: number;
  /** Target of a symbolic or hard link, as stored. */
  linkTarget: string;
}

const BLOCK = 512;

/** Strips `./` and `/` prefixes and a trailing `/`, so tar names compare with manifest paths. */
export function normalizeArchivePath(name: string): string {
  return name.replace(/^(\.\/|\/)+/, '').replace(/\/+$/, '');
}

/** Pulls exact byte counts out of a stream of chunks. */
class ChunkReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private done = false;

  constructor(private readonly source: AsyncIterator<Buffer | Uint8Array>) {}

  private async fill(count: number): Promise<void> {
    while (this.buffered < count && !this.done) {
      const next = await this.source.next();
      if (next.done) {
        this.done = true;
        break;
      }
      const chunk = Buffer.isBuffer(next.value) ? next.value : Buffer.from(next.value);
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
  }

  /** Returns exactly `count` bytes, or fewer at the end of the stream. */
  async read(count: number): Promise<Buffer> {
    await this.fill(count);
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    const taken = all.subarray(0, Math.min(count, all.length));
    const rest = all.subarray(taken.length);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.buffered = rest.length;
    return taken;
  }

  /** Skips `count` bytes without keeping them; returns how many were skipped. */
  async skip(count: number): Promise<number> {
    let left = count;
    while (left > 0) {
      if (this.buffered === 0) {
        await this.fill(1);
        if (this.buffered === 0) break;
      }
      const head = this.chunks[0]!;
      if (head.length <= left) {
        left -= head.length;
        this.buffered -= head.length;
        this.chunks.shift();
      } else {
        this.chunks[0] = head.subarray(left);
        this.buffered -= left;
        left = 0;
      }
    }
    return count - left;
  }
}

function readString(block: Buffer, start: number, length: number): string {
  const field = block.subarray(start, start + length);
  const end = field.indexOf(0);
  return field.toString('utf8', 0, end === -1 ? length : end);
}

/** Reads a numeric header field: octal text, or GNU base-256 when the high bit is set. */
function readNumber(block: Buffer, start: number, length: number): number {
  const first = block[start]!;
  if (first & 0x80) {
    let value = first & 0x7f;
    for (let index = 1; index < length; index += 1) value = value * 256 + block[start + index]!;
    return value;
  }
  const text = readString(block, start, length).trim();
  return text === '' ? 0 : Number.parseInt(text, 8);
}

function verifyChecksum(block: Buffer): boolean {
  const stored = readNumber(block, 148, 8);
  let sum = 0;
  for (let index = 0; index < BLOCK; index += 1) sum += index >= 148 && index < 156 ? 32 : block[index]!;
  return sum === stored;
}

/** Parses pax records `"<len> key=value\n"`. */
function parsePax(data: Buffer): Map<string, string> {
  const records = new Map<string, string>();
  let position = 0;
  while (position < data.length) {
    const space = data.indexOf(0x20, position);
    if (space === -1) break;
    const length = Number.parseInt(data.toString('latin1', position, space), 10);
    if (!Number.isFinite(length) || length <= 0) break;
    const record = data.toString('utf8', space + 1, position + length - 1);
    const equals = record.indexOf('=');
    if (equals > 0) records.set(record.slice(0, equals), record.slice(equals + 1));
    position += length;
  }
  return records;
}

function entryType(flag: string): TarEntryType {
  if (flag === '0' || flag === '\0' || flag === '' || flag === '7') return 'file';
  if (flag === '5') return 'directory';
  if (flag === '2') return 'symlink';
  if (flag === '1') return 'hardlink';
  return 'other';
}

/**
 * Walks a tar stream and yields every entry; `keep(entry)` decides whether the body is read
 * into `data` (otherwise it is skipped). `source` names the archive in errors.
 */
export async function* readTar(
  chunks: AsyncIterable<Buffer | Uint8Array>,
  keep: (entry: TarEntry) => boolean,
  source: string,
): AsyncGenerator<TarEntry & { data?: Buffer }> {
  const reader = new ChunkReader(chunks[Symbol.asyncIterator]());
  let longName: string | undefined;
  let longLink: string | undefined;
  let pax = new Map<string, string>();
  for (;;) {
    const block = await reader.read(BLOCK);
    if (block.length === 0) return;
    if (block.length < BLOCK) throw new ArchiveFormatError(`${source}: tar stream ends inside a header`);
    if (block.every((byte) => byte === 0)) return;
    if (!verifyChecksum(block)) throw new ArchiveFormatError(`${source}: tar header checksum mismatch; the archive is corrupt`);

    const flag = String.fromCharCode(block[156]!);
    const size = pax.has('size') ? Number(pax.get('size')) : readNumber(block, 124, 12);
    const padded = Math.ceil(size / BLOCK) * BLOCK;

    if (flag === 'L' || flag === 'K' || flag === 'x' || flag === 'g') {
      const body = await reader.read(padded);
      if (body.length < padded) throw new ArchiveFormatError(`${source}: tar stream ends inside an extended header`);
      const payload = body.subarray(0, size);
      if (flag === 'L') longName = readString(payload, 0, payload.length);
      else if (flag === 'K') longLink = readString(payload, 0, payload.length);
      else if (flag === 'x') pax = parsePax(payload);
      continue;
    }

    const prefix = block.toString('latin1', 257, 263).startsWith('ustar') ? readString(block, 345, 155) : '';
    const storedName = prefix ? `${prefix}/${readString(block, 0, 100)}` : readString(block, 0, 100);
    const entry: TarEntry = {
      path: normalizeArchivePath(pax.get('path') ?? longName ?? storedName),
      type: entryType(flag),
      size,
      linkTarget: pax.get('linkpath') ?? longLink ?? readString(block, 157, 100),
    };
    longName = undefined;
    longLink = undefined;
    pax = new Map();

    if (entry.type === 'file' && keep(entry)) {
      const body = await reader.read(padded);
      if (body.length < padded) throw new ArchiveFormatError(`${source}: tar stream ends inside ${entry.path}`);
      yield { ...entry, data: Buffer.from(body.subarray(0, size)) };
    } else {
      const skipped = await reader.skip(padded);
      if (skipped < padded) throw new ArchiveFormatError(`${source}: tar stream ends inside ${entry.path}`);
      yield entry;
    }
  }
}
