// The experiment files shipped in experiments/ parse, expand and match their references.
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { REPO_ROOT } from '../../../ts/bridge/backend.ts';
import { readExperiment } from '../../../ts/sweep/experiment.ts';
import { planTrials } from '../../../ts/sweep/plan.ts';
import type { Versions } from '../../../ts/sweep/versions.ts';

const VERSIONS: Versions = { code: 'abc', gitCommit: 'abc', gitDirty: false, backend: 'none', python: 'none', torch: 'none', node: 'v20', host: 'h' };
const EXPECTED_TRIALS: Record<string, number> = { 'paper-table1.yaml': 3, 'paper-table-highres.yaml': 4, 'token-count.yaml': 6 };
const files = (await readdir(path.join(REPO_ROOT, 'experiments'))).filter((name) => name.endsWith('.yaml')).sort();

test('every shipped experiment is listed here', () => {
  assert.equal(files, Object.keys(EXPECTED_TRIALS).sort());
});

for (const file of files) {
  test(`${file} plans and matches references`, async () => {
    const experiment = await readExperiment(path.join(REPO_ROOT, 'experiments', file));
    const trials = planTrials(experiment, {}, VERSIONS);
    assert.is(trials.length, EXPECTED_TRIALS[file]);
    for (const row of experiment.reference?.rows ?? []) {
      const matches = trials.filter((trial) => Object.entries(row.where).every(([key, value]) => String(trial.params[key]) === String(value)));
      assert.is(matches.length, 1, `reference ${JSON.stringify(row.where)} matches one trial`);
    }
  });
}

test('paper table references are the published numbers', async () => {
  const experiment = await readExperiment(path.join(REPO_ROOT, 'experiments', 'paper-table1.yaml'));
  const m128 = experiment.reference!.rows.find((row) => row.where.model === 'M128')!;
  assert.equal(m128.values, { psnr: 24.06, ssim: 0.657, lpips: 0.08, rfid: 0.65 });
});

test.run();
