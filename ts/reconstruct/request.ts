// The options that decide what `gpstoken reconstruct` writes, stored in reconstruct.json so a
// rerun into the same --out only resumes work made the same way. Without this check, a rerun
// with other options would skip the finished images and relabel them with the new options.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { UsageError } from '../cli/errors.ts';
import type { ReconstructOptions } from './run.ts';

export type ReconstructRequest = Record<string, string | number | boolean | null>;

async function describeFile(file: string | undefined): Promise<string | null> {
  if (!file) return null;
  const info = await stat(file);
  return `${path.resolve(file)} (${info.size} bytes, modified ${info.mtime.toISOString()})`;
}

async function configDigest(file: string): Promise<string> {
  return createHash('sha256').update(await readFile(file)).digest('hex').slice(0, 16);
}

/** Collects the options as the user gave them; defaults resolved from the model are left out. */
export async function reconstructRequest(options: ReconstructOptions): Promise<ReconstructRequest> {
  return {
    config: path.resolve(options.config),
    config_sha256: await configDigest(options.config),
    weights: await describeFile(options.weights),
    random_init: options.randomInit,
    seed: options.randomInit ? options.seed : null,
    size: options.size ?? null,
    tokens: options.tokens ?? null,
    weight: options.weight ?? null,
    minhw: options.minhw ?? null,
    init: options.init ?? 'entropy',
    focus: options.focus.boxes.map((box) => box.raw).join(' ') || null,
    focus_mask: await describeFile(options.focus.mask),
    refine: options.refine,
  };
}

/**
 * Rejects a rerun whose options differ from those stored in `<out>/reconstruct.json`, listing
 * each changed option. Folders written before the request was stored are accepted.
 */
export async function checkSameRequest(out: string, request: ReconstructRequest): Promise<void> {
  const file = path.join(out, 'reconstruct.json');
  if (!existsSync(file)) return;
  let stored: ReconstructRequest | undefined;
  try {
    stored = (JSON.parse(await readFile(file, 'utf8')) as { request?: ReconstructRequest }).request;
  } catch (error) {
    throw new UsageError(`${file} is not valid JSON; delete it, or choose a new --out`, { cause: error });
  }
  if (!stored) return;
  const changes = Object.keys(request)
    .filter((key) => JSON.stringify(stored![key] ?? null) !== JSON.stringify(request[key]))
    .map((key) => `${key}: ${JSON.stringify(stored![key] ?? null)} -> ${JSON.stringify(request[key])}`);
  if (changes.length > 0) {
    throw new UsageError(
      `--out ${out} contains reconstructions made with other options (${changes.join('; ')}). ` +
        'Choose a new --out, or delete the folder to start over.',
    );
  }
}
