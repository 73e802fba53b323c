// `gpstoken train` end to end on a 32x32 micro tokenizer with two CPU ranks: Ctrl-C, a killed
// launcher, resume, and no process left behind. Each run takes a few seconds.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { REPO_ROOT } from '../../../ts/bridge/backend.ts';

const CLI = path.join(REPO_ROOT, 'bin', 'gpstoken.js');
const CONFIG = {
  model: {
    gpsconfig: { rois: 2, gpsenc_n: 1, gpsenc_c: 32, gps_c: 4, gps_num: 8, gps_rs: [16, 16] },
    decoderconfig: { z_channels: 4, resolution: 32, ch: 32, ch_mult: [1, 1], num_res_blocks: 0 },
  },
  train: { lr: 1e-3, batch_size: 4, iterations: 6, log_interval: 1, save_interval: 1, eval_interval: 0, ema_update_after_step: 1, ema_update_every: 1 },
  // The adversarial phase (BatchNorm discriminator under DDP) starts at step 3 of 6.
  loss: { discriminator: { disc_start: 3, disc_ndf: 8, disc_num_layers: 2 } },
  data: { params: { size: 32, adaptive_minhw: 4 } },
};

let root = '';
let dataDir = '';
let configFile = '';

test.before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'gpstoken-train-'));
  dataDir = path.join(root, 'data');
  await mkdir(dataDir);
  const photos = ['00_city.jpg', '01_courtyard.jpg', '02_forest.jpg', '03_river.jpg', '04_sunset.jpg', '05_sea1.jpg', '06_sea2.jpg', '07_tree.jpg'];
  const listed = (await import('node:fs')).readdirSync(path.join(REPO_ROOT, 'data', 'embedded')).sort().slice(0, 8);
  await writeFile(path.join(dataDir, 'list.txt'), listed.map((name) => path.join(REPO_ROOT, 'data', 'embedded', name)).join('\n'));
  assert.is(listed.length, photos.length);
  configFile = path.join(root, 'micro.yaml');
  await writeFile(configFile, JSON.stringify(CONFIG));
});

test.after(async () => {
  await rm(root, { recursive: true, force: true });
});

function startTrain(out: string, extra: string[]): ResultPromise {
  return execa('node', [CLI, 'train', '--config', configFile, '--data', path.join(dataDir, 'list.txt'), '--out', out, '--threads', '1', '--cache-dir', path.join(root, 'cache'), ...extra], {
    reject: false,
    timeout: 120_000,
    env: { OMP_NUM_THREADS: '1' },
  });
}

interface LogEvent {
  event: string;
  step: number;
  losses?: Record<string, number>;
}

async function readLog(out: string): Promise<LogEvent[]> {
  if (!existsSync(path.join(out, 'train.log'))) return [];
  const text = await readFile(path.join(out, 'train.log'), 'utf8');
  return text.trim().split('\n').filter(Boolean).map((line) => JSON.parse(line) as LogEvent);
}

function pixelLosses(events: LogEvent[]): Map<number, number> {
  return new Map(events.filter((e) => e.event === 'step').map((e) => [e.step, e.losses!.pixel!]));
}

async function waitFor(out: string, predicate: (events: LogEvent[]) => boolean, timeoutMs = 90_000): Promise<void> {
  const started = Date.now();
  while (!predicate(await readLog(out))) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${out}/train.log`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Processes whose command line mentions `needle` (the run folder), except this test's `ps`. */
async function processesMentioning(needle: string): Promise<string[]> {
  const { stdout } = await execa('ps', ['-eo', 'pid,args']);
  return stdout.split('\n').filter((line) => line.includes(needle) && !line.includes(' ps '));
}

async function waitUntilGone(needle: string, timeoutMs = 30_000): Promise<string[]> {
  const started = Date.now();
  let left = await processesMentioning(needle);
  while (left.length > 0 && Date.now() - started < timeoutMs) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    left = await processesMentioning(needle);
  }
  return left;
}

const TWO_RANKS = ['--ranks', '2', '--batch', '2'];
let straight = new Map<number, number>();

test('straight run on two ranks logs six steps and exports weights', async () => {
  const out = path.join(root, 'straight');
  const result = await startTrain(out, TWO_RANKS);
  assert.is(result.exitCode, 0, String(result.stderr));
  straight = pixelLosses(await readLog(out));
  assert.equal([...straight.keys()], [1, 2, 3, 4, 5, 6]);
  assert.ok(existsSync(path.join(out, 'model_ema.safetensors')));
  assert.match(String(result.stdout), /^run .*straight: step 6, 8 training images$/m);
});

test('Ctrl-C, kill and resume continue the same loss curve', async () => {
  const out = path.join(root, 'interrupted');

  // Ctrl-C: both ranks stop at one step boundary and rank 0 writes a checkpoint.
  const first = startTrain(out, TWO_RANKS);
  await waitFor(out, (events) => events.some((e) => e.event === 'step' && e.step >= 2));
  first.kill('SIGINT');
  const stopped = await first;
  assert.is(stopped.exitCode, 130, String(stopped.stderr));
  assert.equal(await waitUntilGone(out, 5_000), []);
  const stoppedAt = (await readLog(out)).filter((e) => e.event === 'stopped')[0]?.step ?? -1;
  assert.ok(stoppedAt >= 2, `stopped at ${stoppedAt}`);
  assert.ok(stoppedAt < 6, `stopped at ${stoppedAt}`);
  const checkpoint = path.join(out, 'checkpoints', `step-${String(stoppedAt).padStart(8, '0')}.safetensors`);
  assert.ok(existsSync(checkpoint));
  assert.is(
    String(stopped.stderr).trim().split('\n').at(-1),
    `interrupted: training stopped at step ${stoppedAt} before the last step; checkpoint saved at ${checkpoint}; run the same command with --resume to continue`,
  );

  // SIGKILL of the launcher after the next checkpoint: the ranks must not outlive it.
  const second = startTrain(out, [...TWO_RANKS, '--resume']);
  await waitFor(out, (events) => events.some((e) => e.event === 'checkpoint' && e.step > stoppedAt));
  second.kill('SIGKILL');
  await second;
  assert.equal(await waitUntilGone(out), [], 'ranks must not outlive a killed launcher');

  // The last resume finishes; every step's loss equals the uninterrupted run's.
  const third = await startTrain(out, [...TWO_RANKS, '--resume', '--json']);
  assert.is(third.exitCode, 0, String(third.stderr));
  const summary = JSON.parse(String(third.stdout)) as Record<string, unknown>;
  assert.equal(Object.keys(summary), ['runDir', 'step', 'stopped', 'checkpoint', 'eval', 'trainImages', 'evalImages', 'skippedImages', 'cacheReused', 'cacheBuilt', 'metrics']);
  assert.equal(
    { runDir: summary.runDir, step: summary.step, stopped: summary.stopped, checkpoint: summary.checkpoint, trainImages: summary.trainImages, cacheReused: summary.cacheReused },
    { runDir: out, step: 6, stopped: false, checkpoint: path.join(out, 'checkpoints', 'step-00000006.safetensors'), trainImages: 8, cacheReused: 8 },
  );
  const events = await readLog(out);
  assert.is(events.filter((e) => e.event === 'resumed').length, 2);
  const losses = pixelLosses(events);
  assert.equal([...losses.keys()].sort((a, b) => a - b), [1, 2, 3, 4, 5, 6]);
  for (const [step, loss] of pixelLosses(events)) assert.is(loss, straight.get(step), `step ${step}`);
});

test('a run folder with checkpoints needs --resume', async () => {
  const out = path.join(root, 'straight');
  const result = await startTrain(out, TWO_RANKS);
  assert.is(result.exitCode, 2, String(result.stderr));
  assert.is(
    String(result.stderr).trim(),
    `error: ${out} already contains a run at step 6; pass --resume to continue it, or choose a new --out`,
  );
});

test('--resume with a config that does not fit the run is one short usage error', async () => {
  const out = path.join(root, 'straight');
  const wide = path.join(root, 'wide.yaml');
  await writeFile(wide, JSON.stringify({ ...CONFIG, model: { ...CONFIG.model, gpsconfig: { ...CONFIG.model.gpsconfig, gpsenc_c: 64 } } }));
  const result = await execa('node', [CLI, 'train', '--config', wide, '--data', path.join(dataDir, 'list.txt'), '--out', out, '--threads', '1', '--cache-dir', path.join(root, 'cache'), '--resume'], {
    reject: false,
    env: { OMP_NUM_THREADS: '1' },
  });
  assert.is(result.exitCode, 2, String(result.stderr));
  const lines = String(result.stderr).trim().split('\n');
  const first = lines.findIndex((line) => line.startsWith('error: '));
  assert.equal(lines.slice(first), [
    `error: ${path.join(out, 'checkpoints', 'step-00000006.safetensors')}: checkpoint does not fit the model built from --config ${wide}:`,
    '  model:',
    '    mis-shaped keys (21):',
    '      roialign_layer.weight: expected [64, 128, 1, 1], found [32, 128, 1, 1]',
    '      roialign_layer.bias: expected [64], found [32]',
    '      gps_embed.weight: expected [1, 64], found [1, 32]',
    '      ... and 18 more',
    `The run was trained with the config saved in ${path.join(out, 'config.resolved.json')}; resume with that config, or choose a new --out to train this one from scratch.`,
    `(rank log: ${path.join(out, 'logs', 'rank-0.log')})`,
  ]);
});

test('bad config is a usage error with the key', async () => {
  const bad = path.join(root, 'bad.yaml');
  await writeFile(bad, JSON.stringify({ ...CONFIG, train: { ...CONFIG.train, learning_rate: 1 } }));
  const result = await execa('node', [CLI, 'train', '--config', bad, '--data', dataDir, '--out', path.join(root, 'bad')], { reject: false });
  assert.is(result.exitCode, 2);
  assert.match(result.stderr, new RegExp(`error: ${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: train: unknown key 'learning_rate'; known keys: batch_size, betas,`));
});

test.run();
