// A sample grid: equally sized images side by side in rows, with a gap between them.
import type { RgbImage } from '../image/types.ts';

/** Tiles `images` (all the same size) into rows of `columns`, with `gap` grey pixels between. */
export function imageGrid(images: readonly RgbImage[], columns: number, gap = 2): RgbImage {
  const first = images[0];
  if (!first) throw new Error('imageGrid needs at least one image');
  const rows = Math.ceil(images.length / columns);
  const width = columns * first.width + (columns - 1) * gap;
  const height = rows * first.height + (rows - 1) * gap;
  const data = new Uint8Array(width * height * 3).fill(128);
  images.forEach((image, index) => {
    if (image.width !== first.width || image.height !== first.height) {
      throw new Error(`imageGrid: image ${index} is ${image.width}x${image.height}, expected ${first.width}x${first.height}`);
    }
    const x0 = (index % columns) * (first.width + gap);
    const y0 = Math.floor(index / columns) * (first.height + gap);
    for (let y = 0; y < image.height; y += 1) {
      const source = image.data.subarray(y * image.width * 3, (y + 1) * image.width * 3);
      data.set(source, ((y0 + y) * width + x0) * 3);
    }
  });
  return { width, height, data };
}
