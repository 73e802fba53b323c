// `gpstoken partition` end to end through bin/gpstoken.js.
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { REPO_ROOT } from '../../../ts/bridge/backend.ts';
import { decodeImageFile } from '../../../ts/image/decode.ts';
import { encodePng } from '../../../ts/image/write.ts';
import { partitionImage } from '../../../ts/partition/partition.ts';

const IMAGES = path.join(REPO_ROOT, '..', 'shared', 'golden', 'partition', 'images');
const NAMES = ['astronaut.png', 'baboon.png', 'camera.png', 'coffee.png'];
let work = '';

function gpstoken(...args: string[]) {
  return execa('node', [path.join(REPO_ROOT, 'bin', 'gpstoken.js'), ...args], { reject: false, timeout: 120_000, cwd: REPO_ROOT });
}

test.before(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'gpstoken-partition-'));
  await mkdir(path.join(work, 'photos'));
  for (const name of NAMES) await copyFile(path.join(IMAGES, name), path.join(work, 'photos', name));
  await mkdir(path.join(work, 'mixed'));
  for (const name of NAMES.slice(0, 2)) await copyFile(path.join(IMAGES, name), path.join(work, 'mixed', name));
  await writeFile(path.join(work, 'mixed', 'broken.png'), Buffer.from('not a png at all'));
  await writeFile(path.join(work, 'mixed', 'notes.txt'), 'ignored: not an image extension');
  const wide = { width: 300, height: 200, data: new Uint8Array(300 * 200 * 3).map((_, i) => (i * 37) % 251) };
  await writeFile(path.join(work, 'wide.png'), encodePng(wide));
});

test.after(async () => {
  await rm(work, { recursive: true, force: true });
});

test('json output has exactly the documented shape and float32 values', async () => {
  const image = path.join(work, 'photos', 'camera.png');
  const run = await gpstoken('partition', image, '--tokens', '16', '--json');
  assert.is(run.exitCode, 0, run.stderr);
  const doc = JSON.parse(run.stdout);
  assert.equal(Object.keys(doc), ['images']);
  assert.is(doc.images.length, 1);
  const entry = doc.images[0];
  assert.equal(Object.keys(entry), ['image', 'tokens', 'gpscodes', 'regions']);
  assert.is(entry.image, image);
  assert.is(entry.tokens, 16);
  const expected = partitionImage(await decodeImageFile(image), { tokens: 16 });
  assert.equal(Array.from(new Float32Array(entry.gpscodes.flat())), Array.from(expected.gpscodes));
  assert.equal(Array.from(new Float32Array(entry.regions.flat())), Array.from(expected.regions));
  assert.ok(entry.gpscodes.every((row: number[]) => row.length === 5));
  assert.ok(entry.regions.every((row: number[]) => row.length === 4));
});

test('two workers print what one worker prints', async () => {
  const one = await gpstoken('partition', path.join(work, 'photos'), '--tokens', '32', '--json', '--workers', '1', '--out', path.join(work, 'out1'));
  const two = await gpstoken('partition', path.join(work, 'photos'), '--tokens', '32', '--json', '--workers', '2', '--out', path.join(work, 'out2'));
  assert.is(one.exitCode, 0, one.stderr);
  assert.is(two.exitCode, 0, two.stderr);
  assert.is(two.stdout, one.stdout);
  const images = JSON.parse(one.stdout).images.map((entry: { image: string }) => path.basename(entry.image));
  assert.equal(images, NAMES);
  const files = (await readdir(path.join(work, 'out2'))).sort();
  assert.equal(files, NAMES.flatMap((name) => [name.replace('.png', '.csv'), name]).sort());
  for (const file of files) {
    assert.ok((await readFile(path.join(work, 'out1', file))).equals(await readFile(path.join(work, 'out2', file))), `${file} identical`);
  }
  const csv = (await readFile(path.join(work, 'out1', 'camera.csv'), 'utf8')).split('\n');
  assert.is(csv[0], 'index,sigma_x,sigma_y,rho,x,y,x0,y0,x1,y1,complexity');
  assert.is(csv.filter((line) => line !== '').length, 33);
});

test('human summary has one line per image', async () => {
  const run = await gpstoken('partition', path.join(work, 'photos', 'baboon.png'), '--tokens', '128', '--workers', '1');
  assert.is(run.exitCode, 0, run.stderr);
  assert.match(run.stdout, /^.*baboon\.png: 128 tokens, region area mean 512\.0 px \(sd \d+\.\d\), complexity \S+ \.\. \S+$/);
});

test('a corrupt file is reported and the others are still partitioned', async () => {
  const run = await gpstoken('partition', path.join(work, 'mixed'), '--tokens', '8', '--json', '--workers', '2');
  assert.is(run.exitCode, 1);
  const broken = path.join(work, 'mixed', 'broken.png');
  const doc = JSON.parse(run.stdout);
  assert.equal(
    doc.images.map((entry: { image: string }) => path.basename(entry.image)),
    ['astronaut.png', 'baboon.png'],
  );
  assert.is(doc.errors.length, 1);
  assert.equal(Object.keys(doc.errors[0]), ['image', 'error']);
  assert.is(doc.errors[0].image, broken);
  assert.not.ok(doc.errors[0].error.includes('broken.png'), doc.errors[0].error);
  assert.ok(run.stderr.includes(`partition failed: ${broken}: `), run.stderr);
  assert.not.ok(run.stderr.includes(`${broken}: ${broken}`), run.stderr);
  assert.ok(run.stderr.includes('error: 1 of 3 images failed'), run.stderr);
});

test('untileable size fails, --size fixes it', async () => {
  const wide = path.join(work, 'wide.png');
  const plain = await gpstoken('partition', wide, '--tokens', '8');
  assert.is(plain.exitCode, 1);
  assert.ok(plain.stderr.includes('image is 300x200;'), plain.stderr);
  assert.ok(plain.stderr.includes('--size 256'), plain.stderr);
  const sized = await gpstoken('partition', wide, '--tokens', '8', '--size', '128', '--json');
  assert.is(sized.exitCode, 0, sized.stderr);
  assert.is(JSON.parse(sized.stdout).images[0].tokens, 8);
});

test('bad flags exit 2 and name the flag', async () => {
  const image = path.join(work, 'photos', 'camera.png');
  const table: Array<[string[], string]> = [
    [['--tokens', 'abc'], '--tokens must be an integer >= 1, got a non-number'],
    [['--tokens', '0'], '--tokens must be an integer >= 1, got 0'],
    [['--tokens', '8', '--workers', '0'], '--workers must be an integer >= 1, got 0'],
    [['--tokens', '8', '--minhw', '2.5'], '--minhw must be an integer >= 0, got 2.5'],
    [['--tokens', '8', '--focus', '10,10,5,20'], 'invalid --focus "10,10,5,20": x0 (10) must be less than x1 (5)'],
    [['--tokens', '8', '--focus', 'x,1,2,3'], 'invalid --focus "x,1,2,3": expected x0,y0,x1,y1'],
    [['--tokens', '8', '--focus', '0,0,300,10'], 'invalid --focus "0,0,300,10": box [0, 300) x [0, 10) is outside the 256x256 image'],
    [['--tokens', '8', '--focus-mask', path.join(work, 'missing.png')], `--focus-mask ${path.join(work, 'missing.png')} not found`],
    [['--tokens', '8', '--size', '300'], '--size 300 cannot be partitioned: use at most 256 (one patch) or a multiple of 256 (256x256 tiles), e.g. --size 256 or --size 512'],
  ];
  const runs = await Promise.all(table.map(([flags]) => gpstoken('partition', image, ...flags)));
  table.forEach(([flags, message], i) => {
    const run = runs[i]!;
    assert.is(run.exitCode, 2, `${flags.join(' ')}: ${run.stderr}`);
    assert.ok(run.stderr.includes(message), `${flags.join(' ')}: ${run.stderr}`);
  });
  const missing = await gpstoken('partition', path.join(work, 'nope.png'), '--tokens', '8');
  assert.is(missing.exitCode, 2);
  assert.ok(missing.stderr.includes(`image ${path.join(work, 'nope.png')} not found`), missing.stderr);
});

test('focus box outside one image fails that image', async () => {
  const small = path.join(work, 'small.png');
  const pixels = { width: 64, height: 64, data: new Uint8Array(64 * 64 * 3).map((_, i) => (i * 13) % 251) };
  await writeFile(small, encodePng(pixels));
  const camera = path.join(work, 'photos', 'camera.png');
  const run = await gpstoken('partition', camera, small, '--tokens', '8', '--focus', '100,100,120,120', '--workers', '1');
  assert.is(run.exitCode, 1, run.stderr);
  assert.ok(run.stdout.startsWith(`${camera}: 8 tokens`), run.stdout);
  assert.ok(run.stderr.includes(`partition failed: ${small}: invalid --focus "100,100,120,120"`), run.stderr);
  assert.ok(run.stderr.includes(`error: 1 of 2 images failed (${small}); the others were partitioned`), run.stderr);
  const alone = await gpstoken('partition', small, '--tokens', '8', '--focus', '100,100,120,120');
  assert.is(alone.exitCode, 2, alone.stderr);
});

test('focus box and focus mask change the layout', async () => {
  const image = path.join(work, 'photos', 'camera.png');
  const mask = { width: 256, height: 256, data: new Uint8Array(256 * 256 * 3) };
  for (let y = 0; y < 64; y += 1) mask.data.fill(255, y * 256 * 3, (y * 256 + 64) * 3);
  await writeFile(path.join(work, 'mask.png'), encodePng(mask));
  const runs = await Promise.all([
    gpstoken('partition', image, '--tokens', '32', '--json'),
    gpstoken('partition', image, '--tokens', '32', '--json', '--focus', '0,0,64,64'),
    gpstoken('partition', image, '--tokens', '32', '--json', '--focus-mask', path.join(work, 'mask.png')),
  ]);
  for (const run of runs) assert.is(run.exitCode, 0, run.stderr);
  const [plain, boxed, masked] = runs.map((run) => JSON.parse(run.stdout).images[0].regions as number[][]);
  const inBox = (regions: number[][]) => regions.filter((r) => r[2]! < -0.49 && r[3]! < -0.49).length;
  assert.ok(inBox(boxed!) > inBox(plain!), `box: ${inBox(boxed!)} vs ${inBox(plain!)}`);
  // A full-white mask over the same box with the same default value gives the same bias map.
  assert.equal(masked, boxed);
});

test.run();
