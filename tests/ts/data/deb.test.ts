import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { listArMembers } from '../../../ts/data/ar.ts';
import { extractFromDeb, findDataMember, resolveInPackage } from '../../../ts/data/deb.ts';
import { normalizeArchivePath } from '../../../ts/data/tar.ts';
import { buildDeb } from './package-builder.ts';

const dir = await mkdtemp(path.join(os.tmpdir(), 'gpstoken-deb-test-'));
const photo = Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 7) % 256));
// A name longer than 100 bytes forces a GNU long-name or pax header.
const longPath = `/usr/share/photos/${'deep/'.repeat(22)}long.jpg`;

const FILES = {
  '/usr/share/photos/a.jpg': photo,
  '/usr/share/other/b.jpg': Buffer.from('b-bytes'),
  [longPath]: Buffer.from('long'),
};
const LINKS = {
  '/usr/share/photos/link.jpg': 'a.jpg',
  '/usr/share/photos/abs.jpg': '/usr/share/other/b.jpg',
  '/usr/share/linkdir': 'other',
  '/usr/share/photos/chain.jpg': 'link.jpg',
};

test.after(() => rm(dir, { recursive: true, force: true }));

for (const compression of ['xz', 'gzip', 'zstd', 'none'] as const) {
  test(`deb ${compression} extracts files and links`, async () => {
    const deb = await buildDeb({ name: `pkg-${compression}`, version: '1:1.0-1', files: FILES, links: LINKS, compression }, dir);
    const wanted = ['/usr/share/photos/a.jpg', '/usr/share/photos/link.jpg', '/usr/share/photos/abs.jpg', '/usr/share/linkdir/b.jpg', '/usr/share/photos/chain.jpg', longPath, '/usr/share/none.jpg'];
    const { files, missing } = await extractFromDeb(deb, wanted);
    assert.equal(files.get('/usr/share/photos/a.jpg'), photo);
    assert.equal(files.get('/usr/share/photos/link.jpg'), photo);
    assert.equal(files.get('/usr/share/photos/chain.jpg'), photo);
    assert.equal(files.get('/usr/share/photos/abs.jpg'), Buffer.from('b-bytes'));
    assert.equal(files.get('/usr/share/linkdir/b.jpg'), Buffer.from('b-bytes'));
    assert.equal(files.get(longPath), Buffer.from('long'));
    assert.equal(missing, ['/usr/share/none.jpg']);
  });
}

test('ar lists deb members', async () => {
  const deb = await buildDeb({ name: 'pkg-ar', version: '2.0', files: FILES }, dir);
  const names = (await listArMembers(deb)).map((member) => member.name);
  assert.equal(names, ['debian-binary', 'control.tar.xz', 'data.tar.xz']);
  assert.is((await findDataMember(deb)).name, 'data.tar.xz');
});

test('ar rejects non-archive', async () => {
  const file = path.join(dir, 'not.deb');
  await writeFile(file, 'hello world, not an archive');
  try {
    await listArMembers(file);
    assert.unreachable('should have thrown');
  } catch (error) {
    assert.is((error as Error).message, `${file}: not an ar archive (a .deb starts with "!<arch>"), found "hello wo"`);
  }
});

test('ar rejects truncated member', async () => {
  const deb = await buildDeb({ name: 'pkg-cut', version: '2.0', files: FILES }, dir);
  const { readFile } = await import('node:fs/promises');
  const bytes = await readFile(deb);
  const cut = path.join(dir, 'cut.deb');
  await writeFile(cut, bytes.subarray(0, bytes.length - 100));
  try {
    await listArMembers(cut);
    assert.unreachable('should have thrown');
  } catch (error) {
    assert.match((error as Error).message, /member data\.tar\.xz is truncated .* delete the file and download it again/);
  }
});

test('links resolve within package', () => {
  const links = new Map([
    ['usr/share/a', { type: 'symlink' as const, target: '../b' }],
    ['usr/b/x', { type: 'symlink' as const, target: '/opt/y' }],
    ['opt/h', { type: 'hardlink' as const, target: './usr/real' }],
  ]);
  assert.is(resolveInPackage('/usr/share/a/x', links), 'opt/y');
  assert.is(resolveInPackage('/opt/h', links), 'usr/real');
  assert.is(resolveInPackage('/usr/plain', links), 'usr/plain');
});

test('link loop is an error', () => {
  const links = new Map([
    ['a', { type: 'symlink' as const, target: 'b' }],
    ['b', { type: 'symlink' as const, target: 'a' }],
  ]);
  assert.throws(() => resolveInPackage('/a', links), /\/a: more than 32 links to follow \(a link loop\?\)/);
});

test('archive paths are normalized', () => {
  assert.is(normalizeArchivePath('./usr/share/x/'), 'usr/share/x');
  assert.is(normalizeArchivePath('/usr/x'), 'usr/x');
});

test.run();
