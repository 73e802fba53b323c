// One partition job in-process: decoding warnings and failure texts come back with the outcome.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runPartitionJob, type PartitionJob } from '../../../ts/partition/job.ts';

const dir = await mkdtemp(path.join(os.tmpdir(), 'gpstoken-partition-job-'));
test.after(() => rm(dir, { recursive: true, force: true }));

/** Builds a 16-bit greyscale PNG of `side` x `side` with every sample set to `value`. */
function grey16Png(side: number, value: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(side, 0);
  header.writeUInt32BE(side, 4);
  header[8] = 16;
  header[9] = 0;
  const rowBytes = 1 + side * 2;
  const raw = Buffer.alloc(side * rowBytes);
  for (let y = 0; y < side; y += 1) {
    for (let x = 0; x < side; x += 1) raw.writeUInt16BE(value, y * rowBytes + 1 + x * 2);
  }
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, chunk('IHDR', header), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

function job(image: string): PartitionJob {
  return { image, tokens: 4, weight: 2.5, minhw: 8, focus: [], stem: 'x' };
}

test('16-bit grey image carries a warning', async () => {
  const image = path.join(dir, 'deep.png');
  await writeFile(image, grey16Png(32, 40000));
  const outcome = await runPartitionJob(job(image));
  assert.ok(outcome.ok);
  assert.is(outcome.warnings.length, 1);
  assert.ok(outcome.warnings[0]!.startsWith(`${image}: 16-bit greyscale PNG; values above 255 are clipped to 255`), outcome.warnings[0]);
});

test('failure text omits the image path', async () => {
  const image = path.join(dir, 'empty.png');
  await writeFile(image, '');
  const outcome = await runPartitionJob(job(image));
  assert.not.ok(outcome.ok);
  assert.is(outcome.ok ? '' : outcome.error, 'file is empty');
  assert.equal(outcome.warnings, []);
});

test.run();
