import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseExperiment } from '../../../ts/sweep/experiment.ts';
import { canonicalJson, expandTemplate, optionsToArgs, parseShard, planTrials } from '../../../ts/sweep/plan.ts';
import type { Versions } from '../../../ts/sweep/versions.ts';

const VERSIONS: Versions = { code: 'abc', gitCommit: 'abc', gitDirty: false, backend: 'python 3.11 torch 1.13', python: '3.11', torch: '1.13', node: 'v20', host: 'h' };

/** Asserts that `run` throws with exactly `message`, showing a diff otherwise. */
function throwsMessage(run: () => unknown, message: string): void {
  try {
    run();
  } catch (error) {
    assert.is((error as Error).message, message);
    return;
  }
  assert.unreachable(`expected an error: ${message}`);
}

const BASE = `name: unit
vars: {weights: w, tokens: 128}
trial:
  command: eval
  options:
    checkpoint: \${weights}/gpstoken_\${model}.pth
    tokens: \${tokens}
grid:
  vars.model: [s64, m128]
  size:
    small: {options.size: 256, vars.tokens: 64}
    large: {options.size: 512}
seeds: [0, 1]
`;

const STEPS = `name: two
trial:
  seed_option: null
  steps:
    - {name: recon, command: reconstruct, options: {out: '\${trial_dir}/rec', size: 256}}
    - {name: fid, command: eval, options: {fake: '\${trial_dir}/rec/imgs'}}
grid:
  steps.fid.options.metrics: [psnr, rfid]
  steps.recon.options.size: [256, 512]
`;

test('steps expand with per-step options', () => {
  const trials = planTrials(parseExperiment(STEPS, 'x.yaml'), {}, VERSIONS);
  assert.is(trials.length, 4);
  assert.equal(trials[1]!.params, { 'fid.metrics': 'psnr', 'recon.size': 512 });
  assert.equal(trials[1]!.steps.map((step) => step.name), ['recon', 'fid']);
  assert.equal(trials[1]!.steps[0]!.argv.slice(2), ['reconstruct', '--out', '${trial_dir}/rec', '--size', '512', '--json']);
  assert.equal(trials[1]!.steps[1]!.argv.slice(2), ['eval', '--fake', '${trial_dir}/rec/imgs', '--metrics', 'psnr', '--json']);
  assert.ok(trials[1]!.multiStep);
});

test('unknown top-level key names file and allowed keys', () => {
  throwsMessage(
    () => parseExperiment(`${BASE}seed: 3\n`, 'experiments/x.yaml'),
    'experiments/x.yaml: top level: unknown key "seed"; allowed keys: name, description, vars, trial, grid, random, seeds, inputs, metrics, reference, plots',
  );
});

const INVALID: [string, string, string][] = [
  ['unknown trial key', BASE.replace('  command: eval', '  command: eval\n  timeout: 5'), 'x.yaml: trial: unknown key "timeout"; allowed keys: command, exec, args, options, steps, env, timeout_s, seed_option'],
  ['steps beside command', BASE.replace('  command: eval', '  command: eval\n  steps: [{command: eval}]'), 'x.yaml: trial: with "steps", put command, options inside each step'],
  ['repeated step names', STEPS.replace('name: fid', 'name: recon'), 'x.yaml: trial.steps: step names must be unique, found recon, recon; set "name" on each step'],
  ['plain options key with steps', STEPS.replace('steps.fid.options.metrics', 'options.metrics'), 'x.yaml: grid.options.metrics: "options.metrics" is not a settable key; use steps.<step>.options.<option>, vars.<variable> or env.<VARIABLE>'],
  ['both command and exec', BASE.replace('  command: eval', '  command: eval\n  exec: [node]'), 'x.yaml: trial: set exactly one of "command" (a gpstoken subcommand) or "exec" (a program and its arguments)'],
  ['unsettable axis key', BASE.replace('  vars.model: [s64, m128]', '  model: [s64, m128]'), 'x.yaml: grid.model: "model" is not a settable key; use options.<option>, vars.<variable> or env.<VARIABLE>'],
  ['random unknown distribution', `${BASE}random: {count: 2, params: {options.lr: {normal: [0, 1]}}}\n`, 'x.yaml: random.params.options.lr: unknown key "normal"; allowed keys: choice, uniform, loguniform, int'],
  ['loguniform non-positive', `${BASE}random: {count: 2, params: {options.lr: {loguniform: [0, 1]}}}\n`, 'x.yaml: random.params.options.lr.loguniform: bounds must be positive, found 0'],
  ['repeated seed', BASE.replace('seeds: [0, 1]', 'seeds: [1, 1]'), 'x.yaml: seeds: the list repeats a seed: 1, 1'],
  ['plot x not a parameter', `${BASE}plots: [{x: depth, y: psnr}]\n`, 'x.yaml: plots: x "depth" is not a parameter; parameters: model, size, seed'],
  ['reference where not a parameter', `${BASE}reference: {rows: [{where: {tokens: 64}, values: {psnr: 1}}]}\n`, 'x.yaml: reference.rows[0].where: "tokens" is not a parameter; parameters: model, size, seed'],
  ['reference row key', `${BASE}reference: {rows: [{match: {}, values: {}}]}\n`, 'x.yaml: reference.rows[0]: unknown key "match"; allowed keys: where, values'],
];

for (const [name, text, message] of INVALID) {
  test(`invalid: ${name}`, () => {
    throwsMessage(() => parseExperiment(text, 'x.yaml'), message);
  });
}

test('grid, named axes and seeds expand in order', () => {
  const trials = planTrials(parseExperiment(BASE, 'x.yaml'), {}, VERSIONS);
  assert.is(trials.length, 8);
  assert.equal(trials[0]!.params, { model: 's64', size: 'small', seed: 0 });
  assert.equal(trials[1]!.params, { model: 's64', size: 'small', seed: 1 });
  assert.equal(trials[2]!.params, { model: 's64', size: 'large', seed: 0 });
  assert.equal(trials[7]!.params, { model: 'm128', size: 'large', seed: 1 });
  assert.equal(trials[0]!.steps[0]!.argv.slice(2), ['eval', '--checkpoint', 'w/gpstoken_s64.pth', '--tokens', '64', '--size', '256', '--seed', '0', '--json']);
  assert.equal(trials[7]!.steps[0]!.argv.slice(2), ['eval', '--checkpoint', 'w/gpstoken_m128.pth', '--tokens', '128', '--size', '512', '--seed', '1', '--json']);
});

test('trial ids depend on config and versions', () => {
  const experiment = parseExperiment(BASE, 'x.yaml');
  const first = planTrials(experiment, {}, VERSIONS);
  const again = planTrials(experiment, {}, VERSIONS);
  const otherCode = planTrials(experiment, {}, { ...VERSIONS, code: 'abc+dirty' });
  const otherVar = planTrials(experiment, { weights: 'elsewhere' }, VERSIONS);
  assert.equal(first.map((t) => t.id), again.map((t) => t.id));
  assert.ok(first.every((trial, i) => trial.id !== otherCode[i]!.id));
  assert.ok(first.every((trial, i) => trial.id !== otherVar[i]!.id));
  assert.is(new Set(first.map((t) => t.id)).size, 8);
  assert.match(first[0]!.id, /^[0-9a-f]{16}$/);
});

test('random samples are seeded and in range', () => {
  const text = `${BASE}random:\n  count: 3\n  seed: 7\n  params:\n    options.lr: {loguniform: [0.0001, 0.01]}\n    options.depth: {int: [2, 4]}\n    options.act: {choice: [relu, gelu]}\n`;
  const trials = planTrials(parseExperiment(text, 'x.yaml'), {}, VERSIONS);
  assert.is(trials.length, 24);
  const again = planTrials(parseExperiment(text, 'x.yaml'), {}, VERSIONS);
  assert.equal(trials.map((t) => t.params), again.map((t) => t.params));
  for (const trial of trials) {
    const lr = trial.params.lr as number;
    assert.ok(lr >= 0.0001, `lr ${lr}`);
    assert.ok(lr <= 0.01, `lr ${lr}`);
    assert.ok([2, 3, 4].includes(trial.params.depth as number));
    assert.ok(['relu', 'gelu'].includes(trial.params.act as string));
  }
  // The same samples are combined with every grid point.
  assert.equal(trials[0]!.params.lr, trials[6]!.params.lr);
});

test('unknown variable and --var are rejected', () => {
  const experiment = parseExperiment(BASE.replace('${weights}', '${weight_dir}'), 'x.yaml');
  assert.throws(() => planTrials(experiment, {}, VERSIONS), /trial\.options\.checkpoint: unknown variable \$\{weight_dir\}; defined: model, seed, tokens, weights/);
  assert.throws(() => planTrials(parseExperiment(BASE, 'x.yaml'), { nope: 1 }, VERSIONS), /--var nope: x\.yaml defines no variable "nope"; defined: weights, tokens/);
});

test('axis that changes nothing is rejected', () => {
  const text = BASE.replace('  vars.model: [s64, m128]', '  vars.unused: [1, 2]').replace('gpstoken_${model}', 'gpstoken');
  assert.throws(() => planTrials(parseExperiment(text, 'x.yaml'), {}, VERSIONS), /two trials resolve to the same command/);
});

test('templates keep trial_dir and dollar escapes', () => {
  assert.is(expandTemplate('$${x} ${a}/${trial_dir}/o', { a: 1 }, 'w'), '${x} 1/${trial_dir}/o');
});

test('options become arguments', () => {
  assert.equal(optionsToArgs({ a: 1, flag: true, off: false, none: null, list: ['x', 'y'] }), ['--a', '1', '--flag', '--no-off', '--list', 'x', '--list', 'y']);
});

test('canonical JSON sorts keys', () => {
  assert.is(canonicalJson({ b: 1, a: [{ d: 2, c: 3 }], u: undefined }), '{"a":[{"c":3,"d":2}],"b":1}');
});

test('shard parsing', () => {
  assert.equal(parseShard('1/3'), { index: 1, count: 3 });
  assert.equal(parseShard(undefined), { index: 0, count: 1 });
  assert.throws(() => parseShard('3/3'), /--shard expects I\/N with 0 <= I < N \(for example 0\/4\), got "3\/3"/);
});

test.run();
