// Text output of partitions: float32 numbers printed so that they parse back to the same
// float32, and the `--json` document.
import type { PartitionLayout } from './partition.ts';

/**
 * Formats a float32 value as the shortest decimal that rounds back to the same float32
 * (`Math.fround(Number(text)) === value`), e.g. 0.0807291641831398 -> "0.08072916".
 * The nearest p-digit decimal round-trips whenever any p-digit decimal does, so trying
 * `toPrecision(1..9)` in turn finds the shortest; 9 digits always suffice for float32.
 */
export function formatFloat32(value: number): string {
  if (!Number.isFinite(value)) throw new RangeError(`cannot format ${value} as a JSON number`);
  const single = Math.fround(value);
  if (single === 0) return Object.is(single, -0) ? '-0' : '0';
  for (let digits = 1; digits <= 9; digits += 1) {
    const text = single.toPrecision(digits);
    if (Math.fround(Number(text)) === single) return String(Number(text));
  }
  return String(single);
}

/** Formats one row of float32 values as a JSON array. */
export function formatRow(values: ArrayLike<number>): string {
  const parts: string[] = [];
  for (let i = 0; i < values.length; i += 1) parts.push(formatFloat32(values[i]!));
  return `[${parts.join(', ')}]`;
}

function rows(values: Float32Array, width: number, indent: string): string {
  const lines: string[] = [];
  for (let i = 0; i < values.length; i += width) lines.push(`${indent}${formatRow(values.subarray(i, i + width))}`);
  return lines.length === 0 ? '[]' : `[\n${lines.join(',\n')}\n${indent.slice(2)}]`;
}

export interface JsonImageEntry {
  image: string;
  layout: Pick<PartitionLayout, 'gpscodes' | 'regions'>;
}

export interface JsonErrorEntry {
  image: string;
  error: string;
}

/**
 * Writes the `--json` document: `{"images": [{"image", "tokens", "gpscodes", "regions"}]}`, with
 * an `"errors": [{"image", "error"}]` array only when some image failed. Numbers use
 * `formatFloat32`; `tokens` is the number of rows.
 */
export function partitionJson(images: readonly JsonImageEntry[], errors: readonly JsonErrorEntry[] = []): string {
  const entries = images.map(({ image, layout }) =>
    [
      '    {',
      `      "image": ${JSON.stringify(image)},`,
      `      "tokens": ${layout.gpscodes.length / 5},`,
      `      "gpscodes": ${rows(layout.gpscodes, 5, '        ')},`,
      `      "regions": ${rows(layout.regions, 4, '        ')}`,
      '    }',
    ].join('\n'),
  );
  const parts = [`  "images": ${entries.length === 0 ? '[]' : `[\n${entries.join(',\n')}\n  ]`}`];
  if (errors.length > 0) {
    const errorLines = errors.map((entry) => `    {"image": ${JSON.stringify(entry.image)}, "error": ${JSON.stringify(entry.error)}}`);
    parts.push(`  "errors": [\n${errorLines.join(',\n')}\n  ]`);
  }
  return `{\n${parts.join(',\n')}\n}\n`;
}
