import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { REPO_ROOT } from '../../../ts/bridge/backend.ts';
import { decodeImageFile } from '../../../ts/image/decode.ts';
import { centerCrop, cropImage, preprocessImage, shorterSideTarget } from '../../../ts/image/preprocess.ts';
import { RESIZE_FILTERS, resizeImage, resizeOpenCvLinear, type ResizeFilter } from '../../../ts/image/resize.ts';
import type { RgbImage } from '../../../ts/image/types.ts';
import { compareSamples, makeTempDir, readRgb, runFixtureScript } from './pillow_fixtures.ts';

type Crop = [number, number, number, number] | null;
interface ResizeCase {
  source: string;
  crop: Crop;
  filter: ResizeFilter;
  width?: number;
  height?: number;
  preprocess?: number;
}

const PHOTO = path.join(REPO_ROOT, 'data', 'embedded', '00_city.jpg');
const PHOTO_2 = path.join(REPO_ROOT, 'data', 'embedded', '17_greatPyramidOfGiza.jpg');

// Downscales, upscales, odd sizes, one-pixel targets and one axis unchanged, for every filter.
const SIZES: Array<[number, number, Crop]> = [
  [128, 128, null],
  [100, 77, null],
  [256, 256, [3, 4, 200, 131]],
  [37, 300, [10, 10, 61, 83]],
  [512, 384, null],
  [31, 17, [0, 0, 255, 200]],
  [255, 256, null],
  [3, 2, null],
  [1, 1, null],
];
const cases: ResizeCase[] = [];
for (const filter of RESIZE_FILTERS) {
  for (const [width, height, crop] of SIZES) cases.push({ source: PHOTO, crop, width, height, filter });
}
// Shorter side to 64 then a centre crop, on landscape, portrait and odd-sized sources.
for (const filter of ['bicubic', 'bilinear', 'box'] as const) {
  for (const crop of [[0, 0, 256, 171], [20, 0, 131, 256], [1, 2, 78, 35], [0, 0, 40, 33]] as Crop[]) {
    cases.push({ source: PHOTO_2, crop, preprocess: 64, filter });
  }
}

const temp = makeTempDir('gpstoken-resize-');
const casesFile = path.join(temp.dir, 'cases.json');
writeFileSync(casesFile, JSON.stringify(cases));
await runFixtureScript('make_resize_fixtures.py', [temp.dir, casesFile]);
test.after(() => temp.remove());

function sourceOf(c: ResizeCase, index: number): RgbImage {
  const [x0, y0, x1, y1] = c.crop ?? [0, 0, 256, 256];
  return readRgb(path.join(temp.dir, `${index}.src.rgb`), x1 - x0, y1 - y0);
}

cases.forEach((c, index) => {
  const label = c.preprocess !== undefined ? `preprocess ${c.preprocess}` : `${c.width}x${c.height}`;
  test(`equals Pillow: ${c.filter} ${label} from ${JSON.stringify(c.crop)}`, () => {
    const source = sourceOf(c, index);
    const actual = c.preprocess !== undefined ? preprocessImage(source, c.preprocess, c.filter) : resizeImage(source, c.width!, c.height!, c.filter);
    const expected = readFileSync(path.join(temp.dir, `${index}.rgb`));
    assert.is(actual.data.length, expected.length);
    assert.equal(compareSamples(actual.data, expected), { differing: 0, maxDifference: 0 });
  });
});

function constantImage(width: number, height: number, value: number): RgbImage {
  return { width, height, data: new Uint8Array(width * height * 3).fill(value) };
}

function rowImage(values: number[]): RgbImage {
  return { width: values.length, height: 1, data: new Uint8Array(values.flatMap((v) => [v, v, v])) };
}

// SHA-256 of cv2.resize(src, (width, height), interpolation=cv2.INTER_LINEAR) with OpenCV 4.6.0
// (Debian 12 python3-opencv). 'photo' is 00_city.jpg as Pillow decodes it, 'big' is that photo
// resized to 512x512 with Pillow's bicubic filter; crop is [x0, y0, x1, y1].
const OPENCV_LINEAR_SHA256: Array<{ source: 'photo' | 'big'; crop: Crop; width: number; height: number; sha256: string }> = [
  { source: 'photo', crop: null, width: 128, height: 128, sha256: '35c94c37a49f6b15838c97feb43a51c6279ef3d9625c8777af27472fdf7e2173' },
  { source: 'photo', crop: null, width: 100, height: 77, sha256: 'a4881234cab3a550bfca1a64eea0da73bb3cba6d03c517ba2a1c1202ae785c50' },
  { source: 'photo', crop: null, width: 384, height: 384, sha256: 'c5ee804ce93c52e94a0ec1b091c464304be7778f239859fa5f20706850781001' },
  { source: 'photo', crop: null, width: 255, height: 256, sha256: 'e9c9cffcb0038b9f64cfc55da4259e9fe722a507bc2f1d076c556210bc2de802' },
  { source: 'photo', crop: [3, 4, 200, 131], width: 256, height: 166, sha256: '8a909cf52283fb1cccea2ed1cf4e531aa23936e4e6414caff196f51c4ebe6496' },
  { source: 'photo', crop: [10, 10, 61, 83], width: 37, height: 300, sha256: '76823f22953f7f568a649269727b4c4988ad0da7f69adc3c53143fb777411bf6' },
  { source: 'photo', crop: [0, 0, 255, 200], width: 31, height: 17, sha256: 'cd064e6ef3de2aa916c1e5d9a65e9ac965f68c03eb1fc91935fbec8bef678e07' },
  { source: 'photo', crop: null, width: 1, height: 1, sha256: '35a9e381b1a27567549b5f8a6f783c167ebf809f1c4d6a9e367240484d8ce281' },
  { source: 'photo', crop: null, width: 3, height: 2, sha256: '41d7527f86ee31dc91399ed645e0c56707a4451e6957e0d6234ef694b6846cff' },
  { source: 'big', crop: null, width: 256, height: 256, sha256: '0fdd77e92d92bf8ac70131e5383c430ee799488bffba08819f84d6d4213deaac' },
  { source: 'big', crop: [0, 0, 512, 341], width: 384, height: 256, sha256: '6c961e5f2aa422190743c0643d724c13b4c0bcd3ca8c62f5fddf8720aa554202' },
  { source: 'big', crop: [5, 0, 306, 512], width: 256, height: 435, sha256: '9adcaa9bb5caafadbbbef60bb2274791aca3d9ab9982d24efc5f06b68587f62a' },
];

const photo = await decodeImageFile(PHOTO);
const bigPhoto = resizeImage(photo, 512, 512, 'bicubic');

for (const c of OPENCV_LINEAR_SHA256) {
  test(`equals OpenCV linear: ${c.source} ${JSON.stringify(c.crop)} to ${c.width}x${c.height}`, () => {
    let source = c.source === 'photo' ? photo : bigPhoto;
    if (c.crop !== null) source = cropImage(source, c.crop[0], c.crop[1], c.crop[2] - c.crop[0], c.crop[3] - c.crop[1]);
    const out = resizeOpenCvLinear(source, c.width, c.height);
    assert.is(out.data.length, c.width * c.height * 3);
    assert.is(createHash('sha256').update(out.data).digest('hex'), c.sha256);
  });
}

test('OpenCV linear: hand-computed 3 to 2 columns', () => {
  // scale 1.5: column 0 samples 0.25 between pixels 0 and 1, column 1 0.75 between 1 and 2.
  const out = resizeOpenCvLinear(rowImage([0, 100, 200]), 2, 1);
  assert.equal(Array.from(out.data), [25, 25, 25, 175, 175, 175]);
});

test('OpenCV linear: upscaling clamps borders', () => {
  const out = resizeOpenCvLinear(rowImage([0, 200]), 4, 1);
  // Centres at -0.25, 0.25, 0.75, 1.25: the outer two clamp to the edge pixels.
  assert.equal(Array.from(out.data).filter((_, i) => i % 3 === 0), [0, 50, 150, 200]);
});

test('OpenCV linear: exact halving is a rounded 2x2 mean', () => {
  const img: RgbImage = { width: 2, height: 2, data: new Uint8Array([1, 0, 255, 2, 0, 255, 2, 1, 255, 2, 0, 254]) };
  assert.equal(Array.from(resizeOpenCvLinear(img, 1, 1).data), [2, 0, 255]);
});

test('OpenCV linear: constant image stays constant', () => {
  for (const [w, h] of [[17, 9], [300, 40], [5, 5]]) {
    const out = resizeOpenCvLinear(constantImage(23, 31, 201), w!, h!);
    assert.ok(out.data.every((v) => v === 201), `${w}x${h}`);
  }
});

test('shorter side target follows round half to even', () => {
  assert.equal(shorterSideTarget(300, 400, 256), { width: 256, height: 341 });
  assert.equal(shorterSideTarget(500, 375, 256), { width: 341, height: 256 });
  // 6 * 256 / 4 = 384 exactly; 10 * (3 / 4) = 7.5 rounds to 8.
  assert.equal(shorterSideTarget(4, 10, 3), { width: 3, height: 8 });
  assert.equal(shorterSideTarget(4, 6, 3), { width: 3, height: 4 });
  assert.equal(shorterSideTarget(256, 256, 256), { width: 256, height: 256 });
});

test('center crop takes the floor offset', () => {
  const img: RgbImage = { width: 5, height: 4, data: new Uint8Array(60).map((_, i) => Math.floor(i / 3)) };
  const out = centerCrop(img, 2);
  // Offsets floor(3 / 2) = 1 and floor(2 / 2) = 1: pixels (1,1), (2,1), (1,2), (2,2).
  assert.equal(Array.from(out.data).filter((_, i) => i % 3 === 0), [6, 7, 11, 12]);
  assert.throws(() => centerCrop(img, 5), /centre crop of 5x5 does not fit a 5x4 image/);
});

test('published preprocess: identity at the target size', () => {
  const img = readRgbFromPhoto();
  const out = preprocessImage(img, 256);
  assert.equal(compareSamples(out.data, img.data), { differing: 0, maxDifference: 0 });
});

test('published preprocess: landscape scales then crops', () => {
  const img = constantImage(400, 300, 90);
  const out = preprocessImage(img, 256);
  assert.is(out.width, 256);
  assert.is(out.height, 256);
  assert.ok(out.data.every((v) => v === 90));
});

test('published preprocess: 2x source equals area mean', () => {
  const img = readRgbFromPhoto();
  const doubled = resizeImage(img, 512, 512, 'bicubic');
  const out = preprocessImage(doubled, 256);
  const mean = resizeOpenCvLinear(doubled, 256, 256);
  assert.equal(compareSamples(out.data, mean.data), { differing: 0, maxDifference: 0 });
  assert.is(out.data[0], (doubled.data[0]! + doubled.data[3]! + doubled.data[1536]! + doubled.data[1539]! + 2) >> 2);
});

test('resize rejects invalid sizes', () => {
  assert.throws(() => resizeImage(constantImage(4, 4, 0), 0, 3, 'bilinear'), /resize target must be positive integers, got 0x3/);
  assert.throws(() => preprocessImage(constantImage(4, 4, 0), 2.5), /preprocess size must be a positive integer, got 2.5/);
});

function readRgbFromPhoto(): RgbImage {
  return sourceOf(cases[0]!, 0);
}

test.run();
