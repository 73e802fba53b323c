// How the CLI prints errors: message first, class names only with --verbose, no repeated causes.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BackendCallError, REPO_ROOT } from '../../../ts/bridge/backend.ts';
import { JobError, runJob } from '../../../ts/bridge/jobs.ts';
import { InterruptedError, PartialFailureError, UsageError, describeError } from '../../../ts/cli/errors.ts';

function gpstoken(...args: string[]) {
  return execa('node', [path.join(REPO_ROOT, 'bin', 'gpstoken.js'), ...args], { reject: false, timeout: 60_000, cwd: REPO_ROOT });
}

test('CLI errors print without class names', () => {
  const table: Array<[Error, string]> = [
    [new UsageError('--tokens must be an integer >= 1, got 0'), '--tokens must be an integer >= 1, got 0'],
    [new PartialFailureError('1 of 3 images failed'), '1 of 3 images failed'],
    [new InterruptedError('stopped'), 'stopped'],
    [new JobError('generate:generate_images', 'generate:generate_images failed: ValueError: bad'), 'generate:generate_images failed: ValueError: bad'],
    [new Error('plain'), 'plain'],
    [new TypeError('x is undefined'), 'TypeError: x is undefined'],
  ];
  for (const [error, expected] of table) assert.is(describeError(error), expected, error.name);
});

test('cause repeating the message is skipped', () => {
  const backend = new BackendCallError('reconstruct:load_model', 'ConfigError', '/x.yaml: model.gpsconfig: unknown key "foo"', 'Traceback ...');
  const usage = new UsageError('/x.yaml: model.gpsconfig: unknown key "foo"', { cause: backend });
  assert.is(describeError(usage), '/x.yaml: model.gpsconfig: unknown key "foo"');
});

test('cause adding information is kept', () => {
  const cause = new Error("ENOENT: no such file or directory, open 'a.yaml'");
  const usage = new UsageError('config a.yaml not found', { cause });
  assert.is(describeError(usage), "config a.yaml not found\ncaused by: ENOENT: no such file or directory, open 'a.yaml'");
});

test('verbose keeps class names and tracebacks', () => {
  const backend = new BackendCallError('reconstruct:load_model', 'ConfigError', 'bad key', 'Traceback (most recent call last): ...');
  const usage = new UsageError('bad key', { cause: backend });
  const text = describeError(usage, true);
  assert.ok(text.startsWith('UsageError: bad key\n'), text);
  assert.ok(text.includes('caused by: BackendCallError: reconstruct:load_model failed: ConfigError: bad key'), text);
  assert.ok(text.includes('Traceback (most recent call last): ...'), text);
});

test('unknown command is named', async () => {
  const run = await gpstoken('demoo');
  assert.is(run.exitCode, 2);
  assert.is(run.stderr, 'error: Unknown command: demoo\nDid you mean demo?');
});

test('duplicate YAML key names the file', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'gpstoken-cli-yaml-'));
  try {
    const config = path.join(dir, 'generator.yaml');
    await writeFile(config, 'model:\n  latent_size: 16\n  latent_size: 32\n');
    await writeFile(path.join(dir, 'tokenizer.safetensors'), '');
    const run = await gpstoken('train-generator', '--config', config, '--out', path.join(dir, 'run'), '--images', dir, '--tokenizer', path.join(dir, 'tokenizer.safetensors'));
    assert.is(run.exitCode, 2, run.stderr);
    assert.is(run.stderr.split('\n')[0], `error: ${config}: invalid YAML: Map keys must be unique at line 3, column 3:`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('exit 130 from a signal handler prints interrupted', async () => {
  // The Python bridge ends the process with process.exit(130) on SIGINT, bypassing main's catch.
  const script = "const { main } = await import('./ts/cli/main.ts'); await main(['--version']); process.exit(130);";
  const run = await execa('node', ['--import', 'tsx', '--input-type=module', '-e', script], { reject: false, timeout: 60_000, cwd: REPO_ROOT });
  assert.is(run.exitCode, 130);
  assert.is(run.stderr, 'interrupted: stopped by SIGINT before the command finished');
});

test('stopped job raises InterruptedError', async () => {
  // Aborting sends SIGTERM to the job's process group once the job reports that it runs, so
  // the outcome does not depend on how fast the machine is.
  const controller = new AbortController();
  const onEvent = (event: { event: string }) => {
    if (event.event === 'started') controller.abort();
  };
  const error = await runJob('job:wait_seconds', { seconds: 60 }, { signal: controller.signal, stderr: 'ignore', onEvent }).catch((caught: unknown) => caught);
  assert.instance(error, InterruptedError);
  assert.match((error as Error).message, /^job:wait_seconds was stopped by (the user|SIGTERM) before it finished$/);
});

test.run();
