// `gpstoken reconstruct`: decode, preprocess and partition in TypeScript, then encode, splat and
// decode in the Python backend, batch by batch. Finished images are skipped on a rerun. A
// failing image is recorded in failures.csv and the others go on.
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { stringify } from 'csv-stringify/sync';
import { parse as parseYaml } from 'yaml';
import { BackendCallError, callBackend } from '../bridge/backend.ts';
import { UsageError, describeError } from '../cli/errors.ts';
import { log, startProgress } from '../cli/output.ts';
import { decodeImageFile } from '../image/decode.ts';
import { preprocessImage } from '../image/preprocess.ts';
import { DEFAULT_MINHW, DEFAULT_WEIGHT, PATCH_SIZE, gridPartition, partitionImage } from '../partition/partition.ts';
import { writeSafetensors } from '../util/safetensors.ts';
import { focusBiasFor, type FocusOptions } from './focus.ts';
import { checkSameRequest, reconstructRequest, type ReconstructRequest } from './request.ts';
import { listInputs, type InputImage } from './inputs.ts';

export interface ReconstructOptions {
  config: string;
  weights?: string;
  randomInit: boolean;
  data: string;
  out: string;
  /** Preprocessed side; the model's resolution when undefined. */
  size?: number;
  tokens?: number;
  /** Entropy exponent; the config's gps_adaptive_w when undefined. */
  weight?: number;
  /** Partition minhw; the config's data.params.adaptive_minhw (else 8) when undefined. */
  minhw?: number;
  /** Initial Gaussians: the entropy partition, or the uniform-grid baseline. */
  init?: 'entropy' | 'grid';
  focus: FocusOptions;
  batch: number;
  device: string;
  saveTokens: boolean;
  refine: boolean;
  seed: number;
}

export const RECONSTRUCT_DEFAULTS = { batch: 8, device: 'cpu', init: 'entropy' as const };

export interface Failure {
  image: string;
  stage: 'decode' | 'preprocess' | 'partition' | 'model';
  error: string;
}

export interface ReconstructSummary {
  out: string;
  /** Tokens per tile. */
  tokens: number;
  total: number;
  reconstructed: number;
  skipped: number;
  failed: number;
  seconds: number;
  imagesPerSecond: number;
  failures: Failure[];
}

interface ModelInfo {
  config: { gpsconfig: { gps_num: number } };
  tile_size: number;
  parameters: number;
  device: string;
  versions: Record<string, string>;
}

interface Prepared {
  input: InputImage;
  pixels: Uint8Array; // [S, S, 3]
  gpscodes: Float32Array; // [T*T*N, 5]
  regions: Float32Array; // [T*T*N, 4]
}

const MODEL_CALL_TIMEOUT_MS = 60 * 60_000;

/** Output paths of one image: imgs/<name>, gt/<name>, tokens/<stem>.safetensors. */
export function outputPaths(out: string, input: InputImage, saveTokens: boolean) {
  return {
    recon: path.join(out, 'imgs', input.name),
    gt: path.join(out, 'gt', input.name),
    tokens: saveTokens ? path.join(out, 'tokens', input.name.replace(/\.png$/, '.safetensors')) : null,
  };
}

/** Rejects a missing --weights flag, or a missing --config, --weights or --focus-mask file, before anything starts. */
async function checkInputFiles(options: ReconstructOptions): Promise<void> {
  if (!options.weights && !options.randomInit) {
    throw new UsageError('--weights FILE is required (or --random-init for a random-initialised model in tests and demos)');
  }
  const files: [string, string | undefined][] = [
    ['--config', options.config],
    ['--weights', options.weights],
    ['--focus-mask', options.focus.mask],
  ];
  for (const [flag, file] of files) {
    if (file !== undefined && !existsSync(file)) throw new UsageError(`${flag} ${file}: file not found`);
  }
}

/** Builds the summary of a rerun that found every image done, without starting the backend. */
async function finishedSummary(options: ReconstructOptions, total: number, started: number): Promise<ReconstructSummary> {
  const stored = JSON.parse(await readFile(path.join(options.out, 'reconstruct.json'), 'utf8').catch(() => '{}')) as {
    options?: { tokens?: number };
  };
  const seconds = (Date.now() - started) / 1000;
  return {
    out: options.out,
    tokens: stored.options?.tokens ?? options.tokens ?? 0,
    total,
    reconstructed: 0,
    skipped: total,
    failed: 0,
    seconds,
    imagesPerSecond: 0,
    failures: [],
  };
}

function isComplete(out: string, input: InputImage, saveTokens: boolean): boolean {
  const paths = outputPaths(out, input, saveTokens);
  return existsSync(paths.recon) && existsSync(paths.gt) && (paths.tokens === null || existsSync(paths.tokens));
}

export async function runReconstruct(options: ReconstructOptions): Promise<ReconstructSummary> {
  const started = Date.now();
  const inputs = await listInputs(options.data);
  await checkInputFiles(options);
  const request = await reconstructRequest(options);
  await checkSameRequest(options.out, request);
  const pending = inputs.filter((input) => !isComplete(options.out, input, options.saveTokens));
  const skipped = inputs.length - pending.length;
  if (skipped > 0) log(`reconstruct: ${skipped} of ${inputs.length} images already done, skipping them`);
  if (pending.length === 0) return finishedSummary(options, inputs.length, started);

  await mkdir(options.out, { recursive: true });
  const model = await loadModel(options);
  options = { ...options, size: checkSize(options, model.tile_size), ...(await partitionDefaults(options)) };
  const tokens = options.tokens ?? model.config.gpsconfig.gps_num;
  const record = await writeRunRecord(options, request, model, tokens);

  const failures: Failure[] = [];
  const scratch = path.join(options.out, '.scratch');
  await mkdir(scratch, { recursive: true });
  const progress = startProgress('reconstruct', pending.length);
  let reconstructed = 0;
  try {
    for (let i = 0; i < pending.length; i += options.batch) {
      const chunk = pending.slice(i, i + options.batch);
      const prepared = await prepareAll(chunk, options, model, tokens, failures);
      reconstructed += await reconstructPrepared(prepared, options, scratch, failures);
      await writeFailures(options.out, failures);
      progress.increment(chunk.length, { failed: failures.length });
    }
  } finally {
    progress.stop();
    await rm(scratch, { recursive: true, force: true });
  }

  const seconds = (Date.now() - started) / 1000;
  const summary: ReconstructSummary = {
    out: options.out,
    tokens,
    total: inputs.length,
    reconstructed,
    skipped,
    failed: failures.length,
    seconds,
    imagesPerSecond: reconstructed / Math.max(seconds, 1e-3),
    failures,
  };
  const { failures: _listed, ...counts } = summary;
  await saveRunRecord(options.out, { ...record, finished: new Date().toISOString(), summary: counts });
  return summary;
}

async function loadModel(options: ReconstructOptions): Promise<ModelInfo> {
  if (!options.weights && !options.randomInit) {
    throw new UsageError('--weights FILE is required (or --random-init for a random-initialised model in tests and demos)');
  }
  try {
    const info = await callBackend<ModelInfo>('reconstruct:load_model', modelArgs(options), { timeoutMs: 10 * 60_000 });
    if (info.tile_size > PATCH_SIZE) {
      throw new UsageError(`--config ${options.config}: the model decodes ${info.tile_size}x${info.tile_size} tiles; the partition tiles at ${PATCH_SIZE}`);
    }
    return info;
  } catch (error) {
    if (error instanceof BackendCallError && ['ConfigError', 'CheckpointError', 'ValueError', 'RuntimeError'].includes(error.pythonType)) {
      // A config, weights or device problem, whose message already names the file or flag.
      throw new UsageError(pythonMessage(error.message), { cause: error });
    }
    throw error;
  }
}

/**
 * Fills in the partition settings the model was trained with: the entropy exponent from
 * model.gpsconfig.gps_adaptive_w and minhw from data.params.adaptive_minhw of the YAML, so a
 * model trained at 64x64 with a small minhw is tested on the same kind of layout.
 */
async function partitionDefaults(options: ReconstructOptions): Promise<{ weight: number; minhw: number }> {
  const raw = parseYaml(await readFile(options.config, 'utf8')) as Record<string, any> | null;
  const model = raw?.model ?? raw?.gpstoken ?? {};
  const weight = options.weight ?? model?.gpsconfig?.gps_adaptive_w ?? DEFAULT_WEIGHT;
  const minhw = options.minhw ?? raw?.data?.params?.adaptive_minhw ?? DEFAULT_MINHW;
  return { weight: Number(weight), minhw: Number(minhw) };
}

/** Builds the uniform-grid layout of every tile of a side x side image, in the partition's tile order. */
function tiledGrid(side: number, tileSize: number, tokens: number): { gpscodes: Float32Array; regions: Float32Array } {
  const tile = gridPartition(Math.min(side, tileSize), tokens);
  const tiles = side > tileSize ? (side / tileSize) ** 2 : 1;
  const gpscodes = new Float32Array(tile.gpscodes.length * tiles);
  const regions = new Float32Array(tile.regions.length * tiles);
  for (let t = 0; t < tiles; t += 1) {
    gpscodes.set(tile.gpscodes, t * tile.gpscodes.length);
    regions.set(tile.regions, t * tile.regions.length);
  }
  return { gpscodes, regions };
}

/**
 * Returns the preprocessed side, which is the model's own resolution when --size is not given.
 * A model trained below 256x256 (the CPU configs) takes one tile of its own size. A 256 model
 * also takes multiples of 256, tiled as the published code does.
 */
function checkSize(options: ReconstructOptions, tileSize: number): number {
  const size = options.size ?? tileSize;
  const tiled = tileSize === PATCH_SIZE && size % PATCH_SIZE === 0;
  if (size !== tileSize && !tiled) {
    const allowed = tileSize === PATCH_SIZE ? `${PATCH_SIZE}, 512, 1024 or another multiple of ${PATCH_SIZE}` : `${tileSize}`;
    throw new UsageError(`--size ${size}: the model in ${options.config} decodes ${tileSize}x${tileSize} images; use --size ${allowed}`);
  }
  return size;
}

function pythonMessage(message: string): string {
  return message.replace(/^reconstruct:load_model failed: \w+: /, '');
}

function modelArgs(options: ReconstructOptions) {
  return {
    config: path.resolve(options.config),
    weights: options.weights ? path.resolve(options.weights) : null,
    device: options.device,
    random_init: options.randomInit,
    seed: options.seed,
  };
}

/** Writes reconstruct.json (options, model, versions) before the first image; the summary is added at the end. */
async function writeRunRecord(options: ReconstructOptions, request: ReconstructRequest, model: ModelInfo, tokens: number): Promise<Record<string, unknown>> {
  const record = {
    command: 'reconstruct',
    request,
    options: { ...options, tokens },
    model: { config: model.config, parameters: model.parameters, device: model.device },
    quantization: 'uint8((clamp(x, -1, 1) + 1) * 127.5), truncated, as the published test script',
    versions: { ...model.versions, node: process.version },
    started: new Date().toISOString(),
  };
  await saveRunRecord(options.out, record);
  return record;
}

async function saveRunRecord(out: string, record: Record<string, unknown>): Promise<void> {
  await writeFile(path.join(out, 'reconstruct.json'), `${JSON.stringify(record, null, 2)}\n`);
}

async function prepareAll(chunk: InputImage[], options: ReconstructOptions, model: ModelInfo, tokens: number, failures: Failure[]) {
  const prepared: Prepared[] = [];
  for (const input of chunk) {
    let stage: Failure['stage'] = 'decode';
    try {
      const decoded = await decodeImageFile(input.file);
      stage = 'preprocess';
      const image = preprocessImage(decoded, options.size as number);
      stage = 'partition';
      const bias = await focusBiasFor(image, options.focus, options.weight ?? DEFAULT_WEIGHT);
      const layout =
        options.init === 'grid'
          ? tiledGrid(image.width, model.tile_size, tokens)
          : partitionImage(image, { tokens, weight: options.weight, minhw: options.minhw, bias });
      prepared.push({ input, pixels: image.data, gpscodes: layout.gpscodes, regions: layout.regions });
    } catch (error) {
      if (error instanceof UsageError) throw error;
      failures.push({ image: input.file, stage, error: describeError(error).replace(/\s*\n\s*/g, ' | ') });
    }
  }
  return prepared;
}

/** Runs the model on the batch; when the batch fails, retries image by image to isolate the culprit. */
async function reconstructPrepared(prepared: Prepared[], options: ReconstructOptions, scratch: string, failures: Failure[]) {
  if (prepared.length === 0) return 0;
  try {
    await callModel(prepared, options, scratch);
    return prepared.length;
  } catch (error) {
    if (prepared.length === 1) {
      failures.push({ image: prepared[0]!.input.file, stage: 'model', error: describeError(error).replace(/\s*\n\s*/g, ' | ') });
      return 0;
    }
    let done = 0;
    for (const image of prepared) done += await reconstructPrepared([image], options, scratch, failures);
    return done;
  }
}

async function callModel(prepared: Prepared[], options: ReconstructOptions, scratch: string): Promise<void> {
  const side = options.size as number;
  const count = prepared[0]!.gpscodes.length / 5;
  const batchFile = path.join(scratch, `batch-${process.pid}.safetensors`);
  await writeSafetensors(batchFile, {
    images: { dtype: 'U8', shape: [prepared.length, side, side, 3], data: concat(prepared.map((p) => p.pixels), Uint8Array) },
    init_gpscodes: { dtype: 'F32', shape: [prepared.length, count, 5], data: concat(prepared.map((p) => p.gpscodes), Float32Array) },
    regions: { dtype: 'F32', shape: [prepared.length, count, 4], data: concat(prepared.map((p) => p.regions), Float32Array) },
  });
  await callBackend(
    'reconstruct:reconstruct_batch',
    {
      batch: batchFile,
      outputs: prepared.map((p) => outputPaths(path.resolve(options.out), p.input, options.saveTokens)),
      refine: options.refine,
      ...modelArgs(options),
    },
    { timeoutMs: MODEL_CALL_TIMEOUT_MS },
  );
}

function concat<T extends Uint8Array | Float32Array>(parts: T[], Kind: { new (length: number): T }): T {
  const out = new Kind(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part as never, offset);
    offset += part.length;
  }
  return out;
}

async function writeFailures(out: string, failures: Failure[]): Promise<void> {
  const target = path.join(out, 'failures.csv');
  if (failures.length === 0) {
    await rm(target, { force: true });
    return;
  }
  const csv = stringify(failures, { header: true, columns: ['image', 'stage', 'error'] });
  await writeFile(target, csv);
}
