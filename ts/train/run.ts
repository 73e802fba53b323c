// `gpstoken train` from start to end: resolve the config, cache the initial partitions, write
// the shard manifests, launch the ranks and summarise the result.
import { existsSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { JobError, runJob } from '../bridge/jobs.ts';
import { UsageError } from '../cli/errors.ts';
import { log, startProgress, warn } from '../cli/output.ts';
import { WEIGHT_SPECS, findWeightFile } from '../util/weights.ts';
import { cacheSamples, type CachedSample, type InitMode, type PartitionCacheOptions } from './cache.ts';
import { RankFailedError, launchRanks } from './launcher.ts';
import { startTrainProgress } from './progress.ts';
import { holdOut, listImages } from './samples.ts';
import { writeManifests } from './shards.ts';

export interface TrainOptions {
  config: string;
  data: string;
  out: string;
  steps?: number;
  batch?: number;
  seed?: number;
  resume: boolean;
  ranks: number;
  device: 'cpu' | 'cuda';
  init: InitMode;
  refine: boolean;
  evalData?: string;
  holdout: number;
  cacheDir?: string;
  threads?: number;
  graceSeconds?: number;
  progressBar: boolean;
  /** `module:function` building the model (tests and research models); the tokenizer by default. */
  modelFactory?: string;
}

export interface ResolvedTrainConfig {
  image_size: number;
  tokens: number;
  adaptive_weight: number;
  minhw: number;
  hflip: boolean;
  batch_size: number;
  iterations: number;
  grad_accumulation: number;
  seed: number;
  resolved: Record<string, unknown>;
}

export interface RankResult {
  step: number;
  stopped: boolean;
  eval: { step: number; psnr: number; psnr_ema: number; images: number } | null;
  run_dir: string;
  /** Rank 0: the newest checkpoint of the run (null when none was written). */
  checkpoint: string | null;
  rank: number;
  weights_sha256: string;
}

/** Summary that `train --json` prints; its keys are camelCase, as in the other commands' summaries. */
export interface TrainSummary {
  runDir: string;
  step: number;
  stopped: boolean;
  stoppedBy?: string;
  checkpoint: string | null;
  eval: { step: number; psnr: number; psnrEma: number; images: number } | null;
  trainImages: number;
  evalImages: number;
  skippedImages: { source: string; message: string }[];
  cacheReused: number;
  cacheBuilt: number;
  metrics: string;
}

/** Validates the config with the flag overrides in Python, where the typed config lives. */
export async function resolveTrainConfig(options: Pick<TrainOptions, 'config' | 'steps' | 'batch' | 'seed'>): Promise<ResolvedTrainConfig> {
  if (!existsSync(options.config)) throw new UsageError(`--config ${options.config}: no such file`);
  try {
    return await runJob<ResolvedTrainConfig>(
      'train.resolve:resolve_config',
      { config: path.resolve(options.config), overrides: { steps: options.steps ?? null, batch: options.batch ?? null, seed: options.seed ?? null } },
      { stderr: 'ignore' },
    );
  } catch (error) {
    if (error instanceof JobError && (error.pythonType === 'ConfigError' || error.pythonType === 'ValueError')) {
      throw new UsageError(error.message.replace(/^train\.resolve:resolve_config failed: \w+: /, ''), { cause: error });
    }
    throw error;
  }
}

async function buildCache(files: string[], cacheDir: string, options: PartitionCacheOptions, label: string) {
  const progress = startProgress(label, files.length);
  let last = 0;
  const result = await cacheSamples(files, cacheDir, options, (done) => {
    progress.increment(done - last);
    last = done;
  });
  progress.stop();
  for (const failure of result.failures) warn(`skipping ${failure.source}: ${failure.message}`);
  return result;
}

/** Paths of the optional pretrained weights (LPIPS, Inception) whose checksums are not wrong. */
async function lossWeights(): Promise<Record<string, string | null>> {
  const found: Record<string, string | null> = {};
  const names: Record<string, string> = { 'lpips-vgg': 'lpips_vgg', 'lpips-lin': 'lpips_lin', fid: 'fid' };
  for (const spec of WEIGHT_SPECS) {
    const location = await findWeightFile(spec);
    if (location.path && location.checksumOk === false) warn(`${location.path}: sha256 does not start with ${spec.sha256Prefix}; not used`);
    found[names[spec.name] ?? spec.name] = location.path && location.checksumOk !== false ? location.path : null;
  }
  return found;
}

/** The step of the newest checkpoint in `runDir/checkpoints` (latest.json, else the file names), if any. */
export async function latestCheckpointStep(runDir: string): Promise<number | undefined> {
  const folder = path.join(runDir, 'checkpoints');
  try {
    const latest = JSON.parse(await readFile(path.join(folder, 'latest.json'), 'utf8')) as { step?: unknown; file?: unknown };
    if (typeof latest.step === 'number' && typeof latest.file === 'string' && existsSync(path.join(folder, latest.file))) return latest.step;
  } catch {
    // No or unreadable latest.json: fall back to the file names, as the trainer does.
  }
  let names: string[];
  try {
    names = await readdir(folder);
  } catch {
    return undefined;
  }
  const steps = names.map((name) => /^step-(\d+)\.safetensors$/.exec(name)?.[1]).filter((step) => step !== undefined).map(Number);
  return steps.length > 0 ? Math.max(...steps) : undefined;
}

export async function runTraining(options: TrainOptions): Promise<TrainSummary> {
  const config = await resolveTrainConfig(options);
  const runDir = path.resolve(options.out);
  const cacheDir = path.resolve(options.cacheDir ?? path.join(runDir, 'cache'));
  const existingStep = await latestCheckpointStep(runDir);
  if (!options.resume && existingStep !== undefined) {
    // Starting over would mix two runs' checkpoints, logs and metrics in one folder.
    throw new UsageError(`${runDir} already contains a run at step ${existingStep}; pass --resume to continue it, or choose a new --out`);
  }
  if (options.resume && existingStep === undefined) {
    warn(`--resume: ${runDir} has no checkpoints yet; training starts at step 0`);
  }

  // ---- images and partition cache ----
  let files = await listImages(options.data, '--data');
  let evalFiles: string[] | undefined;
  if (options.evalData) evalFiles = await listImages(options.evalData, '--eval-data');
  else if (options.holdout > 0) ({ train: files, test: evalFiles } = holdOut(files, options.holdout));
  const cacheOptions: PartitionCacheOptions = {
    size: config.image_size,
    tokens: config.tokens,
    weight: config.adaptive_weight,
    minhw: config.minhw,
    init: options.init,
  };
  const train = await buildCache(files, cacheDir, cacheOptions, 'partition');
  const evaluation = evalFiles ? await buildCache(evalFiles, cacheDir, cacheOptions, 'partition (eval)') : undefined;
  const globalBatch = config.batch_size * options.ranks;
  if (train.samples.length < globalBatch) {
    throw new UsageError(
      `${train.samples.length} usable training images cannot fill one global batch of ${globalBatch} ` +
        `(--batch ${config.batch_size} x --ranks ${options.ranks}); add images or lower --batch or --ranks`,
    );
  }
  const manifests = await writeManifests(runDir, train.samples, evaluation?.samples, options.ranks, config.batch_size);
  const all: CachedSample[] = [...train.samples, ...(evaluation?.samples ?? [])];
  const reused = all.filter((s) => s.reused).length;
  log(`partition cache ${cacheDir}: ${reused} reused, ${all.length - reused} built (${options.init} init, ${config.tokens} tokens, ${config.image_size}x${config.image_size})`);

  // ---- ranks ----
  const threads = options.threads ?? Math.max(1, Math.floor(os.availableParallelism() / options.ranks));
  const progress = startTrainProgress(options.progressBar);
  let launched;
  try {
    launched = await launchRanks<RankResult>({
      runDir,
      ranks: options.ranks,
      threads,
      graceSeconds: options.graceSeconds,
      shardManifests: manifests.shards,
      spec: {
        config: path.resolve(options.config),
        run_dir: runDir,
        eval_manifest: manifests.eval ?? null,
        overrides: { steps: options.steps ?? null, batch: options.batch ?? null, seed: options.seed ?? null },
        resume: options.resume,
        refine: options.refine,
        init: options.init,
        device: options.device,
        weights: await lossWeights(),
        timeout_s: 1800,
        ...(options.modelFactory ? { model_factory: options.modelFactory } : {}),
      },
      onEvent: (event) => progress.onEvent(event),
    });
  } catch (error) {
    // A config or rank layout that does not fit the run in --out is the user's to fix (exit 2).
    // The rank's message is the whole report; the rank log keeps the traceback, so the
    // RankFailedError is not chained (describeError would print the report twice).
    if (error instanceof RankFailedError && error.pythonType === 'ResumeMismatchError' && error.pythonMessage) {
      throw new UsageError(`${error.pythonMessage}\n(rank log: ${error.logFile})`);
    }
    throw error;
  } finally {
    progress.stop();
  }

  const result = launched.result;
  const finalEval = result.eval;
  return {
    runDir,
    step: result.step,
    stopped: result.stopped || launched.stoppedBy !== undefined,
    ...(launched.stoppedBy ? { stoppedBy: launched.stoppedBy } : {}),
    checkpoint: result.checkpoint ?? null,
    eval: finalEval ? { step: finalEval.step, psnr: finalEval.psnr, psnrEma: finalEval.psnr_ema, images: finalEval.images } : null,
    trainImages: train.samples.length,
    evalImages: evaluation?.samples.length ?? 0,
    skippedImages: [...train.failures, ...(evaluation?.failures ?? [])],
    cacheReused: reused,
    cacheBuilt: all.length - reused,
    metrics: path.join(runDir, 'metrics.json'),
  };
}
