// Reader for `ar` archives, the container of a Debian package (.deb): debian-binary,
// control.tar.*, data.tar.*.
import { open } from 'node:fs/promises';

export interface ArMember {
  name: string;
  /** Byte offset of the member's data in the archive file. */
  offset: number;
  size: number;
}

const GLOBAL_HEADER = '!<arch>\n';
const MEMBER_HEADER_SIZE = 60;

export class ArchiveFormatError extends Error {
  override name = 'ArchiveFormatError';
}

/** Lists the members of an ar archive without reading their data. */
export async function listArMembers(file: string): Promise<ArMember[]> {
  const handle = await open(file, 'r');
  try {
    const { size: fileSize } = await handle.stat();
    const magic = Buffer.alloc(GLOBAL_HEADER.length);
    await handle.read(magic, 0, magic.length, 0);
    if (magic.toString('latin1') !== GLOBAL_HEADER) {
      throw new ArchiveFormatError(`${file}: not an ar archive (a .deb starts with "!<arch>"), found ${JSON.stringify(magic.toString('latin1'))}`);
    }
    const members: ArMember[] = [];
    const header = Buffer.alloc(MEMBER_HEADER_SIZE);
    let position = GLOBAL_HEADER.length;
    while (position + MEMBER_HEADER_SIZE <= fileSize) {
      await handle.read(header, 0, MEMBER_HEADER_SIZE, position);
      members.push(parseMemberHeader(header, position, file));
      const member = members[members.length - 1]!;
      if (member.offset + member.size > fileSize) {
        throw new ArchiveFormatError(`${file}: member ${member.name} is truncated (${member.size} bytes declared, ${fileSize - member.offset} present); delete the file and download it again`);
      }
      // Members are aligned to even offsets.
      position = member.offset + member.size + (member.size % 2);
    }
    return members;
  } finally {
    await handle.close();
  }
}

function parseMemberHeader(header: Buffer, position: number, file: string): ArMember {
  if (header.toString('latin1', 58, 60) !== '`\n') {
    throw new ArchiveFormatError(`${file}: invalid ar member header at byte ${position}`);
  }
  // GNU ar ends names with '/'; dpkg writes plain names padded with spaces.
  const name = header.toString('latin1', 0, 16).trimEnd().replace(/\/$/, '');
  const size = Number.parseInt(header.toString('latin1', 48, 58).trim(), 10);
  if (!Number.isFinite(size) || size < 0) throw new ArchiveFormatError(`${file}: invalid size in the ar header of ${name}`);
  return { name, offset: position + MEMBER_HEADER_SIZE, size };
}
