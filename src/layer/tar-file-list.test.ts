/** listTarFile (synchronous, by file) lists every tar as listTar (the stream reader) does. */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ShaleError } from '../internal/errors.js';
import { chunks, dir, file, hardlink, hasCommand, noise, patchHeader, run, symlink, tarOf, withTempDir } from './layer-fixtures.js';
import { listTarFile } from './tar-file-list.js';
import { listTar, type ReadTarOptions } from './tar-reader.js';

type Listed = { entries: unknown[]; error?: string; complete: boolean };

const fromStream = async (tar: Buffer, options: ReadTarOptions): Promise<Listed> => {
  const entries: unknown[] = [];
  try {
    await listTar(chunks(tar, 777), options, (header, index, offset) => entries.push({ header, index, offset }));
    return { entries, complete: true };
  } catch (e) {
    return { entries, error: `${(e as ShaleError).code}`, complete: true };
  }
};

const fromFile = (path: string, options: ReadTarOptions): Listed => {
  const entries: unknown[] = [];
  try {
    const complete = listTarFile(path, options, (header, index, offset) => entries.push({ header, index, offset }));
    return { entries, complete };
  } catch (e) {
    return { entries, error: `${(e as ShaleError).code}`, complete: true };
  }
};

/** Both readers on the same bytes: the same headers, indexes, content offsets and error codes. */
async function same(dir: string, name: string, tar: Buffer, options: ReadTarOptions = {}): Promise<Listed> {
  const path = join(dir, `${name}.tar`);
  writeFileSync(path, tar);
  const byFile = fromFile(path, options);
  assert.ok(byFile.complete, `${name}: listed to the end`);
  assert.deepEqual(byFile, await fromStream(tar, options), name);
  return byFile;
}

test('listTarFile: entries, PAX and long names, offsets and errors as listTar gives them', async () => {
  await withTempDir(async (d) => {
    const big = noise((1 << 20) + 3000, 7); // more than one read window
    const tar = await tarOf([
      dir('d'),
      file('d/a', 'hello'),
      file('d/big', big),
      file(`d/${'p'.repeat(300)}`, 'long name through PAX'),
      symlink('d/l', `t/${'x'.repeat(150)}`),
      hardlink('d/h', 'd/a'),
      file('ünï', 'u', { uid: 3_000_000, mtime: 1600000000.5, xattrs: { 'user.k': Buffer.from([0, 1, 255]) } }),
      file('e', ''),
      file('x', 'v', { xattrs: { 'user.big': noise(100_000, 3) } }), // a PAX header larger than one read
    ]);
    const listed = await same(d, 'features', tar);
    assert.equal(listed.entries.length, 9);
    await same(d, 'verified', tar, { verified: true });
    // corrupt and cut: the same codes at the same entries
    await same(d, 'cut-header', tar.subarray(0, 512 + 512 + 100));
    await same(d, 'cut-between', tar.subarray(0, 1024 + 512));
    const badSum = Buffer.from(tar);
    badSum[512] ^= 1;
    await same(d, 'checksum', badSum);
    await same(d, 'unknown-flag', patchHeader(tar, 0, (b) => (b[156] = 'Z'.charCodeAt(0))));
    await same(d, 'meta-limit', tar, { maxMetaBytes: 100 });
    await same(d, 'not-a-tar', Buffer.from('not a tar\n'.repeat(100)));
    await same(d, 'empty', Buffer.alloc(0));
  });
});

test('listTarFile: GNU tar formats (gnu long names, posix, PAX sparse); old GNU sparse is left to listTar', { skip: !hasCommand('tar') && 'GNU tar is not installed' }, async () => {
  await withTempDir(async (d) => {
    const src = join(d, 'src');
    mkdirSync(join(src, 'long-directory-name-'.repeat(6)), { recursive: true });
    writeFileSync(join(src, 'long-directory-name-'.repeat(6), `${'f'.repeat(130)}.txt`), 'deep');
    symlinkSync(`target/${'t'.repeat(150)}`, join(src, 'link'));
    // holes made by seeking, as GNU tar's --sparse only stores real holes sparse
    run('truncate', ['-s', '4M', join(src, 'sparse')]);
    for (let i = 0; i < 30; i++) run('dd', ['of=sparse', 'bs=4096', `seek=${i * 131072}`, 'oflag=seek_bytes', 'conv=notrunc', 'status=none'], src, Buffer.from('data'));
    for (const args of [['--format=gnu'], ['--format=posix'], ['--sparse', '--format=posix'], ['--sparse', '--format=posix', '--sparse-version=0.1']]) {
      run('tar', [...args, '-cf', join(d, 'out.tar'), '-C', src, '.']);
      await same(d, args.join(' '), readFileSync(join(d, 'out.tar')));
    }
    run('tar', ['--sparse', '--format=gnu', '-cf', join(d, 'old.tar'), '-C', src, 'sparse']);
    assert.equal(fromFile(join(d, 'old.tar'), {}).complete, false, 'an old GNU sparse entry hands the listing to the stream reader');
  });
});
