// Shows rank 0's training events: a progress bar on a terminal, one plain line per logged step
// otherwise (a bar in a log file would be thousands of carriage returns).
import cliProgress from 'cli-progress';
import { log } from '../cli/output.ts';
import type { JobEvent } from '../bridge/jobs.ts';

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (h > 0) return `${h}h${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${s}s`;
}

/** One plain progress line of a `step` event. */
export function formatStepLine(event: JobEvent): string {
  const losses = Object.entries((event.losses ?? {}) as Record<string, number>)
    .map(([name, value]) => `${name} ${value.toFixed(4)}`)
    .join(', ');
  const rate = Number(event.images_per_s ?? 0).toFixed(1);
  return `step ${event.step}/${event.total_steps}  loss ${Number(event.loss).toFixed(4)} (${losses})  ${rate} img/s  eta ${formatDuration(Number(event.eta_s))}`;
}

export interface TrainProgress {
  onEvent(event: JobEvent): void;
  stop(): void;
}

export function startTrainProgress(showBar: boolean): TrainProgress {
  let bar: cliProgress.SingleBar | undefined;
  let total = 0;
  const ensureBar = (step: number) => {
    if (bar || !showBar) return;
    bar = new cliProgress.SingleBar(
      { format: 'train [{bar}] {value}/{total} loss {loss} | {rate} img/s | eta {eta_text}', stream: process.stderr, hideCursor: true },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, step, { loss: '-', rate: '-', eta_text: '?' });
  };
  // The bar is stopped for a log line and restarted by the next step event.
  const print = (line: string) => {
    bar?.stop();
    bar = undefined;
    log(line);
  };
  return {
    onEvent(event) {
      switch (event.event) {
        case 'start':
          log(`training ${event.parameters} parameters (discriminator ${event.discriminator_parameters}) on ${event.samples} images, ` +
            `global batch ${event.global_batch}, ${event.world_size} rank(s) on ${event.device}, init ${event.init}, refine ${event.refine}`);
          total = Number(event.total_steps);
          ensureBar(Number(event.step));
          break;
        case 'step':
          ensureBar(Number(event.step));
          if (bar) {
            bar.update(Number(event.step), {
              loss: Number(event.loss).toFixed(4),
              rate: Number(event.images_per_s).toFixed(1),
              eta_text: formatDuration(Number(event.eta_s)),
            });
          } else {
            log(formatStepLine(event));
          }
          break;
        case 'eval':
          print(`eval at step ${event.step}: PSNR ${Number(event.psnr).toFixed(2)} dB, EMA ${Number(event.psnr_ema).toFixed(2)} dB on ${event.images} images`);
          break;
        case 'checkpoint':
          if (!bar) log(`checkpoint ${event.path}`);
          break;
        case 'resumed':
          log(`resumed from ${event.checkpoint} at step ${event.step}`);
          break;
        case 'log':
          print(String(event.message));
          break;
        case 'stopped':
          print(`stopped at step ${event.step}`);
          break;
        default:
          break;
      }
    },
    stop() {
      bar?.stop();
    },
  };
}
