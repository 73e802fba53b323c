// `gpstoken eval` end to end on embedded photos (PSNR, SSIM, SWD need no weight files):
// worker and shard splits give the same numbers; weights and inputs are checked.
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { REPO_ROOT } from '../../../ts/bridge/backend.ts';
import { UsageError } from '../../../ts/cli/errors.ts';
import { DEFAULTS, type EvalOptions } from '../../../ts/eval/options.ts';
import { CSV_COLUMNS, checkCsvTarget, csvText, writeCsv, type EvalResult } from '../../../ts/eval/report.ts';
import { checkCounts, defaultShardDir, evaluateFolders, fakeResize, mergeShards, resolveMetricWeights, type EvalHooks } from '../../../ts/eval/run.ts';
import type { ImageSet } from '../../../ts/eval/images.ts';

let folder = '';
const warnings: string[] = [];
const logs: string[] = [];
const hooks: EvalHooks = { log: (m) => logs.push(m), warn: (m) => warnings.push(m) };
const savedEnv = { ...process.env };

function options(extra: Partial<EvalOptions>): EvalOptions {
  return {
    real: path.join(folder, 'real'),
    fake: path.join(folder, 'fake'),
    metrics: ['psnr', 'ssim', 'swd'],
    ssimPreset: 'pytorch-msssim',
    workers: 1,
    seed: 0,
    isSplits: DEFAULTS.isSplits,
    swdMaxImages: DEFAULTS.swdMaxImages,
    batchSize: 4,
    device: 'cpu',
    ...extra,
  };
}

test.before(async () => {
  folder = await mkdtemp(path.join(os.tmpdir(), 'gpstoken-eval-'));
  process.env.XDG_CACHE_HOME = path.join(folder, 'cache');
  process.env.TORCH_HOME = path.join(folder, 'torch');
  delete process.env.GPSTOKEN_FID_WEIGHTS;
  delete process.env.GPSTOKEN_VGG16_WEIGHTS;
  delete process.env.GPSTOKEN_LPIPS_WEIGHTS;
  await mkdir(path.join(folder, 'real'));
  await mkdir(path.join(folder, 'fake'));
  const photos = (await readdir(path.join(REPO_ROOT, 'data', 'embedded'))).filter((name) => name.endsWith('.jpg')).sort().slice(0, 5);
  for (const name of photos) {
    const source = path.join(REPO_ROOT, 'data', 'embedded', name);
    const stem = path.basename(name, '.jpg');
    await sharp(source).resize(64, 64).png().toFile(path.join(folder, 'real', `${stem}.png`));
    await sharp(source).resize(64, 64).blur(1.2).jpeg({ quality: 40 }).toFile(path.join(folder, 'fake', `${stem}.jpg`));
  }
});

test.after(async () => {
  process.env = savedEnv;
  await rm(folder, { recursive: true, force: true });
});

let single: EvalResult;

test('one worker: paired metrics, SWD and skipped weights', async () => {
  const result = await evaluateFolders(options({ metrics: ['psnr', 'ssim', 'swd', 'rfid', 'lpips'], shardDir: path.join(folder, 'one') }), hooks);
  assert.ok(!('shardFile' in result));
  single = result as EvalResult;
  assert.equal(single.counts, { real: 5, fake: 5, pairs: 5 });
  for (const name of ['psnr', 'psnr_dataset', 'ssim', 'ssim_skimage', 'swd']) assert.ok(Number.isFinite(single.metrics[name]), name);
  assert.ok(single.metrics.psnr! > 15);
  assert.ok(single.metrics.psnr! < 40);
  assert.ok(single.metrics.ssim! > 0);
  assert.ok(single.metrics.ssim! < 1);
  assert.is(single.metrics.ssim, single.metrics.ssim_pytorch_msssim);
  assert.is(single.metrics.rfid, undefined);
  assert.equal(Object.keys(single.skipped), ['rfid', 'lpips']);
  assert.is(single.skipped.rfid, 'pt_inception-2015-12-05-6726825d.pth not found');
  assert.is(warnings.filter((w) => w.startsWith('rfid skipped')).length, 1);
  assert.is(single.swdLevels?.length, 3);
  assert.is(single.settings.resizeMode, 'torch-bilinear-299-align_corners=False');
});

test('two workers give the same numbers', async () => {
  const result = (await evaluateFolders(options({ workers: 2, shardDir: path.join(folder, 'two') }), hooks)) as EvalResult;
  for (const name of ['psnr', 'psnr_dataset', 'ssim', 'ssim_skimage', 'swd']) {
    assert.ok(Math.abs(result.metrics[name]! - single.metrics[name]!) <= 1e-9 * Math.abs(single.metrics[name]!), name);
  }
});

test('shards run one by one, then merge', async () => {
  const shardDir = path.join(folder, 'two');
  const first = await evaluateFolders(options({ shard: { index: 0, count: 2 }, shardDir }), hooks);
  assert.equal(first, { shardFile: path.join(shardDir, 'shard-0-of-2.safetensors') });
  assert.ok(logs.some((line) => line.startsWith('shard 0/2: reusing')));
  const files = [path.join(shardDir, 'shard-1-of-2.safetensors'), path.join(shardDir, 'shard-0-of-2.safetensors')];
  const merged = await mergeShards(files, { ssimPreset: 'skimage' }, hooks);
  assert.is(merged.metrics.ssim, merged.metrics.ssim_skimage);
  assert.equal(Object.keys(merged.skipped), []);
  assert.ok(Math.abs(merged.metrics.swd! - single.metrics.swd!) <= 1e-9 * single.metrics.swd!);
  const missing = await mergeShards(files.slice(0, 1), { ssimPreset: 'skimage' }, hooks).catch((error: Error) => error);
  assert.instance(missing, UsageError);
  assert.is((missing as Error).message, 'the evaluation has 2 shards, but shard 0 is missing');
});

test('SWD image cap is applied across shards and recorded', async () => {
  const result = (await evaluateFolders(options({ metrics: ['swd'], workers: 2, swdMaxImages: 3, shardDir: path.join(folder, 'cap') }), hooks)) as EvalResult;
  assert.equal((result.settings.swd as { images: unknown }).images, { real: 3, fake: 3 });
  assert.ok(Number.isFinite(result.metrics.swd));
  assert.is.not(result.metrics.swd, single.metrics.swd);
});

test('CSV has the explicit columns', () => {
  const [header, row] = csvText(single).trimEnd().split('\n');
  assert.is(header, CSV_COLUMNS.join(','));
  assert.is(row!.split(',').length, CSV_COLUMNS.length);
});

test('CSV append adds rows under one header', async () => {
  const file = path.join(folder, 'rows.csv');
  await writeCsv(file, single, true);
  await writeCsv(file, single, true);
  const lines = (await readFile(file, 'utf8')).trimEnd().split('\n');
  assert.is(lines.length, 3);
  assert.is(lines[0], CSV_COLUMNS.join(','));
  await writeFile(file, 'a,b\n1,2\n');
  const error = await writeCsv(file, single, true).catch((caught: Error) => caught);
  assert.is((error as Error).message, `--append: ${file} has different columns (a,b...); write to a new file`);
});

test('existing --out needs --append', async () => {
  const file = path.join(folder, 'existing.csv');
  await writeFile(file, csvText(single));
  assert.throws(
    () => checkCsvTarget(file, false),
    (error: Error) => error instanceof UsageError && error.message === `--out ${file} already exists; pass --append to add a row to it, or choose another --out file`,
  );
  assert.not.throws(() => checkCsvTarget(file, true));
  assert.not.throws(() => checkCsvTarget(path.join(folder, 'new.csv'), false));
  assert.not.throws(() => checkCsvTarget(undefined, false));
});

test('shard scratch is under the temp folder', () => {
  assert.is(defaultShardDir('abc123'), path.join(os.tmpdir(), 'gpstoken-eval-shards', 'abc123'));
});

test('unpaired names are listed', async () => {
  await sharp(path.join(folder, 'real', (await readdir(path.join(folder, 'real')))[0]!)).toFile(path.join(folder, 'real', 'extra.png'));
  const error = await evaluateFolders(options({ metrics: ['psnr'] }), hooks).catch((caught: Error) => caught);
  await rm(path.join(folder, 'real', 'extra.png'));
  assert.instance(error, UsageError);
  assert.is((error as Error).message, 'paired metrics (psnr, ssim, lpips) match files by name without extension, but 1 real image has no fake partner: extra');
});

test('explicit weight path must exist', async () => {
  const error = await resolveMetricWeights(options({ metrics: ['rfid'], fidWeights: path.join(folder, 'x.pth') }), hooks).catch((caught: Error) => caught);
  assert.is((error as Error).message, `FID Inception-v3 (TensorFlow 2015-12-05 port) for rFID, FID, sFID, IS, precision/recall: ${path.join(folder, 'x.pth')} not found; expected the file pt_inception-2015-12-05-6726825d.pth`);
});

test('nothing computable is an error', async () => {
  const error = await resolveMetricWeights(options({ metrics: ['lpips'] }), hooks).catch((caught: Error) => caught);
  assert.instance(error, UsageError);
  assert.match((error as Error).message, /^no requested metric can be computed: lpips: vgg16-397923af.pth and vgg.pth not found$/);
});

const countCases: [string, () => void, string][] = [
  ['IS splits', () => checkCounts(['is'], 5, 3, 10, false), 'the Inception Score uses 10 splits but --fake holds 3 images; add images or lower --is-splits'],
  ['precision/recall', () => checkCounts(['pr'], 3, 9, 10, false), 'precision/recall uses k = 3 nearest neighbours and needs at least 4 images per folder, got 3 real and 9 fake'],
  ['one image', () => checkCounts(['rfid', 'sfid'], 1, 9, 10, false), 'rfid, sfid need a covariance, so at least 2 images per folder; got 1 real and 9 fake'],
];
for (const [name, run, message] of countCases) {
  test(`counts: ${name}`, () => {
    try {
      run();
      assert.unreachable();
    } catch (error) {
      assert.is((error as Error).message, message);
    }
  });
}

test('fake resize rule', () => {
  const set = (width: number, height: number) => ({ width, height }) as ImageSet;
  assert.equal(fakeResize(set(256, 256), set(128, 128), ['psnr']), [256, 256]);
  assert.is(fakeResize(set(256, 256), set(128, 128), ['rfid']), null);
  assert.throws(() => fakeResize(set(256, 256), set(128, 96), ['ssim', 'swd']), /real images are 256x256 and fake images 128x96: different aspect ratios, so ssim, swd cannot compare them; crop or resize one folder first/);
});

test.run();
