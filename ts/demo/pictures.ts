// Comparison pictures of `gpstoken demo`: per photo, four panels side by side (original,
// Gaussian overlay, entropy-token reconstruction, grid-baseline reconstruction), and one
// sheet stacking the first photos.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { decodeImageFile } from '../image/decode.ts';
import { GAP_COLOUR, hstack } from '../image/draw.ts';
import { cropImage, preprocessImage } from '../image/preprocess.ts';
import { resizeImage } from '../image/resize.ts';
import type { RgbImage } from '../image/types.ts';
import { writePng } from '../image/write.ts';
import { uniqueStems } from '../partition/outputs.ts';

const PANEL = 256;
const GAP = 8;
const SHEET_ROWS = 8;

/** Stacks images of equal width top to bottom with `gap` white rows between them. */
export function vstack(images: readonly RgbImage[], gap: number): RgbImage {
  const width = images[0]?.width ?? 0;
  const height = images.reduce((sum, img) => sum + img.height, 0) + gap * Math.max(images.length - 1, 0);
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i += 3) data.set(GAP_COLOUR, i);
  let row = 0;
  for (const img of images) {
    if (img.width !== width) throw new RangeError(`vstack: widths differ (${img.width} and ${width})`);
    data.set(img.data, row * width * 3);
    row += img.height + gap;
  }
  return { width, height, data };
}

/** Scales a reconstruction to the panel size; nearest-neighbour-like box filter keeps pixels visible. */
function toPanel(img: RgbImage): RgbImage {
  if (img.width === PANEL && img.height === PANEL) return img;
  return resizeImage(img, PANEL, PANEL, img.width < PANEL ? 'box' : 'bicubic');
}

async function panelOrBlank(file: string): Promise<RgbImage> {
  if (!existsSync(file)) return { width: PANEL, height: PANEL, data: new Uint8Array(PANEL * PANEL * 3).fill(128) };
  return toPanel(await decodeImageFile(file));
}

/** Writes `<demoDir>/pictures/<stem>.png` per photo and `<demoDir>/comparison.png`; returns their paths. */
export async function writeComparisonPictures(photos: readonly string[], demoDir: string): Promise<string[]> {
  const stems = uniqueStems(photos);
  const rows: RgbImage[] = [];
  const written: string[] = [];
  for (const [i, photo] of photos.entries()) {
    const stem = stems[i]!;
    let original = await decodeImageFile(photo);
    if (original.width !== PANEL || original.height !== PANEL) original = preprocessImage(original, PANEL);
    const overlayFile = path.join(demoDir, 'partition', `${stem}.png`);
    const overlay = existsSync(overlayFile) ? cropImage(await decodeImageFile(overlayFile), 0, 0, PANEL, PANEL) : original;
    const entropy = await panelOrBlank(path.join(demoDir, 'entropy', 'imgs', `${stem}.png`));
    const grid = await panelOrBlank(path.join(demoDir, 'grid', 'imgs', `${stem}.png`));
    const row = hstack([original, overlay, entropy, grid], GAP);
    const file = path.join(demoDir, 'pictures', `${stem}.png`);
    await writePng(file, row);
    written.push(file);
    if (rows.length < SHEET_ROWS) rows.push(row);
  }
  const sheet = path.join(demoDir, 'comparison.png');
  await writePng(sheet, vstack(rows, GAP));
  return [sheet, ...written];
}
