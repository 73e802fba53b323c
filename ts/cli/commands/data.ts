// `gpstoken data fetch` (build the photo pool from Debian packages) and
// `gpstoken data crops` (fixed square crops of the pool with a manifest of their origins).
import path from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { DEFAULT_CROP_MULTIPLE, writeCrops } from '../../data/crops.ts';
import { DEFAULT_MANIFEST, defaultPoolDir, fetchPool, type FetchSummary } from '../../data/fetch.ts';
import { PartialFailureError, UsageError } from '../errors.ts';
import { countOf, log, printJson, printLine, startProgress } from '../output.ts';

interface FetchArgs {
  manifest: string;
  debs?: string;
  out?: string;
  package?: string[];
  json: boolean;
}

interface CropsArgs {
  size: number;
  perPhoto: number;
  pool?: string;
  out?: string;
  seed: number;
  split: 'train' | 'test' | 'both';
  shortSide: number;
  json: boolean;
}

function formatMegabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

function reportFetch(summary: FetchSummary, json: boolean): void {
  if (json) printJson(summary);
  else {
    printLine(`${summary.total - summary.failures.length}/${summary.total} files verified in ${summary.out} (${formatMegabytes(summary.bytes)}; ${summary.written} written, ${summary.skipped} already present; ${summary.seconds.toFixed(1)} s)`);
    for (const failure of summary.failures) printLine(`failed: ${failure.file} (${failure.source}): ${failure.reason}`);
  }
  if (summary.failures.length > 0) {
    throw new PartialFailureError(`${summary.failures.length} of ${countOf(summary.total, 'file')} failed; the verified ones are in place, rerun to retry the rest`);
  }
}

async function runFetch(args: FetchArgs): Promise<void> {
  const out = path.resolve(args.out ?? defaultPoolDir());
  const debs = path.resolve(args.debs ?? path.join(out, 'debs'));
  log(`fetching the pool listed in ${args.manifest} into ${out} (packages in ${debs})`);
  let progress: ReturnType<typeof startProgress> | undefined;
  const summary = await fetchPool({
    manifest: path.resolve(args.manifest),
    out,
    debs,
    ...(args.package ? { packages: args.package } : {}),
    onProgress: (done, total, file) => {
      progress ??= startProgress('fetch', total);
      progress.increment(1, { file });
      if (done === total) progress.stop();
    },
  });
  reportFetch(summary, args.json);
}

async function runCrops(args: CropsArgs): Promise<void> {
  if (!Number.isInteger(args.size) || args.size < 8) throw new UsageError(`--size must be an integer >= 8 (pixels), got ${args.size}`);
  if (!Number.isInteger(args.perPhoto) || args.perPhoto < 1) throw new UsageError(`--per-photo must be a positive integer, got ${args.perPhoto}`);
  if (!(args.shortSide >= 1)) throw new UsageError(`--short-side must be >= 1 (a multiple of --size), got ${args.shortSide}`);
  const pool = path.resolve(args.pool ?? defaultPoolDir());
  const out = path.resolve(args.out ?? path.join(pool, `crops-${args.size}`));
  const splits = args.split === 'both' ? (['train', 'test'] as const) : ([args.split] as const);
  let progress: ReturnType<typeof startProgress> | undefined;
  const summary = await writeCrops({
    pool,
    out,
    size: args.size,
    perPhoto: args.perPhoto,
    seed: args.seed,
    splits: [...splits],
    shortSideMultiple: args.shortSide,
    onProgress: (done, total, file) => {
      progress ??= startProgress('crops', total);
      progress.increment(1, { file });
      if (done === total) progress.stop();
    },
  });
  if (args.json) printJson(summary);
  else {
    printLine(`${countOf(summary.crops, 'crop')} of ${args.size}x${args.size} from ${countOf(summary.photos, 'photo')} in ${out} (manifest ${summary.manifest})`);
    if (summary.tooSmall.length > 0) {
      const skipped = summary.tooSmall.length === 1 ? 'was skipped' : 'were skipped';
      printLine(`${countOf(summary.tooSmall.length, 'photo')} with a side shorter than ${args.size} pixels ${skipped}`);
    }
    for (const failure of summary.failures) printLine(`failed: ${failure.file}: ${failure.reason}`);
  }
  if (summary.failures.length > 0) {
    throw new PartialFailureError(`${countOf(summary.failures.length, 'photo')} could not be cropped; the other crops are written`);
  }
}

const fetchCommand: CommandModule<object, FetchArgs> = {
  command: 'fetch',
  describe: 'Download the pinned Debian packages and extract, verify and split the photo pool',
  builder: (yargs) =>
    yargs
      .option('manifest', { type: 'string', default: DEFAULT_MANIFEST, describe: 'Pool manifest (TSV: package, version, path, sha256, ...)' })
      .option('debs', { type: 'string', describe: 'Folder of .deb files to use and to download into [default: <out>/debs]' })
      .option('out', { type: 'string', describe: 'Pool folder [default: $GPSTOKEN_DATA or .cache/pool in the repository]' })
      .option('package', { type: 'string', array: true, describe: 'Fetch only these packages (repeatable)' }) as unknown as Argv<FetchArgs>,
  handler: runFetch,
};

const cropsCommand: CommandModule<object, CropsArgs> = {
  command: 'crops',
  describe: 'Cut fixed square crops from the pool and write a manifest of their origins',
  builder: (yargs) =>
    yargs
      .option('size', { type: 'number', demandOption: true, describe: 'Crop side in pixels' })
      .option('per-photo', { type: 'number', demandOption: true, describe: 'Crops per photo' })
      .option('pool', { type: 'string', describe: 'Pool folder written by `data fetch` [default: $GPSTOKEN_DATA or .cache/pool]' })
      .option('out', { type: 'string', describe: 'Output folder [default: <pool>/crops-<size>]' })
      .option('seed', { type: 'number', default: 0, describe: 'Seed of the crop positions' })
      .option('split', { choices: ['train', 'test', 'both'] as const, default: 'both' as const, describe: 'Which split to crop' })
      .option('short-side', {
        type: 'number',
        default: DEFAULT_CROP_MULTIPLE,
        describe: 'Photos whose shorter side exceeds this multiple of --size are first downscaled to it (Pillow Lanczos)',
      }) as unknown as Argv<CropsArgs>,
  handler: runCrops,
};

export const dataCommand: CommandModule = {
  command: 'data',
  describe: 'Build the real-photo pool (fetch) and cut training and test crops (crops)',
  builder: (yargs) => yargs.command(fetchCommand as CommandModule).command(cropsCommand as CommandModule).demandCommand(1, 'Name an action: fetch or crops'),
  handler: () => undefined,
};
