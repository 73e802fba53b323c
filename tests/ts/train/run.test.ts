// Finding the newest checkpoint of a run folder (what `train` checks before it starts).
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { latestCheckpointStep } from '../../../ts/train/run.ts';

let root = '';

test.before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'gpstoken-run-'));
});

test.after(async () => {
  await rm(root, { recursive: true, force: true });
});

const CASES: { name: string; files: Record<string, string>; step: number | undefined }[] = [
  { name: 'no checkpoints folder', files: {}, step: undefined },
  { name: 'empty checkpoints folder', files: { 'checkpoints/.keep': '' }, step: undefined },
  {
    name: 'latest.json names the newest file',
    files: { 'checkpoints/step-00000004.safetensors': '', 'checkpoints/step-00000002.safetensors': '', 'checkpoints/latest.json': '{"step": 4, "file": "step-00000004.safetensors"}' },
    step: 4,
  },
  {
    name: 'latest.json pointing at a pruned file falls back to the names',
    files: { 'checkpoints/step-00000012.safetensors': '', 'checkpoints/latest.json': '{"step": 20, "file": "step-00000020.safetensors"}' },
    step: 12,
  },
  { name: 'no latest.json', files: { 'checkpoints/step-00000003.safetensors': '', 'checkpoints/step-00000010.safetensors': '', 'checkpoints/other.txt': '' }, step: 10 },
];

for (const [index, { name, files, step }] of CASES.entries()) {
  test(name, async () => {
    const run = path.join(root, `run-${index}`);
    await mkdir(run);
    for (const [file, text] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(run, file)), { recursive: true });
      await writeFile(path.join(run, file), text);
    }
    assert.is(await latestCheckpointStep(run), step);
  });
}

test.run();
