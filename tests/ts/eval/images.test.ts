// Folder checks and pairing: each bad input gets its own message.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { UsageError } from '../../../ts/cli/errors.ts';
import { checkImageSet, listImageFiles, pairByName, probeImages, type ImageInfo } from '../../../ts/eval/images.ts';

const info = (file: string, extra: Partial<ImageInfo> = {}): ImageInfo => ({ file: `/d/${file}`, width: 64, height: 64, mode: 'RGB', bits: 8, alpha: false, ...extra });

function usageMessage(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    assert.instance(error, UsageError);
    return (error as Error).message;
  }
  throw new Error('expected a UsageError');
}

const checkCases: [string, ImageInfo[], number, string][] = [
  ['mixed sizes', [info('a.png'), info('b.png', { width: 32 }), info('c.png')], 1, '--real /d: images have different sizes: 64x64 (2: a.png, c.png); 32x64 (1: b.png); resize the folder to one size first'],
  ['alpha channel', [info('a.png', { mode: 'RGBA', alpha: true })], 1, '--real /d: 1 image has an alpha channel: a.png; metrics are defined on RGB, so save them without alpha first'],
  ['16-bit', [info('a.png'), info('b.png', { bits: 16 })], 1, '--real /d: 1 image has 16-bit samples: b.png; the metrics follow the 8-bit convention of the published tools, so convert them to 8-bit RGB first (the rounding changes FID)'],
  ['too small', [info('a.png', { width: 12, height: 12 })], 16, '--real /d: images are 12x12, but the requested metrics need at least 16x16'],
  ['unreadable', [info('a.png', { error: 'UnidentifiedImageError: cannot identify' })], 1, '--real /d: 1 file cannot be read as images: a.png (UnidentifiedImageError: cannot identify)'],
];

for (const [name, infos, minSide, message] of checkCases) {
  test(`check: ${name}`, () => {
    assert.is(usageMessage(() => checkImageSet('real', '/d', infos, minSide)), message);
  });
}

test('check: greyscale is expanded and reported', () => {
  const set = checkImageSet('fake', '/d', [info('a.png', { mode: 'L' }), info('b.png')], 16);
  assert.equal(set.expanded, ['/d/a.png']);
  assert.is(set.width, 64);
});

test('pairing lists the first unpaired names', () => {
  const real = ['a', 'b', 'c', 'd', 'e', 'f', 'g'].map((n) => `/r/${n}.jpg`);
  const fake = ['a', 'z'].map((n) => `/f/${n}.png`);
  assert.is(
    usageMessage(() => pairByName(real, fake)),
    'paired metrics (psnr, ssim, lpips) match files by name without extension, but 6 real images have no fake partner: b, c, d, e, f and 1 more; 1 fake image has no real partner: z',
  );
  assert.equal(pairByName(['/r/b.jpg', '/r/a.jpg'], ['/f/a.png', '/f/b.png']), { real: ['/r/a.jpg', '/r/b.jpg'], fake: ['/f/a.png', '/f/b.png'] });
});

let folder = '';
test.before(async () => {
  folder = await mkdtemp(path.join(os.tmpdir(), 'gpstoken-images-'));
});
test.after(async () => {
  await rm(folder, { recursive: true, force: true });
});

test('missing and empty folders', async () => {
  const missing = await listImageFiles(path.join(folder, 'nope'), '--real').catch((error: Error) => error);
  assert.is((missing as Error).message, `--real ${path.join(folder, 'nope')}: folder not found`);
  await mkdir(path.join(folder, 'empty'));
  await writeFile(path.join(folder, 'empty', 'notes.txt'), 'x');
  const empty = await listImageFiles(path.join(folder, 'empty'), '--fake').catch((error: Error) => error);
  assert.is((empty as Error).message, `--fake ${path.join(folder, 'empty')}: no image files found (looked for .png .jpg .jpeg .webp .bmp .tif .tiff)`);
});

test('Pillow probe sees grey, RGBA and 16-bit files', async () => {
  const pixels = Buffer.alloc(20 * 20 * 3, 90);
  const raw = { raw: { width: 20, height: 20, channels: 3 as const } };
  await sharp(pixels, raw).png().toFile(path.join(folder, 'rgb.png'));
  await sharp(pixels, raw).toColourspace('b-w').png().toFile(path.join(folder, 'grey.png'));
  await sharp(pixels, raw).ensureAlpha().png().toFile(path.join(folder, 'rgba.png'));
  await sharp(pixels, raw).toColourspace('rgb16').png().toFile(path.join(folder, 'deep.png'));
  const infos = await probeImages(['rgb', 'grey', 'rgba', 'deep'].map((name) => path.join(folder, `${name}.png`)));
  assert.equal(
    infos.map((i) => [path.basename(i.file), i.mode, i.bits, i.alpha]),
    [
      ['rgb.png', 'RGB', 8, false],
      ['grey.png', 'L', 8, false],
      ['rgba.png', 'RGBA', 8, true],
      ['deep.png', 'RGB', 16, false],
    ],
  );
});

test.run();
