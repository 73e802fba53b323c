// runSweep in-process: retries, failure markers, missing inputs, bad output, timeouts,
// GPU assignment and a pluggable runner.
import { access, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { execa } from 'execa';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseExperiment } from '../../../ts/sweep/experiment.ts';
import { planTrials } from '../../../ts/sweep/plan.ts';
import { runSweep, type SweepEvent } from '../../../ts/sweep/run.ts';
import { parseTrialOutput, type TrialLaunch } from '../../../ts/sweep/runner.ts';
import { readTrial } from '../../../ts/sweep/trials.ts';
import type { Versions } from '../../../ts/sweep/versions.ts';
import { FAKE_TRIAL } from './helpers.ts';

const VERSIONS: Versions = { code: 'abc', gitCommit: 'abc', gitDirty: false, backend: 'none', python: 'none', torch: 'none', node: 'v20', host: 'h' };
const root = await mkdtemp(path.join(os.tmpdir(), 'gpstoken-sweep-runner-'));
test.after(() => rm(root, { recursive: true, force: true }));

/** Builds an experiment of one fake trial; `trialExtra` adds trial keys, `topExtra` top-level keys. */
function experiment(options: string, topExtra = '', trialExtra = ''): ReturnType<typeof parseExperiment> {
  return parseExperiment(
    `name: runner\ntrial:\n  exec: [node, ${JSON.stringify(FAKE_TRIAL)}]\n  seed_option: null\n${trialExtra}  options: {${options}}\n${topExtra}grid:\n  options.x: [1]\n`,
    'runner.yaml',
  );
}

async function run(name: string, exp: ReturnType<typeof parseExperiment>, retries: number, extra: Partial<Parameters<typeof runSweep>[0]> = {}) {
  const out = path.join(root, name);
  const events: SweepEvent[] = [];
  const trials = planTrials(exp, {}, VERSIONS);
  const summary = await runSweep({ experiment: exp, trials, out, workers: 1, gpus: [], retries, versions: VERSIONS, signal: new AbortController().signal, onEvent: (e) => events.push(e), ...extra });
  return { out, trials, summary, events, record: await readTrial(out, trials[0]!.id) };
}

test('failing trial is retried then marked failed', async () => {
  const { summary, events, record, out, trials } = await run('fail', experiment('fail: true'), 2);
  assert.equal(summary, { done: 0, failed: 1, alreadyDone: 0, busy: 0, notRun: 0, stopped: false });
  assert.equal(
    events.filter((e) => e.type === 'failed').map((e) => (e as { willRetry: boolean }).willRetry),
    [true, true, false],
  );
  assert.is(record.status, 'failed');
  assert.is(record.outcome!.attempts, 3);
  assert.is(record.outcome!.error, 'exit code 3: fake failure requested (full output in log.txt)');
  const log = await readFile(path.join(out, 'trials', trials[0]!.id, 'log.txt'), 'utf8');
  assert.is(log.match(/^=== attempt \d \(/gm)?.length, 3, 'log.txt keeps every attempt of this run');
  assert.match(log, /^=== attempt 3 failed: exit code 3: fake failure requested \(full output in log\.txt\)$/m);
});

test('usage failure (exit 2) is not retried', async () => {
  const { summary, events, record } = await run('usage', experiment('fail: true, fail-code: 2'), 2);
  assert.equal(summary, { done: 0, failed: 1, alreadyDone: 0, busy: 0, notRun: 0, stopped: false });
  assert.equal(
    events.filter((e) => e.type === 'failed').map((e) => (e as { willRetry: boolean }).willRetry),
    [false],
  );
  assert.is(record.outcome!.attempts, 1);
  assert.is(record.outcome!.error, 'exit code 2: fake failure requested (full output in log.txt)');
});

test('second attempt succeeds and clears failure', async () => {
  const marker = path.join(root, 'fail-until');
  const { summary, record } = await run('retry', experiment(`fail-until-file: ${JSON.stringify(marker)}`), 1);
  assert.is(summary.done, 1);
  assert.is(record.status, 'done');
  assert.is(record.outcome!.attempts, 2);
  assert.equal(record.metrics, { psnr: 2, quality: { ssim: 0.1 }, label: 'x=1 mode=undefined seed=undefined' });
});

test('done trial is skipped on rerun', async () => {
  const exp = experiment('sleep-ms: 0');
  await run('skip', exp, 0);
  const again = await run('skip', exp, 0);
  assert.equal(again.summary, { done: 0, failed: 0, alreadyDone: 1, busy: 0, notRun: 0, stopped: false });
});

test('output without JSON fails', async () => {
  const { record } = await run('nojson', experiment('no-json: true'), 0);
  assert.is(record.status, 'failed');
  assert.is(record.outcome!.error, 'the trial printed no JSON document on stdout (8 characters; see log.txt)');
});

test('missing input fails without retry', async () => {
  const { record, events } = await run('missing', experiment('sleep-ms: 0', 'inputs: [no/such/file.pth]\n'), 3);
  assert.is(record.status, 'failed');
  assert.is(record.outcome!.error, 'missing input files: no/such/file.pth');
  assert.is(events.filter((e) => e.type === 'start').length, 1);
});

test('timeout stops the trial', async () => {
  const exp = experiment('sleep-ms: 20000', '', '  timeout_s: 0.5\n');
  const started = Date.now();
  const { record } = await run('timeout', exp, 0);
  assert.is(record.status, 'failed');
  assert.is(record.outcome!.error, 'timed out after 0.5 s');
  assert.ok(Date.now() - started < 15_000, 'the trial was stopped long before its 20 s sleep ended');
});

test('pluggable runner gets device and trial dir', async () => {
  const launches: TrialLaunch[] = [];
  const exp = parseExperiment(
    `name: plug\ntrial:\n  exec: [tool, '\${trial_dir}/out']\n  seed_option: null\ngrid:\n  options.x: [1, 2, 3]\n`,
    'plug.yaml',
  );
  const runner = async (launch: TrialLaunch) => {
    launches.push(launch);
    return { value: launches.length };
  };
  const { out, trials, summary } = await run('plug', exp, 0, { runner, workers: 2, gpus: ['4', '5'] });
  assert.is(summary.done, 3);
  // Two workers start trials concurrently, so launches may come in any order.
  assert.equal(
    launches.map((l) => l.argv[1]).sort(),
    trials.map((t) => path.join(out, 'trials', t.id, 'out')).sort(),
  );
  assert.equal(
    [...new Set(launches.map((l) => l.env.CUDA_VISIBLE_DEVICES))].sort(),
    ['4', '5'],
  );
  await access(path.join(out, 'trials', trials[0]!.id, 'done'));
});

test('steps run in order with keyed metrics', async () => {
  const steps = (second: string) =>
    parseExperiment(
      `name: steps\ntrial:\n  seed_option: null\n  steps:\n    - {name: a, exec: [node, ${JSON.stringify(FAKE_TRIAL)}], options: {x: 1}}\n    - {name: b, exec: [node, ${JSON.stringify(FAKE_TRIAL)}], options: {${second}}}\ngrid:\n  steps.a.options.mode: [m]\n`,
      'steps.yaml',
    );
  const good = await run('steps-good', steps('x: 2'), 0);
  assert.is(good.record.status, 'done');
  assert.equal(good.record.metrics, {
    a: { psnr: 2, quality: { ssim: 0.1 }, label: 'x=1 mode=m seed=undefined' },
    b: { psnr: 4, quality: { ssim: 0.2 }, label: 'x=2 mode=undefined seed=undefined' },
  });
  const bad = await run('steps-bad', steps('fail: true'), 0);
  assert.is(bad.record.outcome!.error, 'step b: exit code 3: fake failure requested (full output in log.txt)');
});

test('trial held by live process is skipped', async () => {
  const exp = experiment('sleep-ms: 0', '', '');
  const [trial] = planTrials(exp, {}, VERSIONS);
  const dir = path.join(root, 'locked', 'trials', trial!.id);
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'running'), JSON.stringify({ pid: process.pid, host: os.hostname(), startedAt: 't0' }));
  const { summary, events } = await run('locked', exp, 0);
  assert.is(summary.busy, 1);
  assert.is(summary.done, 0);
  const skipped = events.find((e) => e.type === 'skipped') as { reason: string };
  assert.is(skipped.reason, `running in another sweep process (pid ${process.pid} on ${os.hostname()} since t0); delete ${path.join(dir, 'running')} if that process is gone`);
});

test('stale lock is taken over', async () => {
  const exp = experiment('sleep-ms: 0', '', '');
  const [trial] = planTrials(exp, {}, VERSIONS);
  const dir = path.join(root, 'stale', 'trials', trial!.id);
  await mkdir(dir, { recursive: true });
  const finished = await execa(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  await writeFile(path.join(dir, 'running'), JSON.stringify({ pid: Number(finished.stdout), host: os.hostname(), startedAt: 't0' }));
  const { summary } = await run('stale', exp, 0);
  assert.is(summary.done, 1);
  await access(path.join(dir, 'running')).then(
    () => assert.unreachable('the lock is removed after the trial'),
    () => undefined,
  );
});

test('trial output parsing', () => {
  assert.equal(parseTrialOutput('{"a": 1}\n'), { a: 1 });
  assert.equal(parseTrialOutput('loading\n{"a": {"$float": "nan"}}'), { a: Number.NaN });
});

test.run();
