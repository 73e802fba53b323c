// `gpstoken demo`: partition, reconstruct, evaluate and compare on the embedded photos.
import path from 'node:path';
import type { CommandModule } from 'yargs';
import { DEMO_DEFAULTS, formatComparison, runDemo, type DemoSummary } from '../../demo/run.ts';
import { UsageError } from '../errors.ts';
import { printJson, printLine } from '../output.ts';

interface Args {
  data: string;
  results: string;
  config: string;
  'entropy-weights': string;
  'grid-weights': string;
  workers: number;
  json: boolean;
}

function printSummary(summary: DemoSummary): void {
  const tokens = summary.partition.map((row) => row.tokens);
  const meanArea = summary.partition.reduce((sum, row) => sum + row.meanRegionPixels, 0) / Math.max(summary.partition.length, 1);
  printLine(`partition: ${summary.partition.length} photos, ${Math.min(...tokens)} tokens each, mean region ${meanArea.toFixed(0)} px`);
  const first = summary.variants[0]!;
  printLine(
    `reconstruction: ${first.reconstruction.total} photos at ${first.reconstruction.tokens} tokens with the demo tokenizer ` +
      `(${path.relative(process.cwd(), first.weights)})`,
  );
  printLine('');
  const rows = summary.variants.map((variant) => ({
    variant: variant.name === 'entropy' ? 'entropy partition' : 'uniform grid',
    psnr: variant.evaluation.metrics.psnr?.toFixed(2) ?? '',
    ssim: variant.evaluation.metrics.ssim?.toFixed(4) ?? '',
    swd: variant.evaluation.metrics.swd?.toFixed(2) ?? '',
    lpips: variant.evaluation.metrics.lpips?.toFixed(4) ?? '',
    rfid: variant.evaluation.metrics.rfid?.toFixed(3) ?? '',
  }));
  printLine(formatComparison(rows));
  for (const [metric, reason] of Object.entries(first.evaluation.skipped)) printLine(`(${metric} skipped: ${reason})`);
  printLine('');
  printLine(`wrote ${summary.files.length} files in ${summary.seconds.toFixed(0)} s, among them:`);
  for (const file of summary.files.slice(0, 5)) printLine(`  ${path.relative(process.cwd(), file)}`);
}

export const demoCommand: CommandModule<object, Args> = {
  command: 'demo',
  describe: 'Run the main job on the embedded photos: partition, reconstruct (entropy and grid), evaluate, compare',
  builder: (yargs) =>
    yargs
      .option('data', { type: 'string', default: DEMO_DEFAULTS.data, describe: 'Folder of photos' })
      .option('results', { type: 'string', default: DEMO_DEFAULTS.results, describe: 'Folder of the CSV files; pictures go to <results>/demo/' })
      .option('config', { type: 'string', default: DEMO_DEFAULTS.config, describe: 'Tokenizer YAML of the demo checkpoints' })
      .option('entropy-weights', { type: 'string', default: DEMO_DEFAULTS.entropyWeights, describe: 'Tokenizer trained with entropy-partition tokens' })
      .option('grid-weights', { type: 'string', default: DEMO_DEFAULTS.gridWeights, describe: 'The same tokenizer trained with uniform-grid tokens' })
      .option('workers', { type: 'number', default: DEMO_DEFAULTS.workers, describe: 'Backend processes for the evaluation' }) as never,
  handler: async (args) => {
    if (!Number.isInteger(args.workers) || args.workers < 1) throw new UsageError(`--workers must be a positive integer, got ${args.workers}`);
    const summary = await runDemo({
      data: path.resolve(args.data),
      results: path.resolve(args.results),
      config: path.resolve(args.config),
      entropyWeights: path.resolve(args['entropy-weights']),
      gridWeights: path.resolve(args['grid-weights']),
      workers: args.workers,
    });
    if (args.json) {
      printJson({
        seconds: summary.seconds,
        partition: summary.partition,
        variants: summary.variants.map((variant) => ({ name: variant.name, weights: variant.weights, metrics: variant.evaluation.metrics, skipped: variant.evaluation.skipped })),
        files: summary.files,
      });
      return;
    }
    printSummary(summary);
  },
};
