/** unpackLayer: metadata kept, overlay and plain whiteout forms, hostile tars refused without writing outside. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TarWriteEntry } from '../layer/index.js';
import { chunks } from '../layer/layer-fixtures.js';
import { deviceNumbers } from './scan-tree.js';
import { chardev, dir, fifo, file, hardlink, marker, readTree, rejectsWithCode, symlink, tarOf, xattrsOf } from './snapshot-fixtures.js';
import { unpackLayer, type LayerFormat } from './unpack-layer.js';

async function withDir<T>(fn: (d: string) => Promise<T>): Promise<T> {
  const d = mkdtempSync(join(tmpdir(), 'shale-unpack-test-'));
  try {
    return await fn(d);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
}

async function unpack(entries: TarWriteEntry[], target: string, format: LayerFormat): Promise<void> {
  await unpackLayer(chunks(await tarOf(entries), 700), target, { format, what: 'test layer' });
}

const names = (root: string) => [...readTree(root).keys()];

for (const format of ['overlay', 'plain'] as const) {
  describe(`unpackLayer (${format})`, () => {
    test('keeps type, mode with setuid and sticky bits, owner, mtime, links, fifos, devices and xattrs', async () => {
      await withDir(async (d) => {
        await unpack(
          [
            dir('bin', { mtime: 1_500_000_000 }),
            file('bin/suid', 'S', { mode: 0o4755, uid: 0, gid: 0, mtime: 1_600_000_000 }),
            file('bin/sgid', 'G', { mode: 0o2711, uid: 1000, gid: 1000 }),
            dir('tmp', { mode: 0o1777 }),
            dir('home/u', { uid: 1000, gid: 1001, mode: 0o700 }),
            file('home/u/.profile', 'p', { uid: 1000, gid: 1001, xattrs: { 'user.note': Buffer.from('hello'), 'trusted.overlay.opaque': Buffer.from('y') } }),
            symlink('bin/sh', 'busybox', { uid: 1000, gid: 1000 }),
            hardlink('bin/suid2', 'bin/suid'),
            fifo('run/ctl', { mode: 0o620, uid: 7, gid: 8 }),
            chardev('dev/null', 1, 3),
          ],
          d,
          format,
        );
        const t = readTree(d);
        assert.deepEqual([...t.keys()], ['bin/', 'bin/sgid', 'bin/sh', 'bin/suid', 'bin/suid2', 'dev/', 'dev/null', 'home/', 'home/u/', 'home/u/.profile', 'run/', 'run/ctl', 'tmp/']);
        const e = (p: string) => t.get(p)!;
        assert.equal(e('bin/suid').mode, 0o4755);
        assert.equal(e('bin/suid').mtime, 1_600_000_000);
        assert.equal(e('bin/sgid').mode, 0o2711);
        assert.deepEqual([e('bin/sgid').uid, e('bin/sgid').gid], [1000, 1000]);
        assert.equal(e('bin/').mtime, 1_500_000_000, 'directory mtime is set after its children are made');
        assert.equal(e('tmp/').mode, 0o1777);
        assert.deepEqual([e('home/u/').mode, e('home/u/').uid, e('home/u/').gid], [0o700, 1000, 1001]);
        assert.equal(e('home/').mode, 0o755, 'an implied parent is 0755');
        assert.deepEqual([e('bin/sh').type, e('bin/sh').linkname, e('bin/sh').uid], ['symlink', 'busybox', 1000]);
        assert.equal(e('bin/suid2').ino, e('bin/suid').ino);
        assert.equal(e('bin/suid').nlink, 2);
        assert.deepEqual([e('run/ctl').type, e('run/ctl').mode, e('run/ctl').uid, e('run/ctl').gid], ['fifo', 0o620, 7, 8]);
        assert.deepEqual([e('dev/null').type, e('dev/null').dev, e('dev/null').mode], ['char', '1:3', 0o666]);
        assert.deepEqual(xattrsOf(join(d, 'home/u/.profile')), { 'user.note': 'hello' }, 'trusted.overlay.* from a tar is dropped');
      });
    });

    test('a later entry replaces an earlier one of another type', async () => {
      await withDir(async (d) => {
        await unpack([file('x', 'file'), dir('x'), file('x/in', 'in'), symlink('y', 'x'), file('y', 'now a file')], d, format);
        assert.deepEqual(names(d), ['x/', 'x/in', 'y']);
        assert.equal(readFileSync(join(d, 'y'), 'utf8'), 'now a file');
      });
    });
  });
}

describe('unpackLayer: whiteouts in overlay format', () => {
  test('a whiteout is a 0:0 character device and an opaque marker sets trusted.overlay.opaque=y', async () => {
    await withDir(async (d) => {
      await unpack([dir('etc'), marker('etc/.wh.passwd'), marker('.wh.gone'), dir('opq'), marker('opq/.wh..wh..opq'), file('opq/new', 'n')], d, 'overlay');
      const t = readTree(d);
      assert.deepEqual([...t.keys()], ['etc/', 'etc/passwd', 'gone', 'opq/', 'opq/new']);
      for (const p of ['gone', 'etc/passwd']) {
        const st = lstatSync(join(d, p));
        assert.ok(st.isCharacterDevice(), `${p} is a char device`);
        assert.deepEqual(deviceNumbers(BigInt(st.rdev)), { major: 0, minor: 0 });
      }
      assert.equal(xattrsOf(join(d, 'opq'))['trusted.overlay.opaque'], 'y');
      assert.deepEqual(xattrsOf(join(d, 'etc')), {});
      assert.ok(!readdirSync(d).some((n) => n.startsWith('.shale-whiteout')), 'the whiteout template is gone');
    });
  });

  test('whiteouts hide only lower layers: the layer\'s own entries stay, a directory over a whiteout is opaque', async () => {
    await withDir(async (d) => {
      await unpack(
        [
          file('own', 'mine'),
          marker('.wh.own'),
          marker('.wh.redo'),
          dir('redo'),
          file('redo/f', 'f'),
          dir('late'),
          file('late/x', 'x'),
          marker('late/.wh..wh..opq'),
          marker('.wh.late'),
        ],
        d,
        'overlay',
      );
      assert.deepEqual(names(d), ['late/', 'late/x', 'own', 'redo/', 'redo/f']);
      assert.equal(readFileSync(join(d, 'own'), 'utf8'), 'mine');
      assert.equal(xattrsOf(join(d, 'redo'))['trusted.overlay.opaque'], 'y');
      assert.equal(xattrsOf(join(d, 'late'))['trusted.overlay.opaque'], 'y');
    });
  });

  test('a hard link to a file of another layer is refused (a lowerdir holds one layer)', async () => {
    await withDir(async (d) => {
      await rejectsWithCode(() => unpack([hardlink('b', 'a')], d, 'overlay'), 'CORRUPT_INPUT');
    });
  });
});

describe('unpackLayer: whiteouts in plain format', () => {
  test('whiteouts delete lower files and whole directories; opaque markers empty lower children wherever they stand', async () => {
    await withDir(async (d) => {
      await unpack(
        [
          dir('etc'),
          file('etc/keep', 'k'),
          file('etc/passwd', 'p'),
          dir('var/cache/sub'),
          file('var/cache/sub/x', 'x'),
          dir('opq'),
          file('opq/lower', 'l'),
          dir('opq/sub'),
          file('opq/sub/deep', 'd'),
          dir('opq2'),
          file('opq2/lower', 'l'),
          file('lowerfile', 'lf'),
        ],
        d,
        'plain',
      );
      const etcMtime = lstatSync(join(d, 'etc')).mtimeMs;
      await unpack(
        [
          marker('etc/.wh.passwd'),
          marker('var/.wh.cache'),
          dir('opq'),
          file('opq/new', 'n'),
          dir('opq/sub'),
          marker('opq/.wh..wh..opq'),
          marker('opq2/.wh..wh..opq'),
          file('opq2/new', 'n2'),
          file('lowerfile', 'replaced'),
          marker('.wh.lowerfile'),
          marker('.wh.never-existed'),
        ],
        d,
        'plain',
      );
      assert.deepEqual(names(d), ['etc/', 'etc/keep', 'lowerfile', 'opq/', 'opq/new', 'opq/sub/', 'opq2/', 'opq2/new', 'var/']);
      assert.equal(readFileSync(join(d, 'lowerfile'), 'utf8'), 'replaced');
      assert.equal(lstatSync(join(d, 'etc')).mtimeMs, etcMtime, 'a whiteout keeps its directory\'s mtime');
    });
  });
});

describe('unpackLayer refuses hostile tars', () => {
  const hostile: [string, (outside: string) => TarWriteEntry[]][] = [
    ['a ".." name', () => [file('../escape', 'x')]],
    ['a deeper ".." name', () => [dir('a'), file('a/../../escape', 'x')]],
    ['an absolute name', (o) => [file(`${o}/pwned`, 'x')]],
    ['a file through an absolute symlink', (o) => [symlink('s', o), file('s/pwned', 'x')]],
    ['a file through a relative symlink', () => [dir('a'), symlink('a/up', '../..'), file('a/up/sentinel/pwned', 'x')]],
    ['a directory through a symlink', (o) => [symlink('s', o), dir('s/newdir')]],
    ['a whiteout made through a symlink (overlay)', (o) => [symlink('s', o), marker('s/.wh.keep')]],
    ['a hard link to a file outside', () => [hardlink('h', '../sentinel/keep')]],
    ['a hard link through a symlink', (o) => [symlink('s', o), hardlink('h', 's/keep')]],
  ];
  for (const format of ['overlay', 'plain'] as const) {
    for (const [what, entries] of hostile) {
      test(`${what} (${format}): UNSAFE_PATH, nothing written outside`, async () => {
        await withDir(async (d) => {
          const outside = join(d, 'sentinel');
          mkdirSync(outside);
          writeFileSync(join(outside, 'keep'), 'original');
          mkdirSync(join(d, 'target'));
          const tar = await tarOf(entries(outside));
          const run = () => unpackLayer(chunks(tar, 512), join(d, 'target'), { format });
          if (what.includes('(overlay)') && format === 'plain') {
            await run(); // a plain whiteout through a symlink hides nothing and touches nothing
          } else {
            await rejectsWithCode(run, 'UNSAFE_PATH');
          }
          assert.deepEqual(readdirSync(outside), ['keep']);
          assert.equal(readFileSync(join(outside, 'keep'), 'utf8'), 'original');
          assert.equal(lstatSync(join(outside, 'keep')).nlink, 1, 'no hard link was made to the outside file');
          assert.deepEqual(readdirSync(d).sort(), ['sentinel', 'target']);
        });
      });
    }
  }

  test('replacing a symlink by a file writes the file, not through the link', async () => {
    await withDir(async (d) => {
      mkdirSync(join(d, 'target'));
      writeFileSync(join(d, 'victim'), 'original');
      await unpack([symlink('s', join(d, 'victim')), file('s', 'new')], join(d, 'target'), 'plain');
      assert.equal(readFileSync(join(d, 'victim'), 'utf8'), 'original');
      assert.equal(readFileSync(join(d, 'target', 's'), 'utf8'), 'new');
    });
  });
});
