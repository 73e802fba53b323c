// `gpstoken eval`: image-quality and distribution metrics between a real and a fake folder,
// and `gpstoken eval merge` to combine shard statistics computed separately.
import type { Argv, CommandModule } from 'yargs';
import { findPython } from '../../bridge/python.ts';
import {
  DEFAULTS,
  parseDevice,
  parseMetrics,
  parseShard,
  parseSsimPreset,
  positiveInteger,
  SSIM_PRESETS,
  ALL_METRICS,
  type EvalOptions,
} from '../../eval/options.ts';
import { checkCsvTarget, csvText, jsonDocument, summaryLines, writeCsv, type EvalResult } from '../../eval/report.ts';
import { evaluateFolders, mergeShards, type EvalHooks } from '../../eval/run.ts';
import { UsageError } from '../errors.ts';
import { log, printJson, printLine, startProgress, warn, type Progress } from '../output.ts';

interface EvalArgs {
  json: boolean;
  real?: string;
  fake?: string;
  metrics?: string;
  'ssim-preset'?: string;
  workers?: number;
  shard?: string;
  'shard-dir'?: string;
  'save-stats'?: string;
  'real-stats'?: string;
  out?: string;
  append?: boolean;
  seed?: number;
  'is-splits'?: number;
  'swd-images'?: number;
  'batch-size'?: number;
  device?: string;
  'fid-weights'?: string;
  'vgg16-weights'?: string;
  'lpips-weights'?: string;
  shards?: string[];
}

function cliHooks(): EvalHooks {
  let bar: Progress | undefined;
  let last = 0;
  return {
    log,
    warn,
    progress: (done, total) => {
      bar ??= startProgress('eval', total);
      bar.increment(done - last);
      last = done;
      if (done >= total) bar.stop();
    },
  };
}

async function report(result: EvalResult, args: EvalArgs): Promise<void> {
  if (args.out) {
    await writeCsv(args.out, result, Boolean(args.append));
    log(`wrote ${args.out}`);
  }
  if (args.json) printJson(jsonDocument(result));
  else if (!args.out) process.stdout.write(csvText(result));
  else for (const line of summaryLines(result)) printLine(line);
}

function sharedOptions(yargs: Argv<any>): Argv<any> {
  return yargs
    .option('ssim-preset', { type: 'string', describe: `SSIM convention of the headline ssim column: ${SSIM_PRESETS.join(', ')} (default pytorch-msssim); every preset is written` })
    .option('save-stats', { type: 'string', describe: 'Save the real set\'s FID statistics (mu, sigma, count) to this .safetensors file' })
    .option('real-stats', { type: 'string', describe: 'Use saved real statistics (from --save-stats) instead of computing them' })
    .option('out', { type: 'string', describe: 'Write the result row to this CSV file' })
    .option('append', { type: 'boolean', describe: 'Add the row to an existing --out file (without it an existing --out file is an error)' });
}

const mergeCommand: CommandModule<EvalArgs, EvalArgs> = {
  command: 'merge <shards..>',
  describe: 'Combine shard files written by `gpstoken eval --shard I/N` into one result',
  builder: (yargs) => sharedOptions(yargs.positional('shards', { type: 'string', array: true, describe: 'Shard .safetensors files' })) as Argv<EvalArgs>,
  handler: async (args) => {
    checkCsvTarget(args.out, Boolean(args.append));
    const result = await mergeShards(args.shards ?? [], { ssimPreset: parseSsimPreset(args['ssim-preset']), realStats: args['real-stats'], saveStats: args['save-stats'] }, cliHooks());
    await report(result, args);
  },
};

function toOptions(args: EvalArgs, cudaAvailable: boolean): EvalOptions {
  if (!args.fake) throw new UsageError('--fake DIR is required (the generated or reconstructed images)');
  const metrics = parseMetrics(args.metrics);
  const fakeOnly = metrics.every((metric) => metric === 'is');
  if (!args.real && !args['real-stats'] && !fakeOnly) throw new UsageError('--real DIR is required (or --real-stats FILE for rfid and sfid)');
  return {
    real: args.real ?? '',
    fake: args.fake,
    metrics,
    ssimPreset: parseSsimPreset(args['ssim-preset']),
    workers: positiveInteger('--workers', args.workers, DEFAULTS.workers),
    shard: parseShard(args.shard),
    shardDir: args['shard-dir'],
    saveStats: args['save-stats'],
    realStats: args['real-stats'],
    out: args.out,
    seed: args.seed ?? DEFAULTS.seed,
    isSplits: positiveInteger('--is-splits', args['is-splits'], DEFAULTS.isSplits),
    swdMaxImages: positiveInteger('--swd-images', args['swd-images'], DEFAULTS.swdMaxImages),
    batchSize: positiveInteger('--batch-size', args['batch-size'], DEFAULTS.batchSize),
    device: parseDevice(args.device, cudaAvailable),
    fidWeights: args['fid-weights'],
    vgg16Weights: args['vgg16-weights'],
    lpipsWeights: args['lpips-weights'],
  };
}

export const evalCommand: CommandModule<{ json: boolean }, EvalArgs> = {
  command: 'eval',
  describe: 'Compute PSNR, SSIM, LPIPS, rFID, sFID, IS, precision/recall and SWD between two image folders',
  builder: (yargs) =>
    sharedOptions(yargs)
      .command(mergeCommand as CommandModule<any, any>)
      .option('real', { type: 'string', describe: 'Folder of reference images' })
      .option('fake', { type: 'string', describe: 'Folder of generated or reconstructed images (paired with --real by file name)' })
      .option('metrics', { type: 'string', describe: `Comma-separated subset of ${ALL_METRICS.join(',')} (default: all)` })
      .option('workers', { type: 'number', describe: 'Backend processes sharing the images (default 1)' })
      .option('shard', { type: 'string', describe: 'Run only part I of N (I/N, 0-based) and save its statistics for `eval merge`' })
      .option('shard-dir', { type: 'string', describe: 'Folder for shard files (default <OS temp folder>/gpstoken-eval-shards/<settings hash>); finished shards are reused' })
      .option('seed', { type: 'number', describe: 'Seed of the SWD patch positions and projections (default 0)' })
      .option('is-splits', { type: 'number', describe: 'Inception Score splits (default 10)' })
      .option('swd-images', { type: 'number', describe: `SWD uses the first N images of each folder (default ${DEFAULTS.swdMaxImages}; descriptors take about 75 KB per image and pyramid level)` })
      .option('batch-size', { type: 'number', describe: 'Images per network batch (default 16)' })
      .option('device', { type: 'string', describe: 'Torch device for the networks: auto, cpu, cuda, cuda:1 ... (default auto)' })
      .option('fid-weights', { type: 'string', describe: 'Path of pt_inception-2015-12-05-6726825d.pth (else GPSTOKEN_FID_WEIGHTS or the cache folders)' })
      .option('vgg16-weights', { type: 'string', describe: 'Path of vgg16-397923af.pth for LPIPS' })
      .option('lpips-weights', { type: 'string', describe: 'Path of the LPIPS v0.1 linear layers vgg.pth' }) as Argv<EvalArgs>,
  handler: async (args) => {
    const cudaAvailable = args.device?.startsWith('cuda') ? (await findPython()).cuda : false;
    const options = toOptions(args, cudaAvailable);
    checkCsvTarget(args.out, Boolean(args.append));
    const result = await evaluateFolders(options, cliHooks());
    if ('shardFile' in result) {
      if (args.json) printJson({ shardFile: result.shardFile });
      else printLine(result.shardFile);
      return;
    }
    await report(result, args);
  },
};
