// `gpstoken reconstruct` end to end with the random-initialised tiny tokenizer on embedded photos.
import { copyFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { REPO_ROOT } from '../../../ts/bridge/backend.ts';
import { decodeImageFile } from '../../../ts/image/decode.ts';
import { readSafetensors } from '../../../ts/util/safetensors.ts';

const PHOTOS = ['00_city.jpg', '01_courtyard.jpg', '02_forest.jpg'];
const NAMES = ['00_city', '01_courtyard', '02_forest'];
let work = '';

async function gpstoken(args: string[]) {
  return execa('node', [path.join(REPO_ROOT, 'bin', 'gpstoken.js'), ...args], {
    reject: false,
    timeout: 240_000,
    env: { OMP_NUM_THREADS: '1' },
  });
}

function reconstructArgs(extra: string[] = []): string[] {
  return [
    'reconstruct',
    '--config', path.join(REPO_ROOT, 'experiments', 'tiny', 'tokenizer.yaml'),
    '--random-init',
    '--data', path.join(work, 'data'),
    '--out', path.join(work, 'out'),
    '--save-tokens',
    '--batch', '2',
    ...extra,
  ];
}

test.before(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'gpstoken-reconstruct-'));
  const data = path.join(work, 'data');
  await execa('mkdir', ['-p', data]);
  for (const photo of PHOTOS) await copyFile(path.join(REPO_ROOT, 'data', 'embedded', photo), path.join(data, photo));
  await writeFile(path.join(data, 'corrupt.jpg'), Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a]));
});

test.after(async () => {
  await rm(work, { recursive: true, force: true });
});

test('first run writes every output, lists the corrupt photo and exits 1', async () => {
  const run = await gpstoken(reconstructArgs());
  assert.is(run.exitCode, 1, run.stderr);
  assert.match(run.stdout, /^reconstructed 3, skipped 0, failed 1 of 4 images in /);
  assert.match(run.stderr, /error: 1 of 4 images failed; see .*failures\.csv \(rerun to retry them\)/);

  const out = path.join(work, 'out');
  for (const name of NAMES) {
    const recon = await decodeImageFile(path.join(out, 'imgs', `${name}.png`));
    const gt = await decodeImageFile(path.join(out, 'gt', `${name}.png`));
    assert.equal([recon.width, recon.height, gt.width, gt.height], [256, 256, 256, 256]);
    const { tensors, metadata } = await readSafetensors(path.join(out, 'tokens', `${name}.safetensors`));
    assert.equal(tensors.get('tokens')?.shape, [16, 9]);
    assert.equal(tensors.get('init_gpscodes')?.shape, [16, 5]);
    assert.is(metadata.tiles, '1');
  }

  const failures = (await readFile(path.join(out, 'failures.csv'), 'utf8')).trim().split('\n');
  assert.is(failures.length, 2);
  assert.is(failures[0], 'image,stage,error');
  assert.ok(failures[1]!.startsWith(`${path.join(work, 'data', 'corrupt.jpg')},decode,`), failures[1]);

  const record = JSON.parse(await readFile(path.join(out, 'reconstruct.json'), 'utf8'));
  assert.is(record.options.tokens, 16);
  assert.is(record.options.size, 256);
  assert.is(record.model.config.gpsconfig.stem_c, 32);
  assert.type(record.versions.torch, 'string');
  assert.is(record.versions.node, process.version);
  assert.equal(
    [record.summary.total, record.summary.reconstructed, record.summary.skipped, record.summary.failed],
    [4, 3, 0, 1],
  );
});

test('second run skips the finished images and still reports the corrupt one', async () => {
  const out = path.join(work, 'out');
  const before = (await stat(path.join(out, 'imgs', `${NAMES[0]}.png`))).mtimeMs;
  const run = await gpstoken(reconstructArgs(['--json']));
  assert.is(run.exitCode, 1, run.stderr);
  const summary = JSON.parse(run.stdout);
  assert.equal(
    [summary.total, summary.reconstructed, summary.skipped, summary.failed],
    [4, 0, 3, 1],
  );
  assert.is(summary.failures[0].stage, 'decode');
  assert.is((await stat(path.join(out, 'imgs', `${NAMES[0]}.png`))).mtimeMs, before);
});

test('weights are required without --random-init', async () => {
  const args = reconstructArgs().filter((arg) => arg !== '--random-init');
  const run = await gpstoken(args);
  assert.is(run.exitCode, 2);
  assert.match(run.stderr, /--weights FILE is required \(or --random-init for a random-initialised model in tests and demos\)/);
});

test.run();
