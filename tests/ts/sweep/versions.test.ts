// Code versions of trial ids: a hash of the uncommitted diff tells two edits of one commit apart.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { collectVersions, readCodeVersion } from '../../../ts/sweep/versions.ts';

const repo = await mkdtemp(path.join(os.tmpdir(), 'gpstoken-versions-'));
test.after(() => rm(repo, { recursive: true, force: true }));

async function git(...args: string[]): Promise<string> {
  return (await execa('git', ['-c', 'user.name=test', '-c', 'user.email=test@example.com', ...args], { cwd: repo })).stdout.trim();
}

test('diff hash separates uncommitted edits', async () => {
  await git('init', '-q');
  await writeFile(path.join(repo, 'a.txt'), 'one\n');
  await git('add', 'a.txt');
  await git('commit', '-q', '-m', 'first');
  const commit = await git('rev-parse', 'HEAD');

  assert.equal(await readCodeVersion(repo), { commit, dirty: false, diffHash: '' });
  await writeFile(path.join(repo, 'untracked.txt'), 'ignored\n');
  assert.equal(await readCodeVersion(repo), { commit, dirty: false, diffHash: '' });

  await writeFile(path.join(repo, 'a.txt'), 'two\n');
  const first = await readCodeVersion(repo);
  await writeFile(path.join(repo, 'a.txt'), 'three\n');
  const second = await readCodeVersion(repo);
  await writeFile(path.join(repo, 'a.txt'), 'two\n');
  const again = await readCodeVersion(repo);

  assert.ok(first.dirty);
  assert.match(first.diffHash, /^[0-9a-f]{12}$/);
  assert.is.not(second.diffHash, first.diffHash);
  assert.is(again.diffHash, first.diffHash);
});

test('code override keeps the diff hash', async () => {
  const env = { GPSTOKEN_BACKEND_VERSION: 'python 3.11.2 torch 1.13.1' };
  const table: Array<[string, string, boolean, string]> = [
    ['abc1234', 'abc1234', false, ''],
    ['abc1234+dirty', 'abc1234+dirty', true, ''],
    ['abc1234+dirty-0123456789ab', 'abc1234+dirty-0123456789ab', true, '0123456789ab'],
  ];
  for (const [override, code, dirty, hash] of table) {
    const versions = await collectVersions({ ...env, GPSTOKEN_CODE_VERSION: override });
    assert.is(versions.code, code, override);
    assert.is(versions.gitCommit, 'abc1234', override);
    assert.is(versions.gitDirty, dirty, override);
    assert.is(versions.gitDiffHash, hash, override);
  }
});

test.run();
