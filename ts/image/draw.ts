// Drawing for partition overlays (`gpstoken partition --out`).
//
// Gaussians and regions use [-1, 1] image coordinates: -1 is the centre of the first pixel
// column (or row) and +1 the centre of the last. Pixel i sits at 2 i / (size - 1) - 1.
// A sigma of s in those units spans s * (size - 1) / 2 pixels.
// Every line is drawn twice, a wide dark stroke under a thin bright one, so it shows on dark
// and on bright photos alike.
import type { RgbImage } from './types.ts';

export type Colour = readonly [number, number, number];

export const OUTLINE_COLOUR: Colour = [0, 0, 0];
export const ONE_SIGMA_COLOUR: Colour = [255, 230, 0];
export const THREE_SIGMA_COLOUR: Colour = [0, 220, 255];
export const REGION_COLOUR: Colour = [255, 70, 70];
export const GAP_COLOUR: Colour = [255, 255, 255];

/** Pixel gap between the two panels of a partition overlay. */
export const PANEL_GAP = 8;

/** Brightness factor of the photo behind the region boxes. */
export const DIM_FACTOR = 0.45;

/** A Gaussian in pixel units: centre, standard deviations along x and y, correlation rho. */
export interface PixelGaussian {
  cx: number;
  cy: number;
  sigmaX: number;
  sigmaY: number;
  rho: number;
}

/** Returns a copy of the image, so drawing never changes the caller's pixels. */
export function copyImage(img: RgbImage): RgbImage {
  return { width: img.width, height: img.height, data: img.data.slice() };
}

/** Fills a filled square of side `thickness` centred on (x, y); parts outside the image are skipped. */
function stamp(img: RgbImage, x: number, y: number, colour: Colour, thickness: number): void {
  const half = Math.floor((thickness - 1) / 2);
  const x0 = Math.round(x) - half;
  const y0 = Math.round(y) - half;
  for (let yy = Math.max(y0, 0); yy < Math.min(y0 + thickness, img.height); yy++) {
    for (let xx = Math.max(x0, 0); xx < Math.min(x0 + thickness, img.width); xx++) {
      const offset = (yy * img.width + xx) * 3;
      img.data[offset] = colour[0];
      img.data[offset + 1] = colour[1];
      img.data[offset + 2] = colour[2];
    }
  }
}

/** Draws a straight segment in place, stepping one pixel at a time along the longer axis. */
export function drawLine(img: RgbImage, x0: number, y0: number, x1: number, y1: number, colour: Colour, thickness = 1): void {
  const steps = Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0), 1);
  const count = Math.ceil(steps);
  for (let i = 0; i <= count; i++) {
    const t = i / count;
    stamp(img, x0 + (x1 - x0) * t, y0 + (y1 - y0) * t, colour, thickness);
  }
}

/** Draws the outline of the rectangle with inclusive pixel corners (x0, y0) and (x1, y1), in place. */
export function drawRectangle(img: RgbImage, x0: number, y0: number, x1: number, y1: number, colour: Colour, thickness = 1): void {
  drawLine(img, x0, y0, x1, y0, colour, thickness);
  drawLine(img, x1, y0, x1, y1, colour, thickness);
  drawLine(img, x1, y1, x0, y1, colour, thickness);
  drawLine(img, x0, y1, x0, y0, colour, thickness);
}

/**
 * Returns points on the k-sigma ellipse of a correlated Gaussian: centre + k L (cos t, sin t),
 * where L is the Cholesky factor of the covariance [[sx^2, rho sx sy], [rho sx sy, sy^2]].
 */
export function ellipsePoints(gaussian: PixelGaussian, k: number): Array<[number, number]> {
  const { cx, cy, sigmaX, sigmaY } = gaussian;
  const rho = Math.max(-0.999, Math.min(0.999, gaussian.rho));
  const l21 = rho * sigmaY;
  const l22 = sigmaY * Math.sqrt(1 - rho * rho);
  const radius = k * Math.max(sigmaX, sigmaY);
  const count = Math.min(4096, Math.max(24, Math.ceil(2 * Math.PI * radius)));
  const points: Array<[number, number]> = [];
  for (let i = 0; i <= count; i++) {
    const t = (2 * Math.PI * i) / count;
    const u = k * Math.cos(t);
    const v = k * Math.sin(t);
    points.push([cx + sigmaX * u, cy + l21 * u + l22 * v]);
  }
  return points;
}

/** Draws the k-sigma ellipse of a Gaussian given in pixel units, in place. */
export function drawEllipse(img: RgbImage, gaussian: PixelGaussian, k: number, colour: Colour, thickness = 1): void {
  const points = ellipsePoints(gaussian, k);
  for (let i = 1; i < points.length; i++) {
    const [ax, ay] = points[i - 1]!;
    const [bx, by] = points[i]!;
    drawLine(img, ax, ay, bx, by, colour, thickness);
  }
}

/** Returns a copy with every channel multiplied by `factor` and rounded. */
export function dimImage(img: RgbImage, factor: number): RgbImage {
  const data = new Uint8Array(img.data.length);
  for (let i = 0; i < data.length; i++) data[i] = Math.min(255, Math.round(img.data[i]! * factor));
  return { width: img.width, height: img.height, data };
}

/** Places images left to right with `gap` pixels of `gapColour` between them; shorter ones are padded below. */
export function hstack(images: readonly RgbImage[], gap: number, gapColour: Colour = GAP_COLOUR): RgbImage {
  if (images.length === 0) throw new RangeError('hstack needs at least one image');
  const width = images.reduce((sum, img) => sum + img.width, 0) + gap * (images.length - 1);
  const height = Math.max(...images.map((img) => img.height));
  const data = new Uint8Array(width * height * 3);
  for (let p = 0; p < width * height; p++) data.set(gapColour, p * 3);

  let left = 0;
  for (const img of images) {
    for (let y = 0; y < img.height; y++) {
      data.set(img.data.subarray(y * img.width * 3, (y + 1) * img.width * 3), (y * width + left) * 3);
    }
    left += img.width + gap;
  }
  return { width, height, data };
}

/** Maps a [-1, 1] coordinate to a pixel position on an axis of `size` pixels. */
export function toPixel(v: number, size: number): number {
  return ((v + 1) / 2) * (size - 1);
}

/** Converts one row [sigma_x, sigma_y, rho, x, y] in [-1, 1] units to pixel units. */
export function gaussianToPixels(row: ArrayLike<number>, width: number, height: number): PixelGaussian {
  return {
    sigmaX: (row[0]! * (width - 1)) / 2,
    sigmaY: (row[1]! * (height - 1)) / 2,
    rho: row[2]!,
    cx: toPixel(row[3]!, width),
    cy: toPixel(row[4]!, height),
  };
}

function checkRows(gpscodes: Float32Array, regions: Float32Array): number {
  if (gpscodes.length % 5 !== 0) throw new RangeError(`gpscodes has ${gpscodes.length} values, expected N rows of 5 [sigma_x, sigma_y, rho, x, y]`);
  if (regions.length % 4 !== 0) throw new RangeError(`regions has ${regions.length} values, expected N rows of 4 [x0, y0, x1, y1]`);
  const count = gpscodes.length / 5;
  if (regions.length / 4 !== count) throw new RangeError(`gpscodes has ${count} rows but regions has ${regions.length / 4}; expected one region per Gaussian`);
  return count;
}

/**
 * Renders the partition overlay as two panels with PANEL_GAP white pixels between them.
 * The left panel shows the photo with each Gaussian's 1-sigma (yellow) and 3-sigma (cyan) ellipses.
 * The right panel shows the dimmed photo with the region boxes (red).
 * `gpscodes` is [N, 5] and `regions` is [N, 4], both row-major in [-1, 1] units.
 */
export function renderPartitionOverlay(img: RgbImage, gpscodes: Float32Array, regions: Float32Array): RgbImage {
  const count = checkRows(gpscodes, regions);
  const thin = Math.max(1, Math.round(Math.min(img.width, img.height) / 512));
  const wide = thin + 2;

  const left = copyImage(img);
  const gaussians = Array.from({ length: count }, (_, i) => gaussianToPixels(gpscodes.subarray(i * 5, i * 5 + 5), img.width, img.height));
  for (const g of gaussians) for (const k of [3, 1]) drawEllipse(left, g, k, OUTLINE_COLOUR, wide);
  for (const g of gaussians) drawEllipse(left, g, 3, THREE_SIGMA_COLOUR, thin);
  for (const g of gaussians) drawEllipse(left, g, 1, ONE_SIGMA_COLOUR, thin);

  const right = dimImage(img, DIM_FACTOR);
  const boxes = Array.from({ length: count }, (_, i) => {
    const r = regions.subarray(i * 4, i * 4 + 4);
    return [toPixel(r[0]!, img.width), toPixel(r[1]!, img.height), toPixel(r[2]!, img.width), toPixel(r[3]!, img.height)] as const;
  });
  for (const [x0, y0, x1, y1] of boxes) drawRectangle(right, x0, y0, x1, y1, OUTLINE_COLOUR, wide);
  for (const [x0, y0, x1, y1] of boxes) drawRectangle(right, x0, y0, x1, y1, REGION_COLOUR, thin);

  return hstack([left, right], PANEL_GAP);
}
