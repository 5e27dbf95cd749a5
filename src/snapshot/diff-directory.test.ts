/** diffDirectory: an overlayfs upperdir (as the kernel writes it) to a sorted OCI layer tar. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { execFileSync } from 'node:child_process';
import { linkSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { summarizeLayer } from '../layer/index.js';
import { chunks } from '../layer/layer-fixtures.js';
import { diffDirectory } from './diff-directory.js';
import { chardev, collect, dir, fifo, file, hardlink, listTar, marker, rejectsWithCode, symlink, tarOf } from './snapshot-fixtures.js';
import { unpackLayer } from './unpack-layer.js';

async function withDir<T>(fn: (d: string) => Promise<T>): Promise<T> {
  const d = mkdtempSync(join(tmpdir(), 'shale-diff-test-'));
  try {
    return await fn(d);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
}

const setfattr = (path: string, name: string, value: string) => execFileSync('setfattr', ['-h', '-n', name, '-v', value, path]);
const whiteoutDevice = (path: string) => execFileSync('mknod', ['-m', '000', path, 'c', '0', '0']);

describe('diffDirectory', () => {
  test('a layer unpacked in overlay format diffs back to the same entries', async () => {
    // Canonical form: sorted, parents present, opaque marker right after its directory, markers mode 0 mtime 0.
    const entries = [
      dir('bin', { mtime: 1_600_000_000 }),
      file('bin/a', 'aaa', { mode: 0o4755, mtime: 1_600_000_001 }),
      hardlink('bin/b', 'bin/a', { mode: 0o4755, mtime: 1_600_000_001 }),
      symlink('bin/sh', 'a', { mtime: 1_600_000_002 }),
      dir('dev', { mtime: 1_600_000_000 }),
      chardev('dev/tty', 5, 0, { mode: 0o620, gid: 5, mtime: 1_600_000_003 }),
      dir('etc', { mtime: 1_600_000_000 }),
      marker('etc/.wh.gone'),
      file('etc/conf', 'c', { uid: 1000, gid: 1001, mtime: 1_600_000_004, xattrs: { 'user.k': Buffer.from('v') } }),
      dir('opq', { mode: 0o700, mtime: 1_600_000_000 }),
      marker('opq/.wh..wh..opq'),
      file('opq/new', 'n', { mtime: 1_600_000_005 }),
      dir('run', { mtime: 1_600_000_000 }),
      fifo('run/p', { mtime: 1_600_000_006 }),
      dir('tmp', { mode: 0o1777, mtime: 1_600_000_000 }),
    ];
    const tar = await tarOf(entries);
    await withDir(async (d) => {
      await unpackLayer(chunks(tar), d, { format: 'overlay' });
      const out = await collect(diffDirectory(d, { sourceDateEpoch: null }));
      const strip = (l: Awaited<ReturnType<typeof listTar>>) => l.map(({ name, type, mode, uid, gid, linkname, content, mtime, xattrs }) => ({ name, type, mode, uid, gid, linkname, content, mtime, xattrs }));
      assert.deepEqual(strip(await listTar(out)), strip(await listTar(tar)));
      assert.ok(out.equals(await collect(diffDirectory(d, { sourceDateEpoch: null }))), 'the same upperdir gives the same bytes');
      assert.ok(out.equals(tar), 'the bytes writeTar writes for the same entries');
      const lent = diffDirectory(d, { sourceDateEpoch: null }).lend('upperdir');
      const copies: Buffer[] = [];
      let next = await lent.next();
      for (; !next.done; next = await lent.next()) copies.push(Buffer.from(next.value)); // a lent chunk is copied before the next pull
      assert.ok(Buffer.concat(copies).equals(out), 'lent chunks carry the same bytes');
      assert.deepEqual(next.value, await summarizeLayer(chunks(out), 'upperdir'), 'the summary counted while writing is the one a parse finds');
    });
  });

  test('kernel whiteouts (hard-linked 0:0 devices), opaque dirs and overlay bookkeeping xattrs', async () => {
    await withDir(async (d) => {
      mkdirSync(join(d, 'etc'));
      whiteoutDevice(join(d, 'etc/old'));
      linkSync(join(d, 'etc/old'), join(d, 'etc/older')); // the kernel shares one whiteout inode
      writeFileSync(join(d, 'etc/conf'), 'c');
      setfattr(join(d, 'etc/conf'), 'trusted.overlay.origin', '0x00');
      setfattr(join(d, 'etc/conf'), 'user.keep', 'yes');
      setfattr(join(d, 'etc'), 'trusted.overlay.impure', 'y');
      mkdirSync(join(d, 'redo'));
      setfattr(join(d, 'redo'), 'trusted.overlay.opaque', 'y');
      writeFileSync(join(d, 'redo/x'), 'x');
      mkdirSync(join(d, 'half'));
      setfattr(join(d, 'half'), 'trusted.overlay.opaque', 'x'); // "x" is not opaque (it marks xwhiteouts)
      writeFileSync(join(d, 'h1'), 'h');
      linkSync(join(d, 'h1'), join(d, 'h2'));
      symlinkSync('h1', join(d, 's'));
      setfattr(d, 'trusted.overlay.uuid', '0x01');
      const list = await listTar(await collect(diffDirectory(d)));
      assert.deepEqual(
        list.map((e) => [e.name, e.type, e.linkname]),
        [
          ['etc/', 'dir', ''],
          ['etc/.wh.old', 'file', ''],
          ['etc/.wh.older', 'file', ''],
          ['etc/conf', 'file', ''],
          ['h1', 'file', ''],
          ['h2', 'hardlink', 'h1'],
          ['half/', 'dir', ''],
          ['redo/', 'dir', ''],
          ['redo/.wh..wh..opq', 'file', ''],
          ['redo/x', 'file', ''],
          ['s', 'symlink', 'h1'],
        ],
      );
      assert.deepEqual(list.find((e) => e.name === 'etc/conf')!.xattrs, { 'user.keep': 'yes' });
      assert.deepEqual(list.find((e) => e.name === 'etc/')!.xattrs, {});
      assert.deepEqual(list.find((e) => e.name === 'redo/')!.xattrs, {});
    });
  });

  test('mtimes are clamped to SOURCE_DATE_EPOCH (option or environment)', async () => {
    await withDir(async (d) => {
      writeFileSync(join(d, 'new'), 'n');
      utimesSync(join(d, 'new'), 2_000_000_000, 2_000_000_000);
      writeFileSync(join(d, 'old'), 'o');
      utimesSync(join(d, 'old'), 1_000_000_000, 1_000_000_000);
      const times = async (opts: Parameters<typeof diffDirectory>[1]) =>
        (await listTar(await collect(diffDirectory(d, opts)))).map((e) => [e.name, e.mtime]);
      assert.deepEqual(await times({ sourceDateEpoch: 1_500_000_000 }), [['new', 1_500_000_000], ['old', 1_000_000_000]]);
      const saved = process.env.SOURCE_DATE_EPOCH;
      process.env.SOURCE_DATE_EPOCH = '1600000000';
      try {
        assert.deepEqual(await times(undefined), [['new', 1_600_000_000], ['old', 1_000_000_000]]);
        assert.deepEqual(await times({ sourceDateEpoch: null }), [['new', 2_000_000_000], ['old', 1_000_000_000]]);
        process.env.SOURCE_DATE_EPOCH = 'yesterday';
        await rejectsWithCode(() => collect(diffDirectory(d)), 'INVALID_ARGUMENT');
      } finally {
        if (saved === undefined) delete process.env.SOURCE_DATE_EPOCH;
        else process.env.SOURCE_DATE_EPOCH = saved;
      }
    });
  });

  test('an upperdir with redirected directories is UNSUPPORTED', async () => {
    await withDir(async (d) => {
      mkdirSync(join(d, 'moved'));
      setfattr(join(d, 'moved'), 'trusted.overlay.redirect', 'orig');
      await rejectsWithCode(() => collect(diffDirectory(d)), 'UNSUPPORTED');
    });
  });
});
