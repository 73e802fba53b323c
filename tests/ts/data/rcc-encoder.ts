// Test encoder for Qt resource bundles, written from the format description in ts/data/rcc.ts.
import { execaSync } from 'execa';
import { deflateSync } from 'node:zlib';

export type RccCompression = 'none' | 'zlib' | 'zstd';

interface DirNode {
  name: string;
  children: Map<string, DirNode | FileNode>;
}
interface FileNode {
  name: string;
  data: Buffer;
}

function isDir(node: DirNode | FileNode): node is DirNode {
  return 'children' in node;
}

/** Encodes files (paths with a leading `/`) into an rcc bundle of the given format version. */
export function encodeRcc(files: Record<string, Buffer>, version: 1 | 2 | 3 = 2, compression: RccCompression = 'none'): Buffer {
  const root: DirNode = { name: '', children: new Map() };
  for (const [file, data] of Object.entries(files)) {
    const parts = file.split('/').filter(Boolean);
    let dir = root;
    for (const part of parts.slice(0, -1)) {
      if (!dir.children.has(part)) dir.children.set(part, { name: part, children: new Map() });
      dir = dir.children.get(part) as DirNode;
    }
    dir.children.set(parts[parts.length - 1]!, { name: parts[parts.length - 1]!, data });
  }

  // Breadth-first order keeps each directory's children contiguous, as rcc requires.
  const order: (DirNode | FileNode)[] = [root];
  const firstChild = new Map<DirNode, number>();
  for (let index = 0; index < order.length; index += 1) {
    const node = order[index]!;
    if (isDir(node)) {
      firstChild.set(node, order.length);
      order.push(...node.children.values());
    }
  }

  const names: Buffer[] = [];
  const nameOffsets = new Map<DirNode | FileNode, number>();
  let namesSize = 0;
  const data: Buffer[] = [];
  const dataOffsets = new Map<FileNode, number>();
  let dataSize = 0;
  for (const node of order.slice(1)) {
    const entry = Buffer.alloc(6 + node.name.length * 2);
    entry.writeUInt16BE(node.name.length, 0);
    entry.writeUInt32BE(0x1234, 2);
    for (let i = 0; i < node.name.length; i += 1) entry.writeUInt16BE(node.name.charCodeAt(i), 6 + i * 2);
    nameOffsets.set(node, namesSize);
    names.push(entry);
    namesSize += entry.length;
    if (!isDir(node)) {
      const stored = compress(node.data, compression);
      const sized = Buffer.alloc(4 + stored.length);
      sized.writeUInt32BE(stored.length, 0);
      stored.copy(sized, 4);
      dataOffsets.set(node, dataSize);
      data.push(sized);
      dataSize += sized.length;
    }
  }

  const nodeSize = version === 1 ? 14 : 22;
  const tree = Buffer.alloc(order.length * nodeSize);
  order.forEach((node, index) => {
    const start = index * nodeSize;
    tree.writeUInt32BE(nameOffsets.get(node) ?? 0, start);
    if (isDir(node)) {
      tree.writeUInt16BE(2, start + 4);
      tree.writeUInt32BE(node.children.size, start + 6);
      tree.writeUInt32BE(firstChild.get(node)!, start + 10);
    } else {
      tree.writeUInt16BE(compression === 'zlib' ? 1 : compression === 'zstd' ? 4 : 0, start + 4);
      tree.writeUInt32BE(dataOffsets.get(node)!, start + 10);
    }
  });

  const headerSize = version === 3 ? 24 : 20;
  const header = Buffer.alloc(headerSize);
  header.write('qres', 0, 'latin1');
  header.writeUInt32BE(version, 4);
  const dataOffset = headerSize;
  const namesOffset = dataOffset + dataSize;
  const treeOffset = namesOffset + namesSize;
  header.writeUInt32BE(treeOffset, 8);
  header.writeUInt32BE(dataOffset, 12);
  header.writeUInt32BE(namesOffset, 16);
  return Buffer.concat([header, ...data, ...names, tree]);
}

function compress(data: Buffer, compression: RccCompression): Buffer {
  if (compression === 'zlib') {
    const size = Buffer.alloc(4);
    size.writeUInt32BE(data.length, 0);
    return Buffer.concat([size, deflateSync(data)]);
  }
  if (compression === 'zstd') return Buffer.from(execaSync('zstd', ['-c', '-q'], { input: data, encoding: 'buffer' }).stdout);
  return data;
}
