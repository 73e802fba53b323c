// `gpstoken generate`: class-conditional images from a layout source, SiT and the tokenizer.
import type { Argv, CommandModule } from 'yargs';
import { JobError, runJob } from '../../bridge/jobs.ts';
import { buildGenerateSpec, DEVICES, METHODS, SAMPLERS, type GenerateArgs } from '../../generate/options.ts';
import { UsageError } from '../errors.ts';
import { log, printJson, printLine, startProgress, type Progress } from '../output.ts';

interface GenerateResult {
  out: string;
  written: number;
  skipped: number;
  count: number;
}

/**
 * Python exception types of py_kernels.generate that mean bad options or input files (a
 * corrupt --weights or --layouts file, a config error, a --classes id the model lacks, an
 * --out made with other options). They exit 2 like other usage errors.
 */
const INPUT_ERROR_TYPES = new Set([
  'GenerateInputError',
  'ConfigError',
  'GeneratorConfigError',
  'CheckpointError',
  'SafetensorsError',
  'UnsafePickleError',
  'UnpicklingError',
  'FileNotFoundError',
]);

/** Re-raises a backend input error as a UsageError carrying the Python message alone. */
function asUsageError(error: unknown): unknown {
  if (!(error instanceof JobError) || error.pythonType === undefined || !INPUT_ERROR_TYPES.has(error.pythonType)) return error;
  const marker = `${error.pythonType}: `;
  const message = error.message.slice(error.message.indexOf(marker) + marker.length);
  return new UsageError(message, { cause: error });
}

function builder(yargs: Argv): Argv<GenerateArgs> {
  return yargs
    .option('config', { type: 'string', demandOption: true, describe: 'Generator YAML (model, token statistics, tokenizer, sample defaults)' })
    .option('weights', { type: 'string', demandOption: true, describe: 'SiT weights (.safetensors; EMA weights are used when present)' })
    .option('tokenizer', { type: 'string', demandOption: true, describe: 'GPSToken tokenizer weights used to decode the tokens' })
    .option('tokenizer-config', { type: 'string', describe: 'Tokenizer YAML when the generator config has no gpstoken section' })
    .option('layouts', { type: 'string', describe: 'Layout bank (.safetensors from train-layout --bank) or the published initg.pickle' })
    .option('layout-model', { type: 'string', describe: 'Layout generator weights (from train-layout) instead of stored layouts' })
    .option('out', { type: 'string', demandOption: true, describe: 'Output folder; PNGs named by global index, existing ones are kept' })
    .option('count', { type: 'number', default: 50, describe: 'Number of images' })
    .option('classes', { type: 'string', describe: 'Class count K (classes 0..K-1, cycled by index) or a list like 3,7,12 (one class: 7,) [default: all classes]' })
    .option('cfg-scale', { type: 'number', describe: 'Classifier-free guidance scale; 1 turns guidance off [default: config]' })
    .option('guidance-low', { type: 'number', describe: 'Guidance applies for t >= this (t in [0, 1], 1 = data) [default: config]' })
    .option('guidance-high', { type: 'number', describe: 'Guidance applies for t <= this [default: config]' })
    .option('steps', { type: 'number', describe: 'Sampler steps (model evaluations per pass; ignored by dopri5) [default: config]' })
    .option('sampler', { choices: SAMPLERS, describe: 'ode or sde (Euler-Maruyama) [default: config]' })
    .option('method', { choices: METHODS, describe: 'ODE method: euler, heun or dopri5 (adaptive) [default: config]' })
    .option('batch', { type: 'number', default: 8, describe: 'Images per batch; part of the seed derivation, keep it when resuming' })
    .option('seed', { type: 'number', default: 0, describe: 'Run seed; batch k uses a seed derived from (seed, k)' })
    .option('device', { choices: DEVICES, default: 'cpu' as const, describe: 'Torch device' })
    .option('threads', { type: 'number', describe: 'Torch CPU threads' })
    .option('clamp-centers', { type: 'boolean', describe: 'Clamp Gaussian centres into [-1, 1] (the published code does not) [default: config]' }) as unknown as Argv<GenerateArgs>;
}

export const generateCommand: CommandModule<{ json: boolean }, GenerateArgs & { json: boolean }> = {
  command: 'generate',
  describe: 'Generate images: layouts, then textures with SiT, decoded by the tokenizer',
  builder: builder as never,
  handler: async (args) => {
    const spec = buildGenerateSpec(args);
    log(`generating ${spec.count} images into ${spec.out}`);
    let progress: Progress | undefined;
    const result = await runJob<GenerateResult>('generate:generate_images', spec, {
      ...(spec.threads !== null ? { env: { OMP_NUM_THREADS: String(spec.threads) } } : {}),
      onEvent: (event) => {
        if (event.event === 'start') progress = startProgress('generate', Number(event.batches));
        if (event.event === 'batch') progress?.increment(1, { written: Number(event.written) });
      },
    })
      .catch((error: unknown) => {
        throw asUsageError(error);
      })
      .finally(() => progress?.stop());
    if (args.json) printJson(result);
    else printLine(`${result.written} images written, ${result.skipped} already present, in ${result.out} (settings in generate.json)`);
  },
};
