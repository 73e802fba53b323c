import { createHash } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import sharp from 'sharp';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { REPO_ROOT } from '../../../ts/bridge/backend.ts';
import { cropImage, mulberry32, planCrops, writeCrops, type PoolPhoto } from '../../../ts/data/crops.ts';
import { decodeImageFile } from '../../../ts/image/decode.ts';

const root = await mkdtemp(path.join(os.tmpdir(), 'gpstoken-crops-test-'));
const pool = path.join(root, 'pool');
await mkdir(path.join(pool, 'train'), { recursive: true });
await mkdir(path.join(pool, 'test'), { recursive: true });
await copyFile(path.join(REPO_ROOT, 'data', 'embedded', '00_city.jpg'), path.join(pool, 'train', 'city.jpg'));
await copyFile(path.join(REPO_ROOT, 'data', 'embedded', '02_forest.jpg'), path.join(pool, 'test', 'forest.jpg'));
const sha256Of = async (file: string) => createHash('sha256').update(await readFile(file)).digest('hex');
await writeFile(
  path.join(pool, 'index.tsv'),
  [
    'file\tsplit\tgroup\tlicense\tsha256\twidth\theight\tsource',
    `train/city.jpg\ttrain\tg-city\tCC0-1.0\t${await sha256Of(path.join(pool, 'train', 'city.jpg'))}\t256\t256\ts`,
    `test/forest.jpg\ttest\tg-forest\tCC0-1.0\t${await sha256Of(path.join(pool, 'test', 'forest.jpg'))}\t256\t256\ts`,
  ].join('\n'),
);

test.after(() => rm(root, { recursive: true, force: true }));

const photo: PoolPhoto = { file: 'train/big.jpg', split: 'train', group: 'g', license: 'CC0-1.0', sha256: 'x', width: 4000, height: 3000 };

test('mulberry32 is deterministic', () => {
  const a = mulberry32(42);
  const b = mulberry32(42);
  const values = [a(), a(), a()];
  assert.equal(values, [b(), b(), b()]);
  for (const value of values) assert.ok(value >= 0 && value < 1);
});

test('plan downscales large photo', () => {
  const plan = planCrops(photo, 256, 5, 0, 2)!;
  assert.is(plan.scale, 512 / 3000);
  assert.is(plan.scaledWidth, 683);
  assert.is(plan.scaledHeight, 512);
  for (const box of plan.boxes) {
    assert.ok(box.x >= 0, `x ${box.x}`);
    assert.ok(box.x <= 683 - 256, `x ${box.x}`);
    assert.ok(box.y >= 0, `y ${box.y}`);
    assert.ok(box.y <= 512 - 256, `y ${box.y}`);
  }
  assert.equal(planCrops(photo, 256, 5, 0, 2)!.boxes, plan.boxes);
  assert.not.equal(planCrops(photo, 256, 5, 1, 2)!.boxes, plan.boxes);
});

test('crop copies the square', () => {
  const image = { width: 3, height: 2, data: Uint8Array.from({ length: 18 }, (_, i) => i) };
  assert.equal(Array.from(cropImage(image, 1, 0, 2).data), [3, 4, 5, 6, 7, 8, 12, 13, 14, 15, 16, 17]);
});

test('plan keeps small photo scale', () => {
  const plan = planCrops({ ...photo, width: 300, height: 280 }, 256, 2, 0, 2)!;
  assert.is(plan.scale, 1);
  assert.is(plan.scaledWidth, 300);
  assert.is(planCrops({ ...photo, width: 300, height: 200 }, 256, 2, 0), undefined);
});

test('crop pixels match Pillow resize and crop', async () => {
  const out = path.join(root, 'pillow');
  await writeCrops({ pool, out, size: 64, perPhoto: 1, seed: 5, splits: ['train'], shortSideMultiple: 2 });
  const [, row] = (await readFile(path.join(out, 'crops.tsv'), 'utf8')).trim().split('\n');
  const [, , , , , , , x, y] = row!.split('\t');
  const script = [
    'import sys',
    'from PIL import Image',
    'x, y = int(sys.argv[2]), int(sys.argv[3])',
    'image = Image.open(sys.argv[1]).convert("RGB").resize((128, 128), Image.LANCZOS)',
    'sys.stdout.buffer.write(image.crop((x, y, x + 64, y + 64)).tobytes())',
  ].join('\n');
  const python = await execa('/usr/bin/python3', ['-c', script, path.join(pool, 'train', 'city.jpg'), x!, y!], { encoding: 'buffer' });
  const crop = await decodeImageFile(path.join(out, 'train', 'city__0.png'));
  assert.is(Buffer.compare(Buffer.from(crop.data), Buffer.from(python.stdout)), 0);
});

test('crops written with manifest and resumed', async () => {
  const out = path.join(root, 'crops');
  const options = { pool, out, size: 64, perPhoto: 2, seed: 3, splits: ['train', 'test'] as ('train' | 'test')[], shortSideMultiple: 2 };
  const summary = await writeCrops(options);
  assert.is(summary.photos, 2);
  assert.is(summary.crops, 4);
  assert.equal(summary.failures, []);

  const manifest = (await readFile(path.join(out, 'crops.tsv'), 'utf8')).trim().split('\n');
  assert.is(manifest[0], 'file\tsplit\tphoto\tgroup\tlicense\tseed\tscale\tx\ty\tsize\tsource_x\tsource_y\tsource_size');
  assert.is(manifest.length, 5);
  const first = manifest[1]!.split('\t');
  assert.equal(first.slice(0, 7), ['train/city__0.png', 'train', 'train/city.jpg', 'g-city', 'CC0-1.0', '3', '0.5']);
  assert.is(Number(first[10]), Number(first[7]) * 2);

  const cropFile = path.join(out, 'train', 'city__0.png');
  const meta = await sharp(cropFile).metadata();
  assert.equal([meta.width, meta.height, meta.format], [64, 64, 'png']);
  const before = await readFile(cropFile);
  await unlink(cropFile);
  await writeCrops(options);
  assert.equal(await readFile(cropFile), before);
  assert.equal((await readFile(path.join(out, 'crops.tsv'), 'utf8')).trim().split('\n'), manifest);
});

test('corrupt pool file fails its sha256 check', async () => {
  const damaged = path.join(root, 'damaged-pool');
  await mkdir(path.join(damaged, 'train'), { recursive: true });
  await writeFile(path.join(damaged, 'train', 'tiny.png'), 'not the listed photo');
  const listed = 'a'.repeat(64);
  await writeFile(path.join(damaged, 'index.tsv'), ['file\tsplit\tgroup\tlicense\tsha256\twidth\theight\tsource', `train/tiny.png\ttrain\tg\tCC0-1.0\t${listed}\t10\t10\ts`].join('\n'));
  const summary = await writeCrops({ pool: damaged, out: path.join(root, 'damaged-crops'), size: 64, perPhoto: 1, seed: 0, splits: ['train'], shortSideMultiple: 2 });
  assert.equal(summary.tooSmall, []);
  assert.is(summary.failures.length, 1);
  assert.is(summary.failures[0]!.file, 'train/tiny.png');
  const actual = createHash('sha256').update('not the listed photo').digest('hex');
  assert.is(summary.failures[0]!.reason, `sha256 mismatch: index.tsv lists ${listed}, the file has ${actual}; run \`gpstoken data fetch\` again to restore it`);
});

test.run();
