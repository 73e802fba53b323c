// A sweep stopped with SIGINT halfway and restarted finishes without redoing finished trials,
// and its CSV equals an uninterrupted run's (timing columns aside).
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { access } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TIMING_COLUMNS } from '../../../ts/sweep/results.ts';
import { fakeExperimentYaml, runCli, writeExperiment } from './helpers.ts';

const root = await mkdtemp(path.join(os.tmpdir(), 'gpstoken-sweep-resume-'));
test.after(() => rm(root, { recursive: true, force: true }));

async function countDone(out: string): Promise<number> {
  const ids = await readdir(path.join(out, 'trials')).catch(() => [] as string[]);
  let done = 0;
  for (const id of ids) {
    await access(path.join(out, 'trials', id, 'done')).then(
      () => (done += 1),
      () => undefined,
    );
  }
  return done;
}

/** Drops the timing columns, which differ between any two runs. */
async function csvWithoutTiming(file: string): Promise<string[][]> {
  const lines = (await readFile(file, 'utf8')).trim().split('\n').map((line) => line.split(','));
  const header = lines[0]!;
  const keep = header.map((name, index) => ((TIMING_COLUMNS as readonly string[]).includes(name) ? -1 : index)).filter((index) => index >= 0);
  return lines.map((line) => keep.map((index) => line[index] ?? ''));
}

function linesOf(text: string, prefix: string): string[] {
  return text
    .trim()
    .split('\n')
    .filter((line) => line.startsWith(prefix));
}

test('interrupted sweep resumes without redoing', async () => {
  const file = await writeExperiment(root, fakeExperimentYaml({ sleepMs: 400 }));
  const out = path.join(root, 'interrupted');
  const record = path.join(root, 'record-interrupted.txt');

  const first = runCli(['sweep', file, '--out', out, '--workers', '2'], { FAKE_RECORD: record });
  const deadline = Date.now() + 60_000;
  while ((await countDone(out)) < 4 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  first.kill('SIGINT');
  const stopped = await first;
  assert.is(stopped.exitCode, 130, String(stopped.stderr));
  assert.match(String(stopped.stderr), /interrupted: stopped with \d+ trials not run; rerun the same command to continue/);
  const doneAfterStop = await countDone(out);
  assert.ok(doneAfterStop >= 4, `done after stop: ${doneAfterStop}`);
  assert.ok(doneAfterStop < 12, `done after stop: ${doneAfterStop}`);
  const partialCsv = (await readFile(path.join(out, 'results.csv'), 'utf8')).trim().split('\n');
  assert.is(partialCsv.length, 13, 'the CSV lists every planned trial');
  const endsBefore = linesOf(await readFile(record, 'utf8'), 'end ');

  const second = await runCli(['sweep', file, '--out', out, '--workers', '2'], { FAKE_RECORD: record });
  assert.is(second.exitCode, 0, String(second.stderr));
  assert.is(await countDone(out), 12);
  const recordText = await readFile(record, 'utf8');
  const ends = linesOf(recordText, 'end ');
  assert.is(ends.length, 12, recordText);
  assert.is(new Set(ends).size, 12, 'every trial finished exactly once');
  const starts = linesOf(recordText, 'start ');
  for (const end of endsBefore) {
    assert.is(starts.filter((line) => line === end.replace('end ', 'start ')).length, 1, `${end} started again`);
  }

  const clean = path.join(root, 'clean');
  const uninterrupted = await runCli(['sweep', file, '--out', clean, '--workers', '3'], { FAKE_RECORD: path.join(root, 'record-clean.txt') });
  assert.is(uninterrupted.exitCode, 0, String(uninterrupted.stderr));
  assert.equal(await csvWithoutTiming(path.join(out, 'results.csv')), await csvWithoutTiming(path.join(clean, 'results.csv')));
  assert.equal(await readFile(path.join(out, 'summary.csv'), 'utf8'), await readFile(path.join(clean, 'summary.csv'), 'utf8'));
  assert.match(String(uninterrupted.stdout), /^x=1 mode=a \[2\/2 done\]: psnr 2\.25 ± 0\.3536 \(ref 3\), ssim 0\.1 ± 0$/m);
});

test.run();
