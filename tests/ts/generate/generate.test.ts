// `gpstoken generate` end to end with a tiny random generator and tokenizer: an interrupted
// and resumed run writes byte-identical PNGs to an uninterrupted one.
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { callBackend, closeBackend, REPO_ROOT } from '../../../ts/bridge/backend.ts';
import { runJob } from '../../../ts/bridge/jobs.ts';
import { main } from '../../../ts/cli/main.ts';
import { buildGenerateSpec, checkClassesAgainstConfig, parseClasses } from '../../../ts/generate/options.ts';
import { InterruptedError, UsageError } from '../../../ts/cli/errors.ts';
import { writeSafetensors } from '../../../ts/util/safetensors.ts';

const CONFIG = path.join(REPO_ROOT, 'experiments', 'generate', 'tiny.yaml');
let dir = '';

function withTimeout<T>(promise: Promise<T>, ms: number, label: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${label} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function hashes(folder: string): Promise<Record<string, string>> {
  const names = (await readdir(folder)).filter((name) => name.endsWith('.png')).sort();
  const out: Record<string, string> = {};
  for (const name of names) out[name] = createHash('sha256').update(await readFile(path.join(folder, name))).digest('hex');
  return out;
}

function flags(out: string, seed = 5): string[] {
  return [
    'generate', '--config', CONFIG, '--weights', path.join(dir, 'generator.safetensors'),
    '--tokenizer', path.join(dir, 'tokenizer.safetensors'), '--layouts', path.join(dir, 'bank.safetensors'),
    '--out', out, '--count', '8', '--batch', '2', '--seed', String(seed), '--cfg-scale', '2', '--sampler', 'sde', '--steps', '4',
    '--quiet',
  ];
}

test.before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'gpstoken-generate-'));
  const init = (kind: string) =>
    callBackend('generate:init_random_weights', { kind, config: CONFIG, out: path.join(dir, `${kind}.safetensors`), seed: 1 }, { timeoutMs: 120_000 });
  await withTimeout(init('generator'), 120_000, 'generator init');
  await withTimeout(init('tokenizer'), 120_000, 'tokenizer init');
  await closeBackend();
  // Eight hand-made layouts of 16 tokens over two classes: a 4x4 grid, shifted per layout.
  const layouts = new Float32Array(8 * 16 * 5);
  for (let m = 0; m < 8; m += 1) {
    for (let k = 0; k < 16; k += 1) {
      const row = [0.16 + 0.01 * m, 0.16, 0, -0.75 + 0.5 * (k % 4), -0.75 + 0.5 * Math.floor(k / 4)];
      layouts.set(row, (m * 16 + k) * 5);
    }
  }
  await writeSafetensors(
    path.join(dir, 'bank.safetensors'),
    {
      layouts: { dtype: 'F32', shape: [8, 16, 5], data: layouts },
      classes: { dtype: 'I32', shape: [8], data: Int32Array.from([0, 1, 2, 3, 0, 1, 2, 3]) },
    },
    { format: 'gpstoken-layout-bank', tokens: '16', class_names: JSON.stringify(['a', 'b', 'c', 'd']) },
  );
});

test.after(async () => {
  await closeBackend();
  await rm(dir, { recursive: true, force: true });
});

test('interrupted and resumed run is byte-identical', async () => {
  const whole = path.join(dir, 'whole');
  assert.is(await withTimeout(main(flags(whole)), 180_000, 'uninterrupted run'), 0);
  const expected = await hashes(whole);
  assert.equal(Object.keys(expected), ['000000.png', '000001.png', '000002.png', '000003.png', '000004.png', '000005.png', '000006.png', '000007.png']);

  // Stop the job (SIGTERM to its process group) as soon as the first batch is written.
  const resumed = path.join(dir, 'resumed');
  const spec = buildGenerateSpec({
    config: CONFIG, weights: path.join(dir, 'generator.safetensors'), tokenizer: path.join(dir, 'tokenizer.safetensors'),
    layouts: path.join(dir, 'bank.safetensors'), out: resumed, count: 8, batch: 2, seed: 5, cfgScale: 2, sampler: 'sde',
    steps: 4, device: 'cpu',
  });
  const controller = new AbortController();
  const interrupted = runJob('generate:generate_images', spec, {
    signal: controller.signal,
    onEvent: (event) => {
      if (event.event === 'batch') controller.abort();
    },
  });
  const error = await withTimeout(interrupted.then(() => undefined, (reason: unknown) => reason), 180_000, 'interrupted run');
  assert.instance(error, InterruptedError);
  const partial = await hashes(resumed);
  const left = Object.keys(partial).length;
  assert.ok(left >= 2, `partial run left ${left} images`);
  assert.ok(left < 8, `partial run left ${left} images`);

  assert.is(await withTimeout(main(flags(resumed)), 180_000, 'resumed run'), 0);
  assert.equal(await hashes(resumed), expected);
});

test('resume with other options is rejected', async () => {
  const whole = path.join(dir, 'whole');
  const code = await withTimeout(main(flags(whole, 6)), 120_000, 'mismatched resume');
  assert.is(code, 2);
  const settings = JSON.parse(await readFile(path.join(whole, 'generate.json'), 'utf8')) as { options: { seed: number } };
  assert.is(settings.options.seed, 5);
});

test('bad input files and classes exit 2', async () => {
  const corrupt = path.join(dir, 'corrupt.safetensors');
  await writeFile(corrupt, 'not a safetensors file');
  const replace = (args: string[], flag: string, value: string) => args.map((arg, i) => (args[i - 1] === flag ? value : arg));
  const runs: Array<[string, string[]]> = [
    ['corrupt --layouts', replace(flags(path.join(dir, 'bad-layouts')), '--layouts', corrupt)],
    ['corrupt --weights', replace(flags(path.join(dir, 'bad-weights')), '--weights', corrupt)],
    ['--classes 5', [...flags(path.join(dir, 'bad-classes')), '--classes', '5']],
  ];
  for (const [label, args] of runs) {
    assert.is(await withTimeout(main(args), 120_000, label), 2, label);
  }
});

test('layout source flags are exclusive', () => {
  assert.throws(
    () => buildGenerateSpec({ config: CONFIG, weights: CONFIG, tokenizer: CONFIG, out: dir, count: 1, batch: 1, seed: 0, device: 'cpu' }),
    (error: unknown) => error instanceof UsageError && error.message === 'pass exactly one of --layouts FILE (a layout bank or initg.pickle) and --layout-model FILE',
  );
});

test('guidance interval is validated', () => {
  const base = { config: CONFIG, weights: CONFIG, tokenizer: CONFIG, layouts: CONFIG, out: dir, count: 1, batch: 1, seed: 0, device: 'cpu' as const };
  assert.throws(
    () => buildGenerateSpec({ ...base, guidanceLow: 0.8, guidanceHigh: 0.2 }),
    (error: unknown) => error instanceof UsageError && error.message === '--guidance-low (0.8) must not exceed --guidance-high (0.2)',
  );
  assert.throws(
    () => buildGenerateSpec({ ...base, guidanceLow: 200 }),
    (error: unknown) => error instanceof UsageError && error.message === '--guidance-low is a time t in [0, 1] (1 = data), got 200',
  );
});

test('classes flag parses counts and lists', () => {
  assert.is(parseClasses('10'), 10);
  assert.equal(parseClasses('3, 7,12'), [3, 7, 12]);
  assert.equal(parseClasses('7,'), [7]);
  assert.is(parseClasses(undefined), null);
  assert.throws(() => parseClasses('cat'), (error: unknown) => error instanceof UsageError && error.message === '--classes must be a count >= 1 or a list like 3,7,12; got cat');
  assert.throws(() => parseClasses('3,x'), (error: unknown) => error instanceof UsageError && error.message === "--classes: 'x' is not a class id (a non-negative integer) in 3,x");
});

test('classes are checked against the config', () => {
  assert.not.throws(() => checkClassesAgainstConfig(CONFIG, 4));
  assert.not.throws(() => checkClassesAgainstConfig(CONFIG, [0, 3]));
  assert.not.throws(() => checkClassesAgainstConfig(CONFIG, null));
  const table: Array<[number | number[], string]> = [
    [5, `--classes: a count of 5 does not fit the generator, which has 4 classes (model.num_classes in ${CONFIG}); use ids 0..3`],
    [[9], `--classes: class id 9 does not fit the generator, which has 4 classes (model.num_classes in ${CONFIG}); use ids 0..3`],
    [[2, 4, 7], `--classes: class ids 4, 7 do not fit the generator, which has 4 classes (model.num_classes in ${CONFIG}); use ids 0..3`],
  ];
  for (const [classes, message] of table) {
    assert.throws(() => checkClassesAgainstConfig(CONFIG, classes), (error: unknown) => error instanceof UsageError && error.message === message, String(classes));
  }
});

test.run();
