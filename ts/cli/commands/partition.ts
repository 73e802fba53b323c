// `gpstoken partition`: the entropy-driven partition of images into token regions, with the
// initial Gaussians as JSON, per-token CSV and overlay PNGs.
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { FocusSpecError, parseFocusBox } from '../../partition/focus.ts';
import { partitionJson } from '../../partition/format.ts';
import { runPartitionJob, type PartitionJob, type PartitionJobOutcome } from '../../partition/job.ts';
import { summarisePartition, uniqueStems } from '../../partition/outputs.ts';
import { DEFAULT_MINHW, DEFAULT_WEIGHT, PATCH_SIZE, PartitionSizeError, tileGrid } from '../../partition/partition.ts';
import { defaultWorkerCount, runInWorkers } from '../../util/pool.ts';
import { PartialFailureError, UsageError } from '../errors.ts';
import { printLine, startProgress, warn, type Progress } from '../output.ts';

/** File extensions taken from a folder argument. */
export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.webp'] as const;

interface PartitionArgs {
  images: string[];
  tokens: number;
  weight: number;
  minhw: number;
  focus?: string[];
  focusMask?: string;
  size?: number;
  out?: string;
  workers?: number;
  json: boolean;
}

function builder(yargs: Argv): Argv<PartitionArgs> {
  return yargs
    .positional('images', { type: 'string', array: true, demandOption: true, describe: 'Image files or folders (folders: their image files, sorted by name)' })
    .option('tokens', { type: 'number', demandOption: true, describe: 'Regions per image (per 256x256 tile for larger images)' })
    .option('weight', { type: 'number', default: DEFAULT_WEIGHT, describe: 'Exponent on the entropy in the complexity score' })
    .option('minhw', { type: 'number', default: DEFAULT_MINHW, describe: 'Regions whose extents are both at most this many pixels are not split' })
    .option('focus', {
      type: 'string',
      array: true,
      describe: 'Bias box x0,y0,x1,y1[:value] in pixels of the (preprocessed) image, half-open; repeatable. Default value: 4 x entropy**weight of the whole image per pixel',
    })
    .option('focus-mask', { type: 'string', describe: 'Grey image whose values (0..255 -> 0..1) times the default focus value bias each pixel' })
    .option('size', { type: 'number', describe: 'Preprocess first: shorter side to SIZE pixels, then centre crop SIZE x SIZE' })
    .option('out', { type: 'string', describe: 'Folder for <stem>.png overlays and <stem>.csv token tables' })
    .option('workers', { type: 'number', describe: 'Worker threads for several images (default: CPU count)' }) as unknown as Argv<PartitionArgs>;
}

function requireInteger(flag: string, value: number | undefined, min: number): void {
  if (value === undefined) return;
  if (!Number.isInteger(value) || value < min) {
    throw new UsageError(`${flag} must be an integer >= ${min}, got ${Number.isNaN(value) ? 'a non-number' : value}`);
  }
}

/** Rejects a --size that the tiling would reject for every image (the rule of `tileGrid`). */
function checkTileableSize(size: number): void {
  try {
    tileGrid(size, size);
  } catch (error) {
    if (!(error instanceof PartitionSizeError)) throw error;
    const tiled = Math.ceil(size / PATCH_SIZE) * PATCH_SIZE;
    throw new UsageError(
      `--size ${size} cannot be partitioned: use at most ${PATCH_SIZE} (one patch) or a multiple of ${PATCH_SIZE} ` +
        `(${PATCH_SIZE}x${PATCH_SIZE} tiles), e.g. --size ${PATCH_SIZE} or --size ${tiled}`,
    );
  }
}

function validate(args: PartitionArgs): void {
  requireInteger('--tokens', args.tokens, 1);
  requireInteger('--minhw', args.minhw, 0);
  requireInteger('--size', args.size, 2);
  if (args.size !== undefined) checkTileableSize(args.size);
  requireInteger('--workers', args.workers, 1);
  if (!Number.isFinite(args.weight)) throw new UsageError(`--weight must be a finite number, got ${args.weight}`);
}

/** Expands files and folders into the list of image files, in argument order. */
export async function collectImages(inputs: readonly string[]): Promise<string[]> {
  const files: string[] = [];
  for (const input of inputs) {
    const info = await stat(input).catch((error: unknown) => {
      throw new UsageError(`image ${input} not found: pass image files or folders of images`, { cause: error });
    });
    if (!info.isDirectory()) {
      files.push(input);
      continue;
    }
    const names = (await readdir(input)).filter((name) => IMAGE_EXTENSIONS.includes(path.extname(name).toLowerCase() as (typeof IMAGE_EXTENSIONS)[number]));
    if (names.length === 0) throw new UsageError(`folder ${input} contains no image files (${IMAGE_EXTENSIONS.join(', ')})`);
    names.sort();
    for (const name of names) files.push(path.join(input, name));
  }
  return files;
}

function parseFocus(raws: readonly string[]): PartitionJob['focus'] {
  return raws.map((raw) => {
    try {
      return { raw, box: parseFocusBox(raw) };
    } catch (error) {
      if (error instanceof FocusSpecError) throw new UsageError(error.message, { cause: error });
      throw error;
    }
  });
}

async function buildJobs(args: PartitionArgs): Promise<PartitionJob[]> {
  const focus = parseFocus(args.focus ?? []);
  if (args.focusMask !== undefined) {
    await stat(args.focusMask).catch((error: unknown) => {
      throw new UsageError(`--focus-mask ${args.focusMask} not found: pass a grey image file`, { cause: error });
    });
  }
  const files = await collectImages(args.images);
  const stems = uniqueStems(files);
  return files.map((image, i) => ({
    image,
    tokens: args.tokens,
    weight: args.weight,
    minhw: args.minhw,
    focus,
    stem: stems[i]!,
    ...(args.size === undefined ? {} : { size: args.size }),
    ...(args.focusMask === undefined ? {} : { focusMask: args.focusMask }),
    ...(args.out === undefined ? {} : { outDir: args.out }),
  }));
}

function describeOutcome(outcome: PartitionJobOutcome & { ok: true }): string {
  const { result } = outcome;
  const summary = summarisePartition(result);
  const tiles = result.tiles.columns * result.tiles.rows;
  const tileText = tiles > 1 ? ` in ${tiles} tiles of ${result.tiles.size}x${result.tiles.size}` : '';
  return (
    `${outcome.image}: ${summary.tokens} tokens${tileText}, region area mean ${summary.meanRegionPixels.toFixed(1)} px ` +
    `(sd ${summary.stdRegionPixels.toFixed(1)}), complexity ${summary.minComplexity.toPrecision(4)} .. ${summary.maxComplexity.toPrecision(4)}`
  );
}

/** Runs the jobs on `workers` threads (in this thread for one), reporting outcomes in input order. */
async function runJobs(jobs: PartitionJob[], workers: number, onOutcome: (outcome: PartitionJobOutcome) => void): Promise<void> {
  if (workers <= 1 || jobs.length <= 1) {
    for (const job of jobs) onOutcome(await runPartitionJob(job));
    return;
  }
  await runInWorkers<PartitionJob, PartitionJobOutcome>(new URL('../../partition/worker.ts', import.meta.url), jobs, { workers, onResult: onOutcome });
}

function failureSummary(failed: readonly string[], total: number): string {
  const list = failed.join(', ');
  if (failed.length === total) return total === 1 ? `the image failed (${list})` : `all ${total} images failed (${list})`;
  return `${failed.length} of ${total} images failed (${list}); the others were partitioned`;
}

async function handler(args: PartitionArgs): Promise<void> {
  validate(args);
  const jobs = await buildJobs(args);
  const workers = args.workers ?? defaultWorkerCount();
  const progress: Progress | undefined = jobs.length > 1 ? startProgress('partition', jobs.length) : undefined;
  const outcomes: PartitionJobOutcome[] = [];

  await runJobs(jobs, workers, (outcome) => {
    outcomes.push(outcome);
    progress?.increment(1);
    for (const message of outcome.warnings) warn(message);
    if (!outcome.ok) warn(`partition failed: ${outcome.image}: ${outcome.error}`);
    else if (!args.json) printLine(describeOutcome(outcome));
  });
  progress?.stop();

  const failures = outcomes.filter((outcome): outcome is PartitionJobOutcome & { ok: false } => !outcome.ok);
  if (args.json) {
    const images = outcomes.flatMap((outcome) => (outcome.ok ? [{ image: outcome.image, layout: outcome.result }] : []));
    process.stdout.write(partitionJson(images, failures.map(({ image, error }) => ({ image, error }))));
  }
  // A bad --focus box is a usage error only when no image could take it; one image that is
  // smaller than the others fails alone like any other per-image problem.
  const usage = failures.find((failure) => failure.usage);
  if (usage && failures.length === outcomes.length && failures.every((failure) => failure.usage)) {
    throw new UsageError(`${usage.image}: ${usage.error}`);
  }
  if (failures.length > 0) throw new PartialFailureError(failureSummary(failures.map((failure) => failure.image), outcomes.length));
}

export const partitionCommand: CommandModule<object, PartitionArgs> = {
  command: 'partition <images..>',
  describe: 'Split images into token regions by gradient-entropy complexity and print the initial Gaussians',
  builder,
  handler,
};

