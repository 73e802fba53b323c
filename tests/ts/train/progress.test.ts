// Plain progress lines of `gpstoken train` (what logs and CI show instead of the bar).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { formatDuration, formatStepLine } from '../../../ts/train/progress.ts';

const DURATIONS: [number, string][] = [
  [0, '0s'],
  [59.4, '59s'],
  [61, '1m01s'],
  [3600 * 2 + 5 * 60, '2h05m'],
  [Number.NaN, '?'],
  [-1, '?'],
];

test('formatDuration', () => {
  for (const [seconds, text] of DURATIONS) assert.is(formatDuration(seconds), text, String(seconds));
});

test('formatStepLine shows losses, rate and ETA', () => {
  const line = formatStepLine({
    event: 'step',
    step: 20,
    total_steps: 100,
    loss: 0.25,
    losses: { pixel: 0.2, g: 0.05 },
    images_per_s: 12.345,
    eta_s: 125,
  });
  assert.is(line, 'step 20/100  loss 0.2500 (pixel 0.2000, g 0.0500)  12.3 img/s  eta 2m05s');
});

test.run();
