import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { UsageError } from '../../../ts/cli/errors.ts';
import { fetchPool, findDeb, sha256Hex, type PackageDownloader } from '../../../ts/data/fetch.ts';
import { MANIFEST_COLUMNS, parseManifest, splitOfGroup, splitTsvLine } from '../../../ts/data/manifest.ts';
import { buildDeb } from './package-builder.ts';
import { encodeRcc } from './rcc-encoder.ts';

const root = await mkdtemp(path.join(os.tmpdir(), 'gpstoken-fetch-test-'));
const archive = path.join(root, 'archive');
await mkdir(archive);

const photoA = Buffer.from('photo A bytes');
const photoB = Buffer.from('photo B bytes, linked');
const bee = Buffer.from('bee webp bytes'.repeat(10));
await buildDeb(
  {
    name: 'photos',
    version: '1:2.0-1',
    files: { '/usr/share/p/a.jpg': photoA, '/usr/share/real/b.jpg': photoB, '/usr/share/q/bundle.rcc': encodeRcc({ '/res/bee.webp': bee }, 2, 'zlib') },
    links: { '/usr/share/p/b.jpg': '../real/b.jpg' },
  },
  archive,
);

function row(pkg: string, version: string, file: string, sha: string, group: string): string {
  return [pkg, version, file, sha, '10', '20', 'CC0-1.0', 'yes', `group=${group}; a note`].join('\t');
}

const manifestText = [
  MANIFEST_COLUMNS.join('\t'),
  row('photos', '1:2.0-1', '/usr/share/p/a.jpg', sha256Hex(photoA), 'g-a'),
  row('photos', '1:2.0-1', '/usr/share/p/b.jpg', sha256Hex(photoB), 'g-b'),
  row('photos', '1:2.0-1', '/usr/share/q/bundle.rcc::/res/bee.webp', sha256Hex(bee), 'g-bee'),
  row('photos', '1:2.0-1', '/usr/share/p/a.jpg', 'f'.repeat(64), 'g-bad'),
  row('absent', '1.0', '/usr/share/x.jpg', 'e'.repeat(64), 'g-x'),
].join('\n');
const manifest = path.join(root, 'pool.tsv');
await writeFile(manifest, manifestText);

/** Copies from the test archive like apt-get download would, counting calls. */
function fakeDownloader(calls: string[]): PackageDownloader {
  return async (pkg, version, dir) => {
    calls.push(`${pkg}=${version}`);
    const source = await findDeb(archive, pkg, version);
    if (!source) throw new Error(`E: Unable to locate package ${pkg}`);
    const target = path.join(dir, path.basename(source));
    await writeFile(target, await readFile(source));
    return target;
  };
}

test.after(() => rm(root, { recursive: true, force: true }));

test('tsv line with quoted field', () => {
  assert.equal(splitTsvLine('a\t"say ""hi""; x"\tc'), ['a', 'say "hi"; x', 'c']);
  assert.equal(splitTsvLine('a\t\tc'), ['a', '', 'c']);
});

test('split rule by group hash', () => {
  // First 8 hex digits of SHA-1 from sha1sum: g-a dd8360d7, g-b 82c6daf5, g-bee 8a17d1f0
  // (divisible by 5), g-x 3f0ac05f (divisible by 5), h 27d5482e (divisible by 5).
  const table: [string, 'train' | 'test'][] = [
    ['g-a', 'train'],
    ['g-b', 'train'],
    ['g-bee', 'test'],
    ['g-x', 'test'],
    ['h', 'test'],
    ['a', 'train'],
  ];
  for (const [group, expected] of table) assert.is(splitOfGroup(group), expected, group);
});

test('manifest names and groups', () => {
  const entries = parseManifest(manifestText, 'pool.tsv');
  assert.equal(
    entries.map((entry) => entry.fileName),
    ['photos__a-' + sha256Hex(photoA).slice(0, 8) + '.jpg', 'photos__b.jpg', 'photos__bundle__bee.webp', 'photos__a-ffffffff.jpg', 'absent__x.jpg'],
  );
  assert.equal(
    entries.map((entry) => entry.group),
    ['g-a', 'g-b', 'g-bee', 'g-bad', 'g-x'],
  );
  assert.is(entries[2]!.innerPath, '/res/bee.webp');
});

test('manifest rejects missing group', () => {
  const bad = `${MANIFEST_COLUMNS.join('\t')}\n${['p', '1', '/x', 'a'.repeat(64), '1', '1', 'CC0-1.0', 'yes', 'no group'].join('\t')}`;
  assert.throws(() => parseManifest(bad, 'm.tsv'), /m\.tsv:2: the note must start with "group=<id>;", found "no group"/);
});

test('fetch verifies, reports and resumes', async () => {
  const out = path.join(root, 'pool');
  const calls: string[] = [];
  const first = await fetchPool({ manifest, out, debs: path.join(out, 'debs'), download: fakeDownloader(calls) });
  assert.equal(calls, ['photos=1:2.0-1', 'absent=1.0']);
  assert.is(first.total, 5);
  assert.is(first.written, 3);
  assert.is(first.skipped, 0);
  assert.equal(
    first.failures.map((failure) => failure.file),
    ['photos__a-ffffffff.jpg', 'absent__x.jpg'],
  );
  assert.match(first.failures[0]!.reason, /^sha256 mismatch: the manifest expects f{64}, the package contains [0-9a-f]{64}/);
  assert.match(first.failures[1]!.reason, /^E: Unable to locate package absent/);

  const entries = parseManifest(manifestText, 'pool.tsv');
  const bFile = path.join(out, entries[1]!.split, 'photos__b.jpg');
  assert.equal(await readFile(bFile), photoB);
  const index = (await readFile(path.join(out, 'index.tsv'), 'utf8')).trim().split('\n');
  assert.is(index.length, 4);
  assert.is(index[0], 'file\tsplit\tgroup\tlicense\tsha256\twidth\theight\tsource');
  assert.is(index[3], `${entries[2]!.split}/photos__bundle__bee.webp\t${entries[2]!.split}\tg-bee\tCC0-1.0\t${sha256Hex(bee)}\t10\t20\tphotos=1:2.0-1:/usr/share/q/bundle.rcc::/res/bee.webp`);

  // A damaged file is fetched again from the kept .deb; verified files are skipped.
  await writeFile(bFile, 'damaged');
  const secondCalls: string[] = [];
  const second = await fetchPool({ manifest, out, debs: path.join(out, 'debs'), download: fakeDownloader(secondCalls) });
  assert.equal(secondCalls, ['absent=1.0']);
  assert.is(second.skipped, 2);
  assert.is(second.written, 1);
  assert.equal(await readFile(bFile), photoB);
  const debs = (await readdir(path.join(out, 'debs'))).sort();
  assert.equal(debs, ['photos_1%3a2.0-1_all.deb']);
});

test('unknown --package is rejected', async () => {
  const out = path.join(root, 'pool-unknown');
  const calls: string[] = [];
  const error = await fetchPool({ manifest, out, debs: path.join(out, 'debs'), packages: ['photos', 'nosuchpkg'], download: fakeDownloader(calls) }).catch((caught: unknown) => caught);
  assert.instance(error, UsageError);
  assert.is((error as Error).message, `--package "nosuchpkg": not in the manifest ${manifest}; packages listed there: absent, photos`);
  assert.equal(calls, []);
});

test.run();
