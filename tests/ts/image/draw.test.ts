import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  dimImage,
  drawEllipse,
  drawRectangle,
  ellipsePoints,
  gaussianToPixels,
  hstack,
  ONE_SIGMA_COLOUR,
  OUTLINE_COLOUR,
  PANEL_GAP,
  REGION_COLOUR,
  renderPartitionOverlay,
  THREE_SIGMA_COLOUR,
  toPixel,
} from '../../../ts/image/draw.ts';
import type { RgbImage } from '../../../ts/image/types.ts';

function blank(width: number, height: number, value = 0): RgbImage {
  return { width, height, data: new Uint8Array(width * height * 3).fill(value) };
}

function pixel(img: RgbImage, x: number, y: number): number[] {
  const offset = (y * img.width + x) * 3;
  return Array.from(img.data.subarray(offset, offset + 3));
}

/** Returns the set pixels as "x,y" strings, sorted, for images drawn on black. */
function setPixels(img: RgbImage): string[] {
  const out: string[] = [];
  for (let y = 0; y < img.height; y++) for (let x = 0; x < img.width; x++) if (pixel(img, x, y).some((v) => v !== 0)) out.push(`${x},${y}`);
  return out;
}

test('coordinates map -1 and +1 to the edge pixel centres', () => {
  assert.is(toPixel(-1, 256), 0);
  assert.is(toPixel(1, 256), 255);
  assert.is(toPixel(0, 5), 2);
  const g = gaussianToPixels([0.5, 0.25, 0.3, -1, 1], 257, 129);
  assert.equal(g, { sigmaX: 64, sigmaY: 16, rho: 0.3, cx: 0, cy: 128 });
});

test('rectangle outline sets exactly its border', () => {
  const img = blank(6, 5);
  drawRectangle(img, 1, 1, 3, 2, [9, 8, 7]);
  assert.equal(setPixels(img), ['1,1', '2,1', '3,1', '1,2', '2,2', '3,2']);
  assert.equal(pixel(img, 2, 1), [9, 8, 7]);
  const big = blank(6, 6);
  drawRectangle(big, 1, 1, 4, 4, [1, 1, 1]);
  assert.is(setPixels(big).length, 12);
  assert.equal(pixel(big, 2, 2), [0, 0, 0]);
});

test('ellipse points follow sigma and rho', () => {
  const round = ([x, y]: [number, number]) => [Math.round(x * 1e9) / 1e9, Math.round(y * 1e9) / 1e9];
  const axisAligned = ellipsePoints({ cx: 10, cy: 20, sigmaX: 3, sigmaY: 2, rho: 0 }, 2);
  assert.equal(round(axisAligned[0]!), [16, 20]);
  assert.equal(round(axisAligned[axisAligned.length - 1]!), [16, 20]);
  // With rho, the point at t = 0 is (cx + k sx, cy + k rho sy): the covariance's Cholesky column.
  const correlated = ellipsePoints({ cx: 0, cy: 0, sigmaX: 4, sigmaY: 2, rho: 0.5 }, 1);
  assert.equal(round(correlated[0]!), [4, 1]);
  for (const [x, y] of correlated) {
    // Every point has Mahalanobis distance 1: [x y] C^-1 [x y]^T = 1.
    const det = 16 * 4 * (1 - 0.25);
    const distance = (4 * x * x - 2 * 0.5 * 4 * 2 * x * y + 16 * y * y) / det;
    assert.ok(Math.abs(distance - 1) < 1e-9, `distance ${distance}`);
  }
});

test('ellipse is drawn only inside the image', () => {
  const img = blank(20, 20);
  drawEllipse(img, { cx: 0, cy: 0, sigmaX: 5, sigmaY: 5, rho: 0 }, 1, [255, 0, 0]);
  assert.equal(pixel(img, 5, 0), [255, 0, 0]);
  assert.equal(pixel(img, 0, 5), [255, 0, 0]);
  assert.equal(pixel(img, 10, 10), [0, 0, 0]);
});

test('hstack places panels with a gap', () => {
  const out = hstack([blank(2, 2, 10), blank(3, 1, 20)], 1, [1, 2, 3]);
  assert.is(out.width, 6);
  assert.is(out.height, 2);
  assert.equal(pixel(out, 1, 1), [10, 10, 10]);
  assert.equal(pixel(out, 2, 0), [1, 2, 3]);
  assert.equal(pixel(out, 3, 0), [20, 20, 20]);
  assert.equal(pixel(out, 3, 1), [1, 2, 3]);
  assert.throws(() => hstack([], 1), /hstack needs at least one image/);
});

test('dimImage scales and rounds', () => {
  const out = dimImage({ width: 1, height: 1, data: new Uint8Array([255, 11, 0]) }, 0.45);
  assert.equal(Array.from(out.data), [115, 5, 0]);
});

test('overlay shows Gaussians left and regions right', () => {
  const photo = blank(65, 65, 128);
  // One token covering the left half: region x in [0, 31] pixels, sigma from the region extent.
  const regions = new Float32Array([-1, -1, toUnit(31, 65), 1]);
  const gpscodes = new Float32Array([(31 / 65) * (2 / 3), (64 / 65) * (2 / 3), 0, toUnit(15.5, 65), 0]);
  const out = renderPartitionOverlay(photo, gpscodes, regions);
  assert.is(out.width, 2 * 65 + PANEL_GAP);
  assert.is(out.height, 65);
  assert.equal(pixel(out, 65, 10), [255, 255, 255]);

  // Left panel: 1-sigma ellipse crosses the row through the centre at cx + sigma_x pixels.
  const sigmaX = (gpscodes[0]! * 64) / 2;
  assert.equal(pixel(out, Math.round(15.5 + sigmaX), 32), [...ONE_SIGMA_COLOUR]);
  assert.equal(pixel(out, Math.round(15.5 + 3 * sigmaX), 32), [...THREE_SIGMA_COLOUR]);
  assert.equal(pixel(out, Math.round(15.5 + 3 * sigmaX) + 1, 32), [...OUTLINE_COLOUR]);
  assert.equal(pixel(out, 60, 5), [128, 128, 128]);

  // Right panel: dimmed photo, region box in red with a dark outline beside it.
  const right = 65 + PANEL_GAP;
  assert.equal(pixel(out, right + 31, 20), [...REGION_COLOUR]);
  assert.equal(pixel(out, right + 32, 20), [...OUTLINE_COLOUR]);
  assert.equal(pixel(out, right + 50, 20), [58, 58, 58]);
  assert.equal(pixel(photo, 0, 0), [128, 128, 128]);
});

test('overlay rejects mismatched rows', () => {
  const photo = blank(8, 8);
  assert.throws(() => renderPartitionOverlay(photo, new Float32Array(6), new Float32Array(4)), /gpscodes has 6 values, expected N rows of 5 \[sigma_x, sigma_y, rho, x, y\]/);
  assert.throws(() => renderPartitionOverlay(photo, new Float32Array(5), new Float32Array(3)), /regions has 3 values, expected N rows of 4 \[x0, y0, x1, y1\]/);
  assert.throws(() => renderPartitionOverlay(photo, new Float32Array(10), new Float32Array(4)), /gpscodes has 2 rows but regions has 1; expected one region per Gaussian/);
});

function toUnit(pixelIndex: number, size: number): number {
  return (2 * pixelIndex) / (size - 1) - 1;
}

test.run();
