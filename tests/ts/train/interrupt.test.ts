// How train-generator and train-layout report a job stopped by Ctrl-C (exit code 130).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { JobError, type JobEvent } from '../../../ts/bridge/jobs.ts';
import { InterruptedError } from '../../../ts/cli/errors.ts';
import { watchStop } from '../../../ts/train/interrupt.ts';

const EXIT_130 = new JobError('sit.train_job:train_generator', 'sit.train_job:train_generator exited with code 130 before it finished');

const CASES: { name: string; events: JobEvent[]; error: unknown; message: string | null }[] = [
  {
    name: 'checkpoint saved after a step',
    events: [{ event: 'stopped', step: 638, checkpoint: '/r/checkpoints/step-00000638.safetensors' }, { event: 'interrupted' }],
    error: EXIT_130,
    message: 'train-generator stopped; checkpoint saved at step 638 (/r/checkpoints/step-00000638.safetensors); rerun the same command to resume',
  },
  {
    name: 'stopped while loading a resumed run',
    events: [{ event: 'resumed', step: 40, checkpoint: 'c' }, { event: 'interrupted' }],
    error: EXIT_130,
    message: 'train-generator stopped before a step finished: no new checkpoint saved, the last one is at step 40; rerun the same command to resume',
  },
  {
    name: 'stopped while importing torch (KeyboardInterrupt wrapped in RuntimeError)',
    events: [],
    error: new JobError('e', 'e failed: RuntimeError: KeyboardInterrupt: signal 15', 'RuntimeError'),
    message: 'train-generator stopped before a step finished: no checkpoint saved (stopped before the first step); rerun the same command to start again',
  },
  {
    name: 'InterruptedError from runJob before the first step',
    events: [{ event: 'start' }],
    error: new InterruptedError('sit.train_job:train_generator was stopped by the user before it finished'),
    message: 'train-generator stopped before a step finished: no checkpoint saved (stopped before the first step); rerun the same command to start again',
  },
  { name: 'other failures pass through', events: [{ event: 'start' }], error: new JobError('e', 'e failed: ValueError: bad'), message: null },
];

for (const { name, events, error, message } of CASES) {
  test(name, () => {
    const stop = watchStop('train-generator');
    for (const event of events) stop.onEvent(event);
    const translated = stop.translate(error);
    if (message === null) {
      assert.is(translated, error);
      return;
    }
    assert.instance(translated, InterruptedError);
    assert.is((translated as InterruptedError).message, message);
    assert.is((translated as InterruptedError).cause, error);
  });
}

test.run();
