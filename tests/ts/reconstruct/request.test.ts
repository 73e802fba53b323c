// reconstruct.json guards a rerun into the same --out against changed options.
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { REPO_ROOT } from '../../../ts/bridge/backend.ts';
import { UsageError } from '../../../ts/cli/errors.ts';
import { checkSameRequest, reconstructRequest } from '../../../ts/reconstruct/request.ts';
import type { ReconstructOptions } from '../../../ts/reconstruct/run.ts';

const CONFIG = path.join(REPO_ROOT, 'experiments', 'tiny', 'tokenizer.yaml');

function options(overrides: Partial<ReconstructOptions> = {}): ReconstructOptions {
  return {
    config: CONFIG,
    randomInit: true,
    data: 'unused',
    out: 'unused',
    focus: { boxes: [] },
    batch: 8,
    device: 'cpu',
    saveTokens: false,
    refine: true,
    seed: 0,
    ...overrides,
  };
}

async function folderWith(request: unknown): Promise<string> {
  const out = await mkdtemp(path.join(os.tmpdir(), 'gpstoken-request-'));
  await writeFile(path.join(out, 'reconstruct.json'), JSON.stringify({ command: 'reconstruct', request }));
  return out;
}

test('same options resume', async () => {
  const request = await reconstructRequest(options({ tokens: 16 }));
  await checkSameRequest(await folderWith(request), request);
});

test('changed options are listed', async () => {
  const out = await folderWith(await reconstructRequest(options({ tokens: 16 })));
  const changed = await reconstructRequest(options({ tokens: 32, seed: 3 }));
  try {
    await checkSameRequest(out, changed);
    assert.unreachable('changed options must be rejected');
  } catch (error) {
    assert.instance(error, UsageError);
    const message = (error as Error).message;
    assert.match(message, `--out ${out} contains reconstructions made with other options`);
    assert.match(message, 'seed: 0 -> 3');
    assert.match(message, 'tokens: 16 -> 32');
  }
});

test('seed is ignored with given weights', async () => {
  const first = await reconstructRequest(options({ randomInit: false, weights: CONFIG, seed: 0 }));
  const second = await reconstructRequest(options({ randomInit: false, weights: CONFIG, seed: 5 }));
  assert.equal(first, second);
});

test('folder without a request is accepted', async () => {
  const out = await folderWith(undefined);
  await checkSameRequest(out, await reconstructRequest(options()));
});

test('empty folder is accepted', async () => {
  const out = await mkdtemp(path.join(os.tmpdir(), 'gpstoken-request-'));
  await checkSameRequest(out, await reconstructRequest(options()));
});

test.run();
