// `gpstoken train`: train the GPSToken tokenizer on one or more CPU or GPU ranks.
import type { Argv, CommandModule } from 'yargs';
import { InterruptedError, UsageError } from '../errors.ts';
import { printJson, printLine } from '../output.ts';
import { runTraining, type TrainSummary } from '../../train/run.ts';

interface TrainArgs {
  config: string;
  data: string;
  out: string;
  steps?: number;
  batch?: number;
  resume: boolean;
  ranks: number;
  device: 'cpu' | 'cuda';
  init: 'entropy' | 'grid';
  refine: boolean;
  seed?: number;
  'eval-data'?: string;
  holdout: number;
  'cache-dir'?: string;
  threads?: number;
  grace: number;
  json: boolean;
  quiet: boolean;
}

function checkInteger(name: string, value: number | undefined, min: number): void {
  if (value === undefined) return;
  if (!Number.isInteger(value) || value < min) throw new UsageError(`--${name} must be an integer >= ${min}, got ${value}`);
}

function summaryLines(summary: TrainSummary): string[] {
  const lines = [`run ${summary.runDir}: step ${summary.step}, ${summary.trainImages} training images`];
  if (summary.eval) {
    lines.push(
      `test PSNR ${summary.eval.psnr.toFixed(2)} dB (EMA ${summary.eval.psnrEma.toFixed(2)} dB) on ${summary.eval.images} held-out images at step ${summary.eval.step}`,
    );
  }
  lines.push(`metrics ${summary.metrics}`);
  return lines;
}

export const trainCommand: CommandModule<object, TrainArgs> = {
  command: 'train',
  describe: 'Train the tokenizer (initial partitions cached, one process per rank, resumable)',
  builder: (yargs) =>
    yargs
      .option('config', { type: 'string', demandOption: true, describe: 'Training YAML (model, train, loss, data sections)' })
      .option('data', { type: 'string', demandOption: true, describe: 'Training images: a folder, a crops.tsv manifest or a list file' })
      .option('out', { type: 'string', demandOption: true, describe: 'Run folder (checkpoints, logs, metrics.json, cache/)' })
      .option('steps', { type: 'number', describe: 'Total optimiser steps (overrides train.iterations; 0 only evaluates)' })
      .option('batch', { type: 'number', describe: 'Images per rank per micro-batch (overrides train.batch_size)' })
      .option('resume', { type: 'boolean', default: false, describe: 'Continue from the newest checkpoint in --out' })
      .option('ranks', { type: 'number', default: 1, describe: 'Training processes (gloo on CPU, nccl with one GPU each)' })
      .option('device', { choices: ['cpu', 'cuda'] as const, default: 'cpu' as const, describe: 'Where the ranks run' })
      .option('init', { choices: ['entropy', 'grid'] as const, default: 'entropy' as const, describe: 'Initial Gaussians: entropy partition or uniform grid' })
      .option('refine', { type: 'boolean', default: true, describe: 'Refine the Gaussians (--no-refine keeps the initial ones, learns textures only)' })
      .option('seed', { type: 'number', describe: 'Seed of weights, data order and flips (overrides train.seed)' })
      .option('eval-data', { type: 'string', describe: 'Held-out images for test PSNR (folder, manifest or list)' })
      .option('holdout', { type: 'number', default: 0, describe: 'Without --eval-data: hold out the last N images of --data for test PSNR' })
      .option('cache-dir', { type: 'string', describe: 'Partition cache folder (default: <out>/cache); share it between runs' })
      .option('threads', { type: 'number', describe: 'Threads per rank (default: CPU cores / ranks)' })
      .option('grace', { type: 'number', default: 120, describe: 'Seconds the ranks get to checkpoint after Ctrl-C before they are killed' }) as unknown as Argv<TrainArgs>,
  handler: async (args) => {
    checkInteger('steps', args.steps, 0);
    checkInteger('batch', args.batch, 1);
    checkInteger('ranks', args.ranks, 1);
    checkInteger('seed', args.seed, 0);
    checkInteger('holdout', args.holdout, 0);
    checkInteger('threads', args.threads, 1);
    const summary = await runTraining({
      config: args.config,
      data: args.data,
      out: args.out,
      steps: args.steps,
      batch: args.batch,
      seed: args.seed,
      resume: args.resume,
      ranks: args.ranks,
      device: args.device,
      init: args.init,
      refine: args.refine,
      evalData: args['eval-data'],
      holdout: args.holdout,
      cacheDir: args['cache-dir'],
      threads: args.threads,
      graceSeconds: args.grace,
      progressBar: process.stderr.isTTY && !args.quiet,
      modelFactory: process.env.GPSTOKEN_TRAIN_MODEL_FACTORY,
    });
    if (args.json) printJson(summary);
    else for (const line of summaryLines(summary)) printLine(line);
    if (summary.stopped) {
      const saved = summary.checkpoint ? `checkpoint saved at ${summary.checkpoint}` : 'no checkpoint saved (stopped before the first step)';
      throw new InterruptedError(`training stopped at step ${summary.step} before the last step; ${saved}; run the same command with --resume to continue`);
    }
  },
};
