// The evaluation step of `gpstoken demo`: two folders, one CSV row.
import { DEFAULT_SSIM_PRESET, DEFAULTS, type EvalOptions, type Metric } from './options.ts';
import { writeCsv, type EvalResult } from './report.ts';
import { evaluateFolders, type EvalHooks } from './run.ts';

export interface DemoEvalRequest {
  real: string;
  fake: string;
  /** Output CSV file, for example results/demo-eval.csv. */
  csv: string;
  hooks: EvalHooks;
  workers?: number;
}

/**
 * Evaluates PSNR, SSIM and SWD, plus rFID and LPIPS when their weight files are present
 * (they are skipped with one message otherwise), writes one CSV row to `csv` and returns
 * the result.
 */
export async function evaluateForDemo(request: DemoEvalRequest): Promise<EvalResult> {
  const metrics: Metric[] = ['psnr', 'ssim', 'lpips', 'rfid', 'swd'];
  const options: EvalOptions = {
    real: request.real,
    fake: request.fake,
    metrics,
    ssimPreset: DEFAULT_SSIM_PRESET,
    workers: request.workers ?? DEFAULTS.workers,
    seed: DEFAULTS.seed,
    isSplits: DEFAULTS.isSplits,
    swdMaxImages: DEFAULTS.swdMaxImages,
    batchSize: DEFAULTS.batchSize,
    device: DEFAULTS.device,
  };
  const result = await evaluateFolders(options, request.hooks);
  if ('shardFile' in result) throw new Error('evaluateForDemo does not run single shards');
  await writeCsv(request.csv, result);
  return result;
}
