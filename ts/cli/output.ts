// Results go to stdout, logs and progress to stderr, so `--json` output can be piped.
import cliProgress from 'cli-progress';

let quiet = false;

export function setQuiet(value: boolean): void {
  quiet = value;
}

/** Writes one log line to stderr. */
export function log(message: string): void {
  if (!quiet) process.stderr.write(`${message}\n`);
}

/** Writes one warning line to stderr, even in quiet mode. */
export function warn(message: string): void {
  process.stderr.write(`warning: ${message}\n`);
}

/** Writes exactly one JSON document to stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Writes a result line to stdout. */
export function printLine(text: string): void {
  process.stdout.write(`${text}\n`);
}

export interface Progress {
  increment(by?: number, payload?: Record<string, string | number>): void;
  stop(): void;
}

/**
 * Returns a progress bar on a terminal, or plain lines every `intervalMs` otherwise
 * (in logs a bar would be thousands of carriage returns).
 */
export function startProgress(label: string, total: number, intervalMs = 10_000): Progress {
  const started = Date.now();
  let done = 0;
  if (quiet) return { increment: (by = 1) => void (done += by), stop: () => undefined };
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        format: `${label} [{bar}] {value}/{total} {rate}/s eta {eta_formatted} {extra}`,
        stream: process.stderr,
        hideCursor: true,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0, { rate: '0.0', extra: '' });
    return {
      increment(by = 1, payload = {}) {
        done += by;
        const rate = (done / Math.max((Date.now() - started) / 1000, 1e-3)).toFixed(1);
        bar.increment(by, { rate, extra: '', ...payload });
      },
      stop: () => bar.stop(),
    };
  }
  let lastPrint = started;
  return {
    increment(by = 1, payload = {}) {
      done += by;
      const now = Date.now();
      if (now - lastPrint >= intervalMs || done === total) {
        lastPrint = now;
        const rate = done / Math.max((now - started) / 1000, 1e-3);
        const extra = Object.entries(payload)
          .map(([key, value]) => `${key}=${value}`)
          .join(' ');
        log(`${label}: ${done}/${total} (${rate.toFixed(2)}/s) ${extra}`.trimEnd());
      }
    },
    stop: () => undefined,
  };
}

/** Returns "1 image" or "3 images": `count` with the singular or plural noun. */
export function countOf(count: number, singular: string, plural = `${singular}s`): string {
  return `${count} ${count === 1 ? singular : plural}`;
}
