// `gpstoken sweep` through the real CLI: --dry-run listing, --shard, errors and exit codes.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { REPO_ROOT } from '../../../ts/bridge/backend.ts';
import { readExperiment } from '../../../ts/sweep/experiment.ts';
import { planTrials } from '../../../ts/sweep/plan.ts';
import { collectVersions } from '../../../ts/sweep/versions.ts';
import { FAKE_TRIAL, PINNED_ENV, fakeExperimentYaml, runCli, writeExperiment } from './helpers.ts';

const root = await mkdtemp(path.join(os.tmpdir(), 'gpstoken-sweep-cli-'));
const withInputs = fakeExperimentYaml({ sleepMs: 0, extraTop: 'inputs: ["${data}/photos", package.json]\n' });
const file = await writeExperiment(root, withInputs);
test.after(() => rm(root, { recursive: true, force: true }));

interface DryRunJson {
  experiment: string;
  shard: string;
  trials: { index: number; id: string; status: string; params: Record<string, unknown>; commands: string[]; missing: string[] }[];
  missingInputs: string[];
}

test('dry run lists trials and missing inputs', async () => {
  const out = path.join(root, 'dry');
  const result = await runCli(['sweep', file, '--dry-run', '--out', out]);
  assert.is(result.exitCode, 0, String(result.stderr));
  const lines = String(result.stdout).split('\n');
  assert.is(lines[0], `fake-sweep: 12 trials (shard 0/1), output ${out}`);
  assert.is(lines[1], 'code abc1234, backend python 3.11.2 torch 1.13.1');
  assert.match(lines[2]!, /^\[0\] [0-9a-f]{16} pending     x=1 mode=a seed=0$/);
  assert.is(lines[3], `    node ${FAKE_TRIAL} --sleep-ms 0 --x 1 --mode a --seed 0`);
  assert.is(lines[4], '    missing: missing-folder/photos');
  assert.is(lines[lines.length - 1], 'missing input files (1): missing-folder/photos');
});

test('dry run json with var override', async () => {
  const result = await runCli(['sweep', file, '--dry-run', '--json', '--var', 'data=.', '--var', 'sleep=5']);
  assert.is(result.exitCode, 0, String(result.stderr));
  const listing = JSON.parse(String(result.stdout)) as DryRunJson;
  assert.is(listing.trials.length, 12);
  assert.equal(listing.missingInputs, ['./photos']);
  assert.equal(listing.trials[11]!.params, { x: 3, mode: 'b', seed: 1 });
  assert.equal(listing.trials[11]!.commands, [`node ${FAKE_TRIAL} --sleep-ms 5 --x 3 --mode b --seed 1`]);
});

test('shard runs every Nth trial', async () => {
  const versions = await collectVersions({ ...process.env, ...PINNED_ENV });
  const all = planTrials(await readExperiment(file), {}, versions);
  const shard = JSON.parse(String((await runCli(['sweep', file, '--dry-run', '--json', '--shard', '1/3'])).stdout)) as DryRunJson;
  assert.is(shard.shard, '1/3');
  assert.equal(
    shard.trials.map((trial) => trial.index),
    [1, 4, 7, 10],
  );
  assert.equal(
    shard.trials.map((trial) => trial.id),
    [1, 4, 7, 10].map((index) => all[index]!.id),
  );
});

test('shards together cover the sweep', async () => {
  const plain = await writeExperiment(root, fakeExperimentYaml({ sleepMs: 0 }), 'plain.yaml');
  const out = path.join(root, 'sharded');
  const first = await runCli(['sweep', plain, '--out', out, '--shard', '0/2', '--quiet']);
  assert.is(first.exitCode, 0, String(first.stderr));
  const partial = (await readFile(path.join(out, 'results.csv'), 'utf8')).trim().split('\n').slice(1);
  assert.equal(
    partial.map((line) => line.split(',')[2]),
    ['done', 'pending', 'done', 'pending', 'done', 'pending', 'done', 'pending', 'done', 'pending', 'done', 'pending'],
  );
  const second = await runCli(['sweep', plain, '--out', out, '--shard', '1/2', '--quiet']);
  assert.is(second.exitCode, 0, String(second.stderr));
  const rows = (await readFile(path.join(out, 'results.csv'), 'utf8')).trim().split('\n').slice(1);
  assert.ok(rows.every((line) => line.split(',')[2] === 'done'));
});

test('unknown key exits 2 with message', async () => {
  const bad = await writeExperiment(root, fakeExperimentYaml().replace('seeds: [0, 1]', 'seedz: [0, 1]'), 'bad.yaml');
  const result = await runCli(['sweep', bad, '--dry-run']);
  assert.is(result.exitCode, 2);
  // The CLI runs in the repository root and names the file relative to its working folder.
  assert.is(
    String(result.stderr).split('\n')[0],
    `error: ${path.relative(REPO_ROOT, bad)}: top level: unknown key "seedz"; allowed keys: name, description, vars, trial, grid, random, seeds, inputs, metrics, reference, plots`,
  );
});

test('bad trial command exits 2 in dry run', async () => {
  const command = (text: string) =>
    `name: bad-command\ntrial:\n  command: ${text}\n  args: [photo.png]\n  options: {tokens: 8}\n  seed_option: null\ngrid:\n  options.weight: [1, 2]\n`;
  const table: Array<[string, string, string]> = [
    ['typo.yaml', command('partitoin'), 'gpstoken partitoin: Unknown command: partitoin Did you mean partition?'],
    ['flag.yaml', command('partition').replace('{tokens: 8}', '{tokens: 8, bogus-flag: 1}'), 'gpstoken partition: Unknown arguments: bogus-flag, bogusFlag'],
  ];
  for (const [name, text, message] of table) {
    const bad = await writeExperiment(root, text, name);
    const result = await runCli(['sweep', bad, '--dry-run']);
    assert.is(result.exitCode, 2, name);
    const lines = String(result.stderr).split('\n');
    assert.is(lines[0], `error: ${path.relative(REPO_ROOT, bad)}: 2 trials have a command that cannot run; fix the trial section:`, name);
    assert.match(lines[1]!, new RegExp(`^  \\[0\\] [0-9a-f]{16} step partit\\w+: ${message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`), name);
  }
});

test('missing exec program exits 2', async () => {
  const bad = await writeExperiment(root, fakeExperimentYaml().replace('exec: [node,', 'exec: [no-such-program-xyz,'), 'exec.yaml');
  const result = await runCli(['sweep', bad, '--dry-run']);
  assert.is(result.exitCode, 2);
  assert.ok(String(result.stderr).includes(`step exec: program "no-such-program-xyz" not found or not executable (exec steps run from ${REPO_ROOT})`), String(result.stderr));
});

test('workers 0 is rejected in dry run', async () => {
  const result = await runCli(['sweep', file, '--dry-run', '--workers', '0']);
  assert.is(result.exitCode, 2);
  assert.is(String(result.stderr).split('\n')[0], 'error: --workers must be a positive integer, got 0');
});

test('missing trial section is named', async () => {
  const bad = await writeExperiment(root, 'name: no-trial\ngrid:\n  options.x: [1]\n', 'notrial.yaml');
  const result = await runCli(['sweep', bad, '--dry-run']);
  assert.is(result.exitCode, 2);
  assert.is(String(result.stderr).split('\n')[0], `error: ${path.relative(REPO_ROOT, bad)}: trial: missing section; expected a mapping`);
});

test.run();
