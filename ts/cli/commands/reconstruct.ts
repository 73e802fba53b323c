// `gpstoken reconstruct`: tokenize and reconstruct a folder or list of images with a GPSToken model.
import path from 'node:path';
import type { CommandModule } from 'yargs';
import { PartialFailureError, UsageError } from '../errors.ts';
import { printJson, printLine } from '../output.ts';
import { parseFocusOptions } from '../../reconstruct/focus.ts';
import { RECONSTRUCT_DEFAULTS, runReconstruct, type ReconstructSummary } from '../../reconstruct/run.ts';

interface Args {
  config: string;
  weights?: string;
  'random-init': boolean;
  data: string;
  out: string;
  size?: number;
  tokens?: number;
  weight?: number;
  minhw?: number;
  init: 'entropy' | 'grid';
  focus?: string[];
  'focus-mask'?: string;
  batch: number;
  device: string;
  'save-tokens': boolean;
  refine: boolean;
  seed: number;
  json: boolean;
}

function positiveInteger(flag: string, value: number | undefined): void {
  if (value !== undefined && (!Number.isInteger(value) || value < 1)) {
    throw new UsageError(`--${flag} must be a positive integer, got ${value}`);
  }
}

function printSummary(summary: ReconstructSummary, json: boolean): void {
  if (json) {
    printJson(summary);
    return;
  }
  printLine(
    `reconstructed ${summary.reconstructed}, skipped ${summary.skipped}, failed ${summary.failed} of ${summary.total} images ` +
      `in ${summary.seconds.toFixed(1)} s (${summary.imagesPerSecond.toFixed(2)} images/s) -> ${summary.out}`,
  );
}

export const reconstructCommand: CommandModule<object, Args> = {
  command: 'reconstruct',
  describe: 'Tokenize images into Gaussian tokens and decode them back (writes imgs/, gt/, tokens/)',
  builder: (yargs) =>
    yargs
      .option('config', { type: 'string', demandOption: true, describe: 'Tokenizer YAML (model.gpsconfig / model.decoderconfig)' })
      .option('weights', { type: 'string', describe: 'Weights (.safetensors, or .pt/.pth loaded weights-only)' })
      .option('random-init', { type: 'boolean', default: false, describe: 'Use random weights (tests, demos); allowed without --weights' })
      .option('data', { type: 'string', demandOption: true, describe: 'Folder of images, or a text file with one image path per line' })
      .option('out', { type: 'string', demandOption: true, describe: 'Output folder (imgs/, gt/, tokens/, failures.csv, reconstruct.json)' })
      .option('size', { type: 'number', describe: 'Preprocessed side in pixels (shorter side scaled, centre crop) [default: the model resolution]; for 256x256 models, 512 and 1024 are tiled into 256x256' })
      .option('tokens', { type: 'number', describe: 'Tokens per tile: per image for models below 256x256, per 256x256 tile above [default: the config gps_num]' })
      .option('weight', { type: 'number', describe: 'Entropy exponent of the partition complexity [default: the config gps_adaptive_w]' })
      .option('minhw', { type: 'number', describe: 'Regions at most this many pixels on both sides are not split [default: the config data.params.adaptive_minhw, else 8]' })
      .option('init', { type: 'string', default: RECONSTRUCT_DEFAULTS.init, choices: ['entropy', 'grid'], describe: 'Initial Gaussians: entropy partition, or a uniform grid of equal cells (the baseline)' })
      .option('focus', {
        type: 'string',
        array: true,
        describe: 'x0,y0,x1,y1[:value] (repeatable): spend more tokens in a half-open pixel box of the preprocessed image, as in `gpstoken partition`',
      })
      .option('focus-mask', { type: 'string', describe: 'Grey image whose values (0..255 -> 0..1) times the default focus value bias each pixel' })
      .option('batch', { type: 'number', default: RECONSTRUCT_DEFAULTS.batch, describe: 'Images per model call' })
      .option('device', { type: 'string', default: RECONSTRUCT_DEFAULTS.device, choices: ['cpu', 'cuda'], describe: 'Torch device' })
      .option('save-tokens', { type: 'boolean', default: false, describe: 'Also write tokens/<name>.safetensors (refined Gaussians and textures)' })
      .option('refine', { type: 'boolean', default: true, describe: 'Let the encoder refine the Gaussians (--no-refine keeps the partition Gaussians)' })
      .option('seed', { type: 'number', default: 0, describe: 'Seed of the random initialisation' }) as never,
  handler: async (args) => {
    positiveInteger('tokens', args.tokens);
    positiveInteger('batch', args.batch);
    positiveInteger('size', args.size);
    if (args.minhw !== undefined && (!Number.isInteger(args.minhw) || args.minhw < 0)) throw new UsageError(`--minhw must be a non-negative integer, got ${args.minhw}`);
    const summary = await runReconstruct({
      config: args.config,
      weights: args.weights,
      randomInit: args['random-init'],
      data: args.data,
      out: path.resolve(args.out),
      size: args.size,
      tokens: args.tokens,
      weight: args.weight,
      minhw: args.minhw,
      init: args.init,
      focus: parseFocusOptions(args.focus ?? [], args['focus-mask']),
      batch: args.batch,
      device: args.device,
      saveTokens: args['save-tokens'],
      refine: args.refine,
      seed: args.seed,
    });
    printSummary(summary, args.json);
    if (summary.failed > 0) {
      throw new PartialFailureError(
        `${summary.failed} of ${summary.total} images failed; see ${path.join(summary.out, 'failures.csv')} (rerun to retry them)`,
      );
    }
  },
};
