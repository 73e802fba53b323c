// The typed options of `gpstoken eval` with their defaults and validation.
import { UsageError } from '../cli/errors.ts';

export const ALL_METRICS = ['psnr', 'ssim', 'lpips', 'rfid', 'sfid', 'is', 'pr', 'swd'] as const;
export type Metric = (typeof ALL_METRICS)[number];

/** Metrics computed on image pairs matched by file name. */
export const PAIRED_METRICS: readonly Metric[] = ['psnr', 'ssim', 'lpips'];
/** Metrics that need the FID Inception weights. */
export const INCEPTION_METRICS: readonly Metric[] = ['rfid', 'sfid', 'is', 'pr'];

export const SSIM_PRESETS = ['pytorch-msssim', 'skimage'] as const;
export type SsimPreset = (typeof SSIM_PRESETS)[number];
export const DEFAULT_SSIM_PRESET: SsimPreset = 'pytorch-msssim';

/** Resize applied by the FID network, recorded in every result. */
export const INCEPTION_RESIZE_MODE = 'torch-bilinear-299-align_corners=False';
/** Resize applied to a fake image whose size differs from its real pair (same aspect ratio). */
export const PAIRED_RESIZE_MODE = 'pillow-bicubic-to-real-size';

export interface ShardSpec {
  index: number;
  count: number;
}

export interface EvalOptions {
  real: string;
  fake: string;
  metrics: Metric[];
  ssimPreset: SsimPreset;
  workers: number;
  shard?: ShardSpec;
  shardDir?: string;
  saveStats?: string;
  realStats?: string;
  out?: string;
  seed: number;
  isSplits: number;
  swdMaxImages: number;
  batchSize: number;
  device: string;
  fidWeights?: string;
  vgg16Weights?: string;
  lpipsWeights?: string;
}

export const DEFAULTS = {
  seed: 0,
  isSplits: 10,
  swdMaxImages: 4096,
  batchSize: 16,
  device: 'auto',
  workers: 1,
} as const;

export function parseMetrics(text: string | undefined): Metric[] {
  if (text === undefined) return [...ALL_METRICS];
  const names = text.split(',').map((name) => name.trim().toLowerCase()).filter(Boolean);
  const unknown = names.filter((name) => !(ALL_METRICS as readonly string[]).includes(name));
  if (unknown.length > 0) {
    throw new UsageError(`--metrics: unknown metric ${unknown.map((n) => JSON.stringify(n)).join(', ')}; choose from ${ALL_METRICS.join(',')}`);
  }
  if (names.length === 0) throw new UsageError(`--metrics: name at least one of ${ALL_METRICS.join(',')}`);
  return ALL_METRICS.filter((metric) => names.includes(metric));
}

export function parseShard(text: string | undefined): ShardSpec | undefined {
  if (text === undefined) return undefined;
  const match = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = Number(match?.[1]);
  const count = Number(match?.[2]);
  if (!match || count < 1 || index >= count) {
    throw new UsageError(`--shard: expected I/N with 0 <= I < N (for example 0/4), got ${JSON.stringify(text)}`);
  }
  return { index, count };
}

export function parseSsimPreset(text: string | undefined): SsimPreset {
  const value = text ?? DEFAULT_SSIM_PRESET;
  if (!(SSIM_PRESETS as readonly string[]).includes(value)) {
    throw new UsageError(`--ssim-preset: unknown preset ${JSON.stringify(value)}; choose from ${SSIM_PRESETS.join(', ')}`);
  }
  return value as SsimPreset;
}

/**
 * Checks `--device`: auto, cpu, cuda or cuda:N. A CUDA device on a machine whose torch sees
 * no CUDA is rejected here rather than failing inside the first network call.
 */
export function parseDevice(text: string | undefined, cudaAvailable: boolean): string {
  const value = (text ?? DEFAULTS.device).trim();
  if (!/^(auto|cpu|cuda(:\d+)?)$/.test(value)) {
    throw new UsageError(`--device: expected auto, cpu, cuda or cuda:N (N a GPU index), got ${JSON.stringify(text)}`);
  }
  if (value.startsWith('cuda') && !cudaAvailable) {
    throw new UsageError(`--device ${value}: torch on this machine sees no CUDA GPU; use --device cpu or auto`);
  }
  // NOTE: the GPU index of cuda:N is checked by torch when the networks load.
  return value;
}

export function positiveInteger(flag: string, value: number | undefined, fallback: number): number {
  const result = value ?? fallback;
  if (!Number.isInteger(result) || result < 1) throw new UsageError(`${flag}: expected a positive integer, got ${value}`);
  return result;
}
