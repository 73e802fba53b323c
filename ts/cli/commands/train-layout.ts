// `gpstoken train-layout`: build a layout bank from images (--bank) or train the layout generator.
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { listClassImages, writeLayoutBank } from '../../generate/bank.ts';
import { runRanks } from '../../generate/ranks.ts';
import { watchStop } from '../../train/interrupt.ts';
import { PartialFailureError, UsageError } from '../errors.ts';
import { log, printJson, printLine, startProgress } from '../output.ts';

interface TrainLayoutArgs {
  bank?: string;
  images?: string;
  tokens: number;
  weight?: number;
  minhw?: number;
  size?: number;
  config?: string;
  banks?: string[];
  out?: string;
  iterations?: number;
  device: 'cpu' | 'cuda';
  threads?: number;
  json: boolean;
}

function requireFile(flag: string, file: string): string {
  const resolved = path.resolve(file);
  if (!existsSync(resolved)) throw new UsageError(`${flag}: not found: ${resolved}`);
  return resolved;
}

async function buildBank(args: TrainLayoutArgs): Promise<void> {
  if (!args.images) throw new UsageError('--bank needs --images DIR (sub-folders are classes)');
  if (!Number.isInteger(args.tokens) || args.tokens < 2) throw new UsageError(`--tokens must be an integer >= 2, got ${args.tokens}`);
  const images = await listClassImages(requireFile('--images', args.images));
  if (images.length === 0) throw new UsageError(`--images: no .png/.jpg/.jpeg/.webp files in ${args.images} or its sub-folders`);
  log(`partitioning ${images.length} images into ${args.tokens} regions each`);
  const progress = startProgress('layouts', images.length);
  const summary = await writeLayoutBank(path.resolve(args.bank!), images, {
    tokens: args.tokens,
    ...(args.weight !== undefined ? { weight: args.weight } : {}),
    ...(args.minhw !== undefined ? { minhw: args.minhw } : {}),
    ...(args.size !== undefined ? { size: args.size } : {}),
    onProgress: () => progress.increment(),
  });
  progress.stop();
  if (args.json) printJson({ bank: path.resolve(args.bank!), ...summary });
  else printLine(`${summary.images} layouts of ${summary.classes.length} classes written to ${args.bank}`);
  for (const failure of summary.failures) printLine(`failed: ${failure.file}: ${failure.reason}`);
  if (summary.failures.length > 0) throw new PartialFailureError(`${summary.failures.length} images failed; the bank contains the others`);
}

async function trainModel(args: TrainLayoutArgs): Promise<void> {
  if (!args.config || !args.banks?.length || !args.out) {
    throw new UsageError('training needs --config FILE, --banks FILE... and --out DIR (or use --bank OUT --images DIR)');
  }
  const spec = {
    config: requireFile('--config', args.config),
    banks: args.banks.map((bank) => requireFile('--banks', bank)),
    out: path.resolve(args.out),
    device: args.device,
    iterations: args.iterations ?? null,
  };
  const stop = watchStop('train-layout');
  const result = await runRanks<{ weights: string; steps: number; resumed_from: number }>('layout.train:train_layout', spec, {
    ranks: 1,
    ...(args.threads !== undefined ? { threadsPerRank: args.threads } : {}),
    onEvent: (event) => {
      stop.onEvent(event);
      if (event.event === 'log') {
        log(`step ${event.step} loss ${Number(event.loss).toFixed(5)} (${Number(event.steps_per_s).toFixed(1)} steps/s)`);
      }
      if (event.event === 'resumed') log(`resumed from step ${event.step} (${event.checkpoint})`);
    },
  }).catch((error: unknown) => {
    throw stop.translate(error);
  });
  if (args.json) printJson(result);
  else printLine(`layout generator trained to step ${result.steps}: ${result.weights}`);
}

export const trainLayoutCommand: CommandModule<{ json: boolean }, TrainLayoutArgs> = {
  command: 'train-layout',
  describe: 'Build a layout bank from images (--bank) or train the layout generator on banks',
  builder: ((yargs: Argv) =>
    yargs
      .option('bank', { type: 'string', describe: 'Write a layout bank (.safetensors) partitioned from --images' })
      .option('images', { type: 'string', describe: 'Image folder; sub-folder names are class names' })
      .option('tokens', { type: 'number', default: 128, describe: 'Regions (tokens) per image for --bank' })
      .option('weight', { type: 'number', describe: 'Entropy exponent of the complexity score [default: 2.5]' })
      .option('minhw', { type: 'number', describe: 'Regions with both extents at most this many pixels are not split [default: 8]' })
      .option('size', { type: 'number', describe: 'Preprocess images to this side (shorter side scaled, centre crop) before partitioning' })
      .option('config', { type: 'string', describe: 'Generator YAML; its layout_model section sizes and trains the model' })
      .option('banks', { type: 'array', string: true, describe: 'Layout banks (or initg.pickle) to train on' })
      .option('out', { type: 'string', describe: 'Run folder (checkpoints, layout-generator.safetensors); an existing run resumes' })
      .option('iterations', { type: 'number', describe: 'Total optimiser steps [default: config]' })
      .option('device', { choices: ['cpu', 'cuda'] as const, default: 'cpu' as const, describe: 'Torch device' })
      .option('threads', { type: 'number', describe: 'Torch CPU threads' })) as never,
  handler: async (args) => {
    if (args.bank !== undefined) await buildBank(args);
    else await trainModel(args);
  },
};
