import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { extractFromRcc, listRccFiles } from '../../../ts/data/rcc.ts';
import { encodeRcc, type RccCompression } from './rcc-encoder.ts';

const FILES = {
  '/gcompris/src/activities/erase/resource/bee.webp': Buffer.from('RIFF-bee-photo'.repeat(20)),
  '/gcompris/src/activities/erase/resource/alpaca.webp': Buffer.from('RIFF-alpaca'),
  '/gcompris/top.txt': Buffer.from('top'),
};

const CASES: [1 | 2 | 3, RccCompression][] = [
  [1, 'none'],
  [2, 'none'],
  [3, 'none'],
  [2, 'zlib'],
  [3, 'zstd'],
];

for (const [version, compression] of CASES) {
  test(`rcc v${version} ${compression} round trip`, async () => {
    const bundle = encodeRcc(FILES, version, compression);
    const { files, missing } = await extractFromRcc(bundle, Object.keys(FILES), 'test.rcc');
    assert.equal(missing, []);
    for (const [name, data] of Object.entries(FILES)) assert.equal(files.get(name), data, name);
  });
}

test('rcc lists every file path', () => {
  const paths = listRccFiles(encodeRcc(FILES), 'test.rcc').map((file) => file.path);
  assert.equal(paths.sort(), Object.keys(FILES).sort());
});

test('rcc reports missing inner path', async () => {
  const { files, missing } = await extractFromRcc(encodeRcc(FILES), ['/gcompris/none.webp', '/gcompris/top.txt'], 'test.rcc');
  assert.equal(missing, ['/gcompris/none.webp']);
  assert.equal(files.get('/gcompris/top.txt'), Buffer.from('top'));
});

test('rcc rejects wrong magic', () => {
  assert.throws(() => listRccFiles(Buffer.from('qrez0000000000000000000'), 'x.rcc'), /x\.rcc: not a Qt resource bundle \(expected the magic "qres"\)/);
});

test('rcc rejects unknown version', () => {
  const bundle = encodeRcc(FILES);
  bundle.writeUInt32BE(9, 4);
  assert.throws(() => listRccFiles(bundle, 'x.rcc'), /x\.rcc: unsupported rcc format version 9 \(supported: 1, 2, 3\)/);
});

test('rcc rejects truncated bundle', () => {
  const bundle = encodeRcc(FILES);
  assert.throws(() => listRccFiles(bundle.subarray(0, bundle.length - 30), 'x.rcc'), /x\.rcc: tree node \d+ at byte \d+ lies outside the bundle/);
});

test.run();
