// Flag parsing of `gpstoken eval`.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { UsageError } from '../../../ts/cli/errors.ts';
import { ALL_METRICS, parseDevice, parseMetrics, parseShard, parseSsimPreset } from '../../../ts/eval/options.ts';

test('metrics default to all, in canonical order', () => {
  assert.equal(parseMetrics(undefined), [...ALL_METRICS]);
  assert.equal(parseMetrics('swd, PSNR'), ['psnr', 'swd']);
});

const usageCases: [string, () => unknown, string][] = [
  ['unknown metric', () => parseMetrics('psnr,fid'), '--metrics: unknown metric "fid"; choose from psnr,ssim,lpips,rfid,sfid,is,pr,swd'],
  ['empty metrics', () => parseMetrics(','), '--metrics: name at least one of psnr,ssim,lpips,rfid,sfid,is,pr,swd'],
  ['shard index too large', () => parseShard('2/2'), '--shard: expected I/N with 0 <= I < N (for example 0/4), got "2/2"'],
  ['shard not a fraction', () => parseShard('1'), '--shard: expected I/N with 0 <= I < N (for example 0/4), got "1"'],
  ['unknown preset', () => parseSsimPreset('matlab'), '--ssim-preset: unknown preset "matlab"; choose from pytorch-msssim, skimage'],
];

for (const [name, run, message] of usageCases) {
  test(name, () => {
    try {
      run();
      assert.unreachable('expected a UsageError');
    } catch (error) {
      assert.instance(error, UsageError);
      assert.is((error as Error).message, message);
    }
  });
}

test('shard parses', () => {
  assert.equal(parseShard('1/4'), { index: 1, count: 4 });
  assert.is(parseShard(undefined), undefined);
});

test('device accepts cpu, cuda and cuda:N', () => {
  assert.is(parseDevice(undefined, false), 'auto');
  assert.is(parseDevice('cpu', false), 'cpu');
  assert.is(parseDevice('cuda', true), 'cuda');
  assert.is(parseDevice('cuda:1', true), 'cuda:1');
});

test('device rejects unknown names and absent CUDA', () => {
  const table: Array<[string, boolean, string]> = [
    ['tpu', true, '--device: expected auto, cpu, cuda or cuda:N (N a GPU index), got "tpu"'],
    ['cuda:x', true, '--device: expected auto, cpu, cuda or cuda:N (N a GPU index), got "cuda:x"'],
    ['cuda', false, '--device cuda: torch on this machine sees no CUDA GPU; use --device cpu or auto'],
    ['cuda:1', false, '--device cuda:1: torch on this machine sees no CUDA GPU; use --device cpu or auto'],
  ];
  for (const [text, cuda, message] of table) {
    assert.throws(() => parseDevice(text, cuda), (error: Error) => error instanceof UsageError && error.message === message, text);
  }
});

test.run();
