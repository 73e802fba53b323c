// `gpstoken eval` end to end: check inputs, run shards (in parallel backend processes),
// merge their statistics and report.
import os from 'node:os';
import path from 'node:path';
import { readFileSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { REPO_ROOT } from '../bridge/backend.ts';
import { findPython } from '../bridge/python.ts';
import { UsageError } from '../cli/errors.ts';
import { loadReferenceStats, saveReferenceStats, type ReferenceStats } from '../metrics/stats.ts';
import { describeMissingWeight, resolveWeight, weightSpec, type ResolvedWeight } from '../util/weights.ts';
import { checkImageSet, listImageFiles, pairByName, probeImages, type ImageSet } from './images.ts';
import { backendMetrics, frechetDistances, pairedMeans, readShardFiles } from './merge.ts';
import {
  INCEPTION_METRICS,
  INCEPTION_RESIZE_MODE,
  PAIRED_METRICS,
  PAIRED_RESIZE_MODE,
  SSIM_PRESETS,
  type EvalOptions,
  type Metric,
  type SsimPreset,
} from './options.ts';
import type { EvalResult } from './report.ts';
import { isFinishedShard, planShards, runPool, runShard, settingsKey, type ShardSettings } from './shards.ts';
import { countOf } from '../cli/output.ts';

export interface EvalHooks {
  log: (message: string) => void;
  warn: (message: string) => void;
  /** Called with the number of images done so far out of `total`. */
  progress?: (done: number, total: number) => void;
}

const MIN_SIDE: Partial<Record<Metric, number>> = { swd: 16, lpips: 16, ssim: 11 };
const SWD_MIN_RESOLUTION = 16;

/** Pyramid depth of the SWD: halve the smaller side while it stays at or above 16 pixels. */
export function swdLevelCount(width: number, height: number): number {
  let side = Math.min(width, height);
  let count = 0;
  while (side >= SWD_MIN_RESOLUTION) {
    count += 1;
    side = Math.floor(side / 2);
  }
  return count;
}

interface ActiveMetrics {
  metrics: Metric[];
  skipped: Record<string, string>;
  weights: Record<string, ResolvedWeight>;
}

/** Drops the metrics whose weight files are absent, with one message per missing file. */
export async function resolveMetricWeights(options: EvalOptions, hooks: EvalHooks): Promise<ActiveMetrics> {
  const skipped: Record<string, string> = {};
  const weights: Record<string, ResolvedWeight> = {};
  let metrics = [...options.metrics];
  const needs = (list: readonly Metric[]) => metrics.filter((metric) => list.includes(metric));

  const inception = needs(INCEPTION_METRICS);
  if (inception.length > 0) {
    const fid = await resolveWeight('fid', options.fidWeights);
    if (fid) weights.fid = fid;
    else {
      hooks.warn(`${inception.join(', ')} skipped: ${describeMissingWeight('fid')}, or pass --fid-weights FILE`);
      for (const metric of inception) skipped[metric] = `${weightSpec('fid').fileName} not found`;
      metrics = metrics.filter((metric) => !inception.includes(metric));
    }
  }
  if (metrics.includes('lpips')) {
    const vgg = await resolveWeight('lpips-vgg', options.vgg16Weights);
    const lin = await resolveWeight('lpips-lin', options.lpipsWeights);
    if (vgg && lin) {
      weights.vgg16 = vgg;
      weights.lpips = lin;
    } else {
      const missing = [vgg ? undefined : 'lpips-vgg', lin ? undefined : 'lpips-lin'].filter((name): name is string => Boolean(name));
      hooks.warn(`lpips skipped: ${missing.map((name) => describeMissingWeight(name)).join('; ')}; or pass --vgg16-weights / --lpips-weights`);
      skipped.lpips = `${missing.map((name) => weightSpec(name).fileName).join(' and ')} not found`;
      metrics = metrics.filter((metric) => metric !== 'lpips');
    }
  }
  if (metrics.length === 0) {
    throw new UsageError(`no requested metric can be computed: ${Object.entries(skipped).map(([m, r]) => `${m}: ${r}`).join('; ')}`);
  }
  return { metrics, skipped, weights };
}

/** Lists and checks both folders; the headers of all files are read in one backend job. */
async function loadSets(realFolder: string | undefined, fakeFolder: string, minSide: number, hooks: EvalHooks): Promise<{ real?: ImageSet; fake: ImageSet }> {
  const realFiles = realFolder !== undefined ? await listImageFiles(realFolder, '--real') : [];
  const fakeFiles = await listImageFiles(fakeFolder, '--fake');
  const infos = await probeImages([...realFiles, ...fakeFiles]);
  const real = realFolder !== undefined ? checkImageSet('real', realFolder, infos.slice(0, realFiles.length), minSide) : undefined;
  const fake = checkImageSet('fake', fakeFolder, infos.slice(realFiles.length), minSide);
  for (const set of [real, fake]) {
    if (set && set.expanded.length > 0) {
      hooks.warn(`--${set.label} ${set.folder}: ${countOf(set.expanded.length, 'greyscale or palette image')} ${set.expanded.length === 1 ? 'is' : 'are'} expanded to RGB, e.g. ${path.basename(set.expanded[0] as string)}`);
    }
  }
  return { real, fake };
}

function filesHash(files: string[]): string {
  const hash = createHash('sha256');
  for (const file of files) {
    const stat = statSync(file);
    hash.update(`${file}\0${stat.size}\0${stat.mtimeMs}\n`);
  }
  return hash.digest('hex').slice(0, 16);
}

/** Fake images are resized to the real size when the sizes differ but the aspect ratio agrees. */
export function fakeResize(real: ImageSet | undefined, fake: ImageSet, metrics: Metric[]): [number, number] | null {
  if (!real || (real.width === fake.width && real.height === fake.height)) return null;
  const sizeSensitive = metrics.filter((metric) => PAIRED_METRICS.includes(metric) || metric === 'swd');
  if (sizeSensitive.length === 0) return null;
  if (real.width * fake.height !== real.height * fake.width) {
    throw new UsageError(
      `real images are ${real.width}x${real.height} and fake images ${fake.width}x${fake.height}: different aspect ratios, ` +
        `so ${sizeSensitive.join(', ')} cannot compare them; crop or resize one folder first`,
    );
  }
  return [real.width, real.height];
}

export function checkCounts(metrics: Metric[], realCount: number, fakeCount: number, isSplits: number, realStats: boolean): void {
  if (metrics.includes('is') && fakeCount < isSplits) {
    throw new UsageError(`the Inception Score uses ${isSplits} splits but --fake holds ${countOf(fakeCount, 'image')}; add images or lower --is-splits`);
  }
  if (metrics.includes('pr') && Math.min(realCount, fakeCount) <= 3) {
    throw new UsageError(`precision/recall uses k = 3 nearest neighbours and needs at least 4 images per folder, got ${realCount} real and ${fakeCount} fake`);
  }
  const fid = metrics.filter((metric) => metric === 'rfid' || metric === 'sfid');
  const smallest = realStats ? fakeCount : Math.min(realCount, fakeCount);
  if (fid.length > 0 && smallest < 2) {
    throw new UsageError(`${fid.join(', ')} need a covariance, so at least 2 images per folder; got ${realStats ? '' : `${realCount} real and `}${fakeCount} fake`);
  }
}

function gpstokenVersion(): string {
  return (JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}

export interface EvalPlan {
  settings: ShardSettings;
  key: string;
  real: string[];
  fake: string[];
  skipped: Record<string, string>;
  weights: Record<string, ResolvedWeight>;
  reference?: ReferenceStats;
}

/** Checks folders, flags and weights, and fixes every setting that shapes the numbers. */
export async function planEvaluation(options: EvalOptions, hooks: EvalHooks): Promise<EvalPlan> {
  const { metrics, skipped, weights } = await resolveMetricWeights(options, hooks);
  const paired = metrics.some((metric) => PAIRED_METRICS.includes(metric));
  let reference: ReferenceStats | undefined;
  if (options.realStats) {
    if (metrics.includes('pr')) throw new UsageError('--real-stats contains only means and covariances, but pr needs the real features; drop pr from --metrics');
    reference = await loadReferenceStats(options.realStats);
    const fid = weights.fid;
    if (fid && reference.settings.networkSha256 !== fid.sha256) {
      throw new UsageError(`--real-stats ${options.realStats} was computed with network weights ${reference.settings.networkSha256.slice(0, 8)}, not ${fid.sha256.slice(0, 8)}; recompute it`);
    }
    if (reference.settings.resizeMode !== INCEPTION_RESIZE_MODE) {
      throw new UsageError(`--real-stats ${options.realStats} used resize mode ${reference.settings.resizeMode}, not ${INCEPTION_RESIZE_MODE}; recompute it`);
    }
  }
  const realFeatures = metrics.some((metric) => metric === 'rfid' || metric === 'sfid');
  const needsRealImages = paired || metrics.includes('swd') || metrics.includes('pr') || (realFeatures && !reference);
  if (needsRealImages && !options.real) throw new UsageError(`--real DIR is required for ${metrics.join(', ')}`);
  const minSide = Math.max(1, ...metrics.map((metric) => MIN_SIDE[metric] ?? 1));
  const { real: realSet, fake: fakeSet } = await loadSets(needsRealImages ? options.real : undefined, options.fake, minSide, hooks);
  let realFiles = realSet?.files ?? [];
  let fakeFiles = fakeSet.files;
  if (paired) ({ real: realFiles, fake: fakeFiles } = pairByName(realFiles, fakeFiles));
  checkCounts(metrics, realFiles.length, fakeFiles.length, options.isSplits, Boolean(reference));
  const fakeSize = fakeResize(realSet, fakeSet, metrics);
  if (fakeSize) hooks.warn(`fake images (${fakeSet.width}x${fakeSet.height}) are resized to the real size ${fakeSize[0]}x${fakeSize[1]} with Pillow's bicubic filter`);

  const weightDigests = Object.fromEntries(Object.entries(weights).map(([name, weight]) => [name, weight.sha256]));
  const settings: ShardSettings = {
    real: options.real ? path.resolve(options.real) : '',
    fake: path.resolve(options.fake),
    paired,
    metrics,
    ssimPresets: metrics.includes('ssim') ? [...SSIM_PRESETS] : [],
    seed: options.seed,
    swdLevels: metrics.includes('swd') ? swdLevelCount(realSet?.width ?? fakeSet.width, realSet?.height ?? fakeSet.height) : 0,
    swdMaxImages: options.swdMaxImages,
    fakeSize,
    realStatsGiven: Boolean(reference),
    resizeMode: INCEPTION_RESIZE_MODE,
    pairedResizeMode: fakeSize ? PAIRED_RESIZE_MODE : null,
    weights: weightDigests,
    shardCount: options.shard?.count ?? options.workers,
    realCount: realFiles.length,
    fakeCount: fakeFiles.length,
    filesHash: filesHash([...realFiles, ...fakeFiles]),
  };
  return { settings, key: settingsKey(settings), real: realFiles, fake: fakeFiles, skipped, weights, reference };
}

/**
 * Returns the default scratch folder of a plan's shard files: under the OS temp folder, so
 * running eval does not create folders in the current directory. The settings hash in the
 * name lets a rerun with the same settings reuse the finished shards.
 */
export function defaultShardDir(key: string): string {
  return path.join(os.tmpdir(), 'gpstoken-eval-shards', key);
}

/** Runs the shards of a plan that are not finished yet; returns every shard file of the plan. */
export async function runPlannedShards(plan: EvalPlan, options: EvalOptions, hooks: EvalHooks, only?: number): Promise<string[]> {
  const folder = path.resolve(options.shardDir ?? defaultShardDir(plan.key));
  const works = planShards(plan.real, plan.fake, plan.settings.shardCount, folder);
  const selected = only === undefined ? works : works.filter((work) => work.index === only);
  const parallel = only === undefined ? Math.min(options.workers, works.length) : 1;
  const threads = Math.max(1, Math.floor(os.availableParallelism() / parallel));
  const total = selected.reduce((sum, work) => sum + work.fake.length + (plan.settings.paired ? 0 : work.real.length), 0);
  const done = new Map<number, number>();
  hooks.progress?.(0, total);
  const tasks = selected.map((work) => async () => {
    if (await isFinishedShard(work.file, plan.key)) {
      hooks.log(`shard ${work.index}/${plan.settings.shardCount}: reusing ${work.file}`);
      done.set(work.index, work.fake.length + (plan.settings.paired ? 0 : work.real.length));
      return work.file;
    }
    return runShard(work, plan.settings, {
      weights: Object.fromEntries(Object.entries(plan.weights).map(([name, weight]) => [name, weight.path])),
      batchSize: options.batchSize,
      device: options.device,
      threads,
      isSplits: options.isSplits,
      skipped: plan.skipped,
      onProgress: (shard, count) => {
        done.set(shard, count);
        hooks.progress?.([...done.values()].reduce((a, b) => a + b, 0), total);
      },
    });
  });
  await runPool(tasks, parallel);
  return selected.map((work) => work.file);
}

export interface MergeOptions {
  ssimPreset: SsimPreset;
  realStats?: string;
  saveStats?: string;
  /** Metrics dropped before the shards ran (missing weights), kept in the result. */
  skipped?: Record<string, string>;
}

/** Merges finished shard files into the final result; optionally saves the real statistics. */
export async function mergeShards(files: string[], options: MergeOptions, hooks: EvalHooks): Promise<EvalResult> {
  const shards = await readShardFiles(files);
  const settings = (shards[0] as (typeof shards)[number]).settings;
  const isSplits = (shards[0] as (typeof shards)[number]).isSplits;
  const reference = options.realStats ? await loadReferenceStats(options.realStats) : undefined;
  if (settings.realStatsGiven && !reference) throw new UsageError('these shards were computed for reference statistics; pass the same --real-stats FILE to merge them');

  const paired = pairedMeans(shards, settings);
  const distribution = frechetDistances(shards, settings, reference);
  const backend = await backendMetrics(shards, settings, isSplits);
  const metrics: Record<string, number | undefined> = {
    psnr: paired.psnr,
    psnr_dataset: paired.psnr_dataset,
    ssim: paired.ssim[options.ssimPreset],
    ssim_pytorch_msssim: paired.ssim['pytorch-msssim'],
    ssim_skimage: paired.ssim.skimage,
    lpips: paired.lpips,
    rfid: distribution.rfid?.value,
    sfid: distribution.sfid?.value,
    is: backend.is,
    is_std: backend.is_std,
    precision: backend.precision,
    recall: backend.recall,
    swd: backend.swd,
  };
  if (paired.identicalPairs > 0) hooks.warn(`${countOf(paired.identicalPairs, 'pair')} ${paired.identicalPairs === 1 ? 'is' : 'are'} identical (MSE 0), so the PSNR of such a pair and the mean PSNR are infinite; psnr_dataset stays finite unless all pairs are identical`);
  for (const name of ['rfid', 'sfid'] as const) {
    const value = distribution[name];
    if (value && value.raw < 0) hooks.log(`${name}: the computed value ${value.raw.toExponential(3)} is below 0 by rounding and is reported as 0`);
  }

  if (options.saveStats) {
    const fid = settings.weights.fid;
    if (!fid || Object.keys(distribution.realGaussians).length === 0) throw new UsageError('--save-stats needs rfid or sfid, which need the FID Inception weights');
    await saveReferenceStats(options.saveStats, distribution.realGaussians, { network: 'fid-inception-v3-2015-12-05', networkSha256: fid, resizeMode: settings.resizeMode }, { source: settings.real });
    hooks.log(`saved reference statistics of ${settings.real} to ${options.saveStats}`);
  }

  const python = await findPython();
  return {
    metrics,
    swdLevels: backend.swd_levels,
    skipped: options.skipped ?? (shards[0] as (typeof shards)[number]).skipped,
    counts: { real: settings.realCount, fake: settings.fakeCount, pairs: settings.paired ? settings.fakeCount : 0 },
    settings: {
      date: new Date().toISOString(),
      real: settings.real,
      fake: settings.fake,
      metrics: settings.metrics,
      ssimPreset: options.ssimPreset,
      ssimPresets: settings.ssimPresets,
      decoder: 'Pillow',
      resizeMode: settings.resizeMode,
      pairedResizeMode: settings.pairedResizeMode,
      weights: settings.weights,
      realStats: options.realStats,
      seed: settings.seed,
      isSplits,
      prNeighbours: 3,
      swd: {
        levels: settings.swdLevels,
        images: { real: Math.min(settings.realCount, settings.swdMaxImages), fake: Math.min(settings.fakeCount, settings.swdMaxImages) },
        patchSize: 7,
        patchesPerImage: 128,
        repeats: 4,
        directions: 128,
      },
      shards: settings.shardCount,
      gpstokenVersion: gpstokenVersion(),
      torchVersion: python.torch,
      numpyVersion: python.numpy,
      python: python.version,
    },
    diagnostics: {
      rfid: distribution.rfid && { raw: distribution.rfid.raw, rank: distribution.rfid.rank, minEigenvalue: distribution.rfid.minEigenvalue },
      sfid: distribution.sfid && { raw: distribution.sfid.raw, rank: distribution.sfid.rank, minEigenvalue: distribution.sfid.minEigenvalue },
      identicalPairs: paired.identicalPairs,
    },
  };
}

/** Evaluates two folders; with `options.shard` only runs that shard and returns its file. */
export async function evaluateFolders(options: EvalOptions, hooks: EvalHooks): Promise<EvalResult | { shardFile: string }> {
  const plan = await planEvaluation(options, hooks);
  hooks.log(`evaluating ${plan.settings.metrics.join(', ')} on ${plan.real.length} real and ${plan.fake.length} fake images`);
  if (options.shard) {
    const [file] = await runPlannedShards(plan, options, hooks, options.shard.index);
    return { shardFile: file as string };
  }
  const files = await runPlannedShards(plan, options, hooks);
  return mergeShards(files, { ssimPreset: options.ssimPreset, realStats: options.realStats, saveStats: options.saveStats, skipped: plan.skipped }, hooks);
}
