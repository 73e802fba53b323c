// Read and write the safetensors format (float32, float64, int32, int64, uint8 tensors).
// Layout: u64 little-endian header length, a JSON header, then raw little-endian data.
import { readFile, rename, writeFile } from 'node:fs/promises';

export type TensorData = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;

export interface Tensor {
  dtype: 'F32' | 'F64' | 'I32' | 'I64' | 'U8';
  shape: number[];
  data: TensorData;
}

const BYTES: Record<Tensor['dtype'], number> = { F32: 4, F64: 8, I32: 4, I64: 8, U8: 1 };

function view(dtype: Tensor['dtype'], buffer: ArrayBuffer): TensorData {
  switch (dtype) {
    case 'F32':
      return new Float32Array(buffer);
    case 'F64':
      return new Float64Array(buffer);
    case 'I32':
      return new Int32Array(buffer);
    case 'I64':
      return new BigInt64Array(buffer);
    case 'U8':
      return new Uint8Array(buffer);
  }
}

/** Parses safetensors bytes; throws with `source` in the message on any inconsistency. */
export function parseSafetensors(bytes: Uint8Array, source = 'safetensors data'): { tensors: Map<string, Tensor>; metadata: Record<string, string> } {
  if (bytes.length < 8) throw new Error(`${source}: too short to be a safetensors file`);
  const headerLength = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  if (8 + headerLength > bytes.length) throw new Error(`${source}: header length ${headerLength} exceeds the file size`);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength))) as Record<string, unknown>;
  const metadata = (header.__metadata__ ?? {}) as Record<string, string>;
  const tensors = new Map<string, Tensor>();
  const start = 8 + headerLength;
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const entry = raw as { dtype: Tensor['dtype']; shape: number[]; data_offsets: [number, number] };
    if (!(entry.dtype in BYTES)) throw new Error(`${source}: tensor ${name} has unsupported dtype ${entry.dtype}`);
    const [begin, end] = entry.data_offsets;
    const count = entry.shape.reduce((a, b) => a * b, 1);
    if (end - begin !== count * BYTES[entry.dtype] || start + end > bytes.length) {
      throw new Error(`${source}: tensor ${name} is truncated or its offsets are inconsistent`);
    }
    const copy = bytes.slice(start + begin, start + end);
    tensors.set(name, { dtype: entry.dtype, shape: entry.shape, data: view(entry.dtype, copy.buffer) });
  }
  return { tensors, metadata };
}

export async function readSafetensors(file: string) {
  return parseSafetensors(new Uint8Array(await readFile(file)), file);
}

/** Serialises tensors (sorted by name) and string metadata. */
export function encodeSafetensors(tensors: Record<string, Tensor>, metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = {};
  let offset = 0;
  const names = Object.keys(tensors).sort();
  for (const name of names) {
    const tensor = tensors[name] as Tensor;
    const length = tensor.data.byteLength;
    header[name] = { dtype: tensor.dtype, shape: tensor.shape, data_offsets: [offset, offset + length] };
    offset += length;
  }
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let position = 8 + headerBytes.length;
  for (const name of names) {
    const data = (tensors[name] as Tensor).data;
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), position);
    position += data.byteLength;
  }
  return out;
}

/** Writes a safetensors file atomically (temporary file, then rename). */
export async function writeSafetensors(file: string, tensors: Record<string, Tensor>, metadata: Record<string, string> = {}): Promise<void> {
  const temporary = `${file}.tmp-${process.pid}`;
  await writeFile(temporary, encodeSafetensors(tensors, metadata));
  await rename(temporary, file);
}
