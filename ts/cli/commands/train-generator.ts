// `gpstoken train-generator`: train SiT on token files or on images encoded by the tokenizer.
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import YAML from 'yaml';
import { listClassImages } from '../../generate/bank.ts';
import { runRanks } from '../../generate/ranks.ts';
import { watchStop } from '../../train/interrupt.ts';
import { decodeImageFile } from '../../image/decode.ts';
import { preprocessImage } from '../../image/preprocess.ts';
import { partitionImage } from '../../partition/partition.ts';
import { writeSafetensors } from '../../util/safetensors.ts';
import { UsageError } from '../errors.ts';
import { log, printJson, printLine, startProgress } from '../output.ts';

interface TrainGeneratorArgs {
  config: string;
  out: string;
  tokens?: string;
  images?: string;
  tokenizer?: string;
  tokenizerConfig?: string;
  iterations?: number;
  size?: number;
  weight?: number;
  minhw?: number;
  ranks: number;
  device: 'cpu' | 'cuda';
  threads?: number;
  json: boolean;
}

function requirePath(flag: string, file: string): string {
  const resolved = path.resolve(file);
  if (!existsSync(resolved)) throw new UsageError(`${flag}: not found: ${resolved}`);
  return resolved;
}

async function configTokens(config: string): Promise<number> {
  let document: { model?: { latent_size?: unknown } } | null;
  try {
    document = YAML.parse(await readFile(config, 'utf8')) as typeof document;
  } catch (error) {
    if (!(error instanceof YAML.YAMLParseError)) throw error;
    throw new UsageError(`${config}: invalid YAML: ${error.message}`, { cause: error });
  }
  const tokens = document?.model?.latent_size;
  if (typeof tokens !== 'number') throw new UsageError(`${config}: model.latent_size (tokens per image) is missing`);
  return tokens;
}

interface PartitionSettings {
  tokens: number;
  size?: number;
  weight?: number;
  minhw?: number;
}

/**
 * Partitions the training images (preprocessed to `size` when given) into the file the Python
 * job encodes with the tokenizer. The pixels travel in the same file, so the encoder sees
 * exactly the partitioned images; this path is meant for small sets (reconstruct
 * --save-tokens scales further).
 */
async function writePartitions(imagesDir: string, settings: PartitionSettings, out: string): Promise<string> {
  const { tokens } = settings;
  const images = await listClassImages(imagesDir);
  if (images.length === 0) throw new UsageError(`--images: no images in ${imagesDir}`);
  const classNames = [...new Set(images.map((image) => image.className))].sort();
  const gpscodes = new Float32Array(images.length * tokens * 5);
  const regions = new Float32Array(images.length * tokens * 4);
  let pixels: Uint8Array | undefined;
  let side = 0;
  const progress = startProgress('partition', images.length);
  for (const [index, image] of images.entries()) {
    const decoded = await decodeImageFile(image.file);
    const prepared = settings.size !== undefined ? preprocessImage(decoded, settings.size) : decoded;
    if (index === 0) {
      side = prepared.width;
      pixels = new Uint8Array(images.length * side * side * 3);
    }
    if (prepared.width !== side || prepared.height !== side || side > 256) {
      throw new UsageError(`${image.file}: is ${prepared.width}x${prepared.height}; all images must be square, equal and at most 256 pixels (use --size)`);
    }
    const result = partitionImage(prepared, {
      tokens,
      ...(settings.weight !== undefined ? { weight: settings.weight } : {}),
      ...(settings.minhw !== undefined ? { minhw: settings.minhw } : {}),
    });
    gpscodes.set(result.gpscodes, index * tokens * 5);
    regions.set(result.regions, index * tokens * 4);
    pixels!.set(prepared.data, index * side * side * 3);
    progress.increment();
  }
  progress.stop();
  const file = path.join(out, 'partitions.safetensors');
  await writeSafetensors(
    file,
    {
      gpscodes: { dtype: 'F32', shape: [images.length, tokens, 5], data: gpscodes },
      regions: { dtype: 'F32', shape: [images.length, tokens, 4], data: regions },
      classes: { dtype: 'I32', shape: [images.length], data: Int32Array.from(images.map((image) => classNames.indexOf(image.className))) },
      images: { dtype: 'U8', shape: [images.length, side, side, 3], data: pixels! },
    },
    { files: JSON.stringify(images.map((image) => image.file)), class_names: JSON.stringify(classNames) },
  );
  return file;
}

export const trainGeneratorCommand: CommandModule<{ json: boolean }, TrainGeneratorArgs> = {
  command: 'train-generator',
  describe: 'Train the SiT generator on token files (reconstruct --save-tokens) or on images',
  builder: ((yargs: Argv) =>
    yargs
      .option('config', { type: 'string', demandOption: true, describe: 'Generator YAML (model, train section, token statistics)' })
      .option('out', { type: 'string', demandOption: true, describe: 'Run folder (checkpoints, generator.safetensors); an existing run resumes' })
      .option('tokens', { type: 'string', describe: 'Folder of token files; sub-folder names are classes' })
      .option('images', { type: 'string', describe: 'Image folder (sub-folders are classes), encoded with --tokenizer' })
      .option('tokenizer', { type: 'string', describe: 'Tokenizer weights for --images' })
      .option('tokenizer-config', { type: 'string', describe: 'Tokenizer YAML when the generator config has no gpstoken section' })
      .option('iterations', { type: 'number', describe: 'Total optimiser steps [default: config train.iterations]' })
      .option('size', { type: 'number', describe: 'With --images: preprocess to this side (shorter side scaled, centre crop) first' })
      .option('weight', { type: 'number', describe: 'With --images: entropy exponent of the partition [default: 2.5]' })
      .option('minhw', { type: 'number', describe: 'With --images: regions at most this many pixels on both sides are not split [default: 8]' })
      .option('ranks', { type: 'number', default: 1, describe: 'Training processes (DDP; gloo on CPU, nccl on CUDA)' })
      .option('device', { choices: ['cpu', 'cuda'] as const, default: 'cpu' as const, describe: 'Torch device' })
      .option('threads', { type: 'number', describe: 'Torch CPU threads per rank' })) as never,
  handler: async (args) => {
    if ((args.tokens === undefined) === (args.images === undefined)) throw new UsageError('pass exactly one of --tokens DIR and --images DIR');
    if (args.images !== undefined && args.tokenizer === undefined) throw new UsageError('--images needs --tokenizer FILE to encode the images');
    if (!Number.isInteger(args.ranks) || args.ranks < 1) throw new UsageError(`--ranks must be an integer >= 1, got ${args.ranks}`);
    const config = requirePath('--config', args.config);
    const out = path.resolve(args.out);
    await mkdir(out, { recursive: true });
    const spec: Record<string, unknown> = { config, out, device: args.device, iterations: args.iterations ?? null };
    if (args.tokens !== undefined) spec.tokens = requirePath('--tokens', args.tokens);
    else {
      spec.tokenizer = requirePath('--tokenizer', args.tokenizer!);
      if (args.tokenizerConfig !== undefined) spec.tokenizer_config = requirePath('--tokenizer-config', args.tokenizerConfig);
      const settings: PartitionSettings = { tokens: await configTokens(config) };
      if (args.size !== undefined) settings.size = args.size;
      if (args.weight !== undefined) settings.weight = args.weight;
      if (args.minhw !== undefined) settings.minhw = args.minhw;
      spec.partitions = await writePartitions(requirePath('--images', args.images!), settings, out);
    }
    const stop = watchStop('train-generator');
    const result = await runRanks<{ weights: string; steps: number; resumed_from: number }>('sit.train_job:train_generator', spec, {
      ranks: args.ranks,
      ...(args.threads !== undefined ? { threadsPerRank: args.threads } : {}),
      onEvent: (event) => {
        stop.onEvent(event);
        if (event.event === 'data') log(`training on ${event.images} images of ${event.classes} classes`);
        if (event.event === 'resumed') log(`resumed from step ${event.step} (${event.checkpoint})`);
        if (event.event === 'log') log(`step ${event.step} loss ${Number(event.loss).toFixed(5)} (${Number(event.steps_per_s).toFixed(1)} steps/s)`);
      },
    }).catch((error: unknown) => {
      throw stop.translate(error);
    });
    if (args.json) printJson(result);
    else printLine(`generator trained to step ${result.steps}: ${result.weights}`);
  },
};
