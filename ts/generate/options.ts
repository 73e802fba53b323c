// Validation of `gpstoken generate` flags into the spec the Python job reads.
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { UsageError } from '../cli/errors.ts';

export const SAMPLERS = ['ode', 'sde'] as const;
export const METHODS = ['euler', 'heun', 'dopri5'] as const;
export const DEVICES = ['cpu', 'cuda'] as const;

export interface GenerateArgs {
  config: string;
  weights: string;
  tokenizer: string;
  tokenizerConfig?: string;
  layouts?: string;
  layoutModel?: string;
  out: string;
  count: number;
  classes?: string;
  cfgScale?: number;
  guidanceLow?: number;
  guidanceHigh?: number;
  steps?: number;
  sampler?: (typeof SAMPLERS)[number];
  method?: (typeof METHODS)[number];
  batch: number;
  seed: number;
  device: (typeof DEVICES)[number];
  threads?: number;
  clampCenters?: boolean;
}

/** The JSON spec of `generate:generate_images`; null fields take the config's `sample` defaults. */
export interface GenerateSpec {
  config: string;
  weights: string;
  tokenizer: string;
  tokenizer_config: string | null;
  layouts: string | null;
  layout_model: string | null;
  out: string;
  count: number;
  classes: number | number[] | null;
  cfg_scale: number | null;
  guidance_low: number | null;
  guidance_high: number | null;
  steps: number | null;
  sampler: string | null;
  method: string | null;
  batch: number;
  seed: number;
  device: string;
  threads: number | null;
  clamp_centers: boolean | null;
}

function existingFile(flag: string, value: string | undefined): string | null {
  if (value === undefined) return null;
  const resolved = path.resolve(value);
  if (!existsSync(resolved) || !statSync(resolved).isFile()) {
    throw new UsageError(`${flag}: file not found: ${resolved}`);
  }
  return resolved;
}

function positiveInteger(flag: string, value: number | undefined, minimum = 1): void {
  if (value !== undefined && (!Number.isInteger(value) || value < minimum)) {
    throw new UsageError(`${flag} must be an integer >= ${minimum}, got ${value}`);
  }
}

/** Parses `--classes`: a count K (classes 0..K-1) or a comma-separated list of class ids. */
export function parseClasses(raw: string | undefined): number | number[] | null {
  if (raw === undefined) return null;
  const text = String(raw).trim();
  if (/^\d+$/.test(text)) {
    const count = Number(text);
    if (count < 1) throw new UsageError(`--classes must be a count >= 1 or a list like 3,7,12; got ${raw}`);
    return count;
  }
  if (!text.includes(',')) throw new UsageError(`--classes must be a count >= 1 or a list like 3,7,12; got ${raw}`);
  // A trailing comma marks a one-class list: `7,` is class 7 alone, `7` is classes 0..6.
  const parts = text.split(',').map((part) => part.trim());
  if (parts.length > 1 && parts[parts.length - 1] === '') parts.pop();
  return parts.map((part) => {
    if (!/^\d+$/.test(part)) throw new UsageError(`--classes: '${part}' is not a class id (a non-negative integer) in ${raw}`);
    return Number(part);
  });
}

/**
 * Checks `--classes` against `model.num_classes` of the generator config before the backend
 * starts. A config that cannot be read or parsed here is left to the backend, which reports
 * it with the file and key.
 */
export function checkClassesAgainstConfig(config: string, classes: number | number[] | null): void {
  if (classes === null) return;
  let numClasses: unknown;
  try {
    const document = YAML.parse(readFileSync(config, 'utf8')) as { model?: { num_classes?: unknown } } | null;
    numClasses = document?.model?.num_classes;
  } catch {
    return;
  }
  if (typeof numClasses !== 'number' || !Number.isInteger(numClasses)) return;
  const ids = typeof classes === 'number' ? [classes - 1] : classes;
  const bad = ids.filter((id) => id >= numClasses);
  if (bad.length === 0) return;
  const subject = typeof classes === 'number' ? `a count of ${classes} does` : `class ${bad.length === 1 ? 'id' : 'ids'} ${bad.join(', ')} ${bad.length === 1 ? 'does' : 'do'}`;
  throw new UsageError(
    `--classes: ${subject} not fit the generator, which has ${numClasses} ${numClasses === 1 ? 'class' : 'classes'} ` +
      `(model.num_classes in ${config}); use ids 0..${numClasses - 1}`,
  );
}

export function buildGenerateSpec(args: GenerateArgs): GenerateSpec {
  if ((args.layouts === undefined) === (args.layoutModel === undefined)) {
    throw new UsageError('pass exactly one of --layouts FILE (a layout bank or initg.pickle) and --layout-model FILE');
  }
  positiveInteger('--count', args.count);
  positiveInteger('--batch', args.batch);
  positiveInteger('--steps', args.steps, 2);
  positiveInteger('--threads', args.threads);
  positiveInteger('--seed', args.seed, 0);
  for (const [flag, value] of [['--guidance-low', args.guidanceLow], ['--guidance-high', args.guidanceHigh]] as const) {
    if (value !== undefined && !(value >= 0 && value <= 1)) throw new UsageError(`${flag} is a time t in [0, 1] (1 = data), got ${value}`);
  }
  if (args.guidanceLow !== undefined && args.guidanceHigh !== undefined && args.guidanceLow > args.guidanceHigh) {
    throw new UsageError(`--guidance-low (${args.guidanceLow}) must not exceed --guidance-high (${args.guidanceHigh})`);
  }
  if (args.cfgScale !== undefined && !Number.isFinite(args.cfgScale)) throw new UsageError(`--cfg-scale must be a number, got ${args.cfgScale}`);
  if (args.sampler === 'sde' && args.method !== undefined && args.method !== 'euler') {
    throw new UsageError(`--sampler sde supports only --method euler (Euler-Maruyama), got ${args.method}`);
  }
  const config = existingFile('--config', args.config)!;
  const classes = parseClasses(args.classes);
  checkClassesAgainstConfig(config, classes);
  return {
    config,
    weights: existingFile('--weights', args.weights)!,
    tokenizer: existingFile('--tokenizer', args.tokenizer)!,
    tokenizer_config: existingFile('--tokenizer-config', args.tokenizerConfig),
    layouts: existingFile('--layouts', args.layouts),
    layout_model: existingFile('--layout-model', args.layoutModel),
    out: path.resolve(args.out),
    count: args.count,
    classes,
    cfg_scale: args.cfgScale ?? null,
    guidance_low: args.guidanceLow ?? null,
    guidance_high: args.guidanceHigh ?? null,
    steps: args.steps ?? null,
    sampler: args.sampler ?? null,
    method: args.method ?? null,
    batch: args.batch,
    seed: args.seed,
    device: args.device,
    threads: args.threads ?? null,
    clamp_centers: args.clampCenters ?? null,
  };
}
