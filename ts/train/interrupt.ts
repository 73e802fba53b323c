// Turns a training job stopped by Ctrl-C/SIGTERM into InterruptedError (exit code 130) with a
// line saying where the checkpoint is. The job saves the checkpoint of the step in flight and
// reports `{"event": "stopped", "step", "checkpoint"}` before it exits with code 130.
import type { JobEvent } from '../bridge/jobs.ts';
import { JobError } from '../bridge/jobs.ts';
import { InterruptedError } from '../cli/errors.ts';

export interface StopWatch {
  /** Pass every job event through this. */
  onEvent: (event: JobEvent) => void;
  /** The InterruptedError for a job that ended by a stop request, or `error` unchanged. */
  translate: (error: unknown) => unknown;
}

/** `command` names the command in the message, e.g. `train-generator`. */
export function watchStop(command: string): StopWatch {
  let stopped: { step: number; checkpoint: string } | undefined;
  let interrupted = false;
  let resumedFrom: number | undefined;
  return {
    onEvent: (event) => {
      if (event.event === 'stopped') stopped = { step: Number(event.step), checkpoint: String(event.checkpoint) };
      else if (event.event === 'interrupted') interrupted = true;
      else if (event.event === 'resumed') resumedFrom = Number(event.step);
    },
    translate: (error) => {
      // runJob itself turns exit code 130 into InterruptedError; a KeyboardInterrupt raised while
      // torch is imported arrives wrapped in a RuntimeError.
      const byStop =
        stopped !== undefined ||
        interrupted ||
        error instanceof InterruptedError ||
        (error instanceof JobError && / exited with code 130 |KeyboardInterrupt/.test(error.message));
      if (!byStop) return error;
      if (stopped) {
        return new InterruptedError(
          `${command} stopped; checkpoint saved at step ${stopped.step} (${stopped.checkpoint}); rerun the same command to resume`,
          { cause: error },
        );
      }
      const before =
        resumedFrom !== undefined
          ? `no new checkpoint saved, the last one is at step ${resumedFrom}; rerun the same command to resume`
          : 'no checkpoint saved (stopped before the first step); rerun the same command to start again';
      return new InterruptedError(`${command} stopped before a step finished: ${before}`, { cause: error });
    },
  };
}
