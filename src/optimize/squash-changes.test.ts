/** squashLayersTar: the squashed layer over the kept base gives the same tree as the whole stack, and no more. */
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { describe, test } from 'node:test';
import { exportMergedTar, type TarSource } from '../layer/index.js';
import { bufferSource, collect, dir, file, hardlink, layer, noise, readAll, symlink, tarOf } from '../layer/layer-fixtures.js';
import { makeHeader } from '../layer/tar-writer.js';
import { squashLayersTar } from './squash-changes.js';

/** The squashed layer's tar. */
const squash = async (layers: TarSource[], kept: number): Promise<Buffer> => collect(squashLayersTar(layers, kept, { scratchDir: tmpdir() }));

/** The squashed layer as `TYPE NAME [-> LINK] [= CONTENT]` lines, in tar order. */
async function squashedLines(layers: TarSource[], kept: number): Promise<string[]> {
  return (await readAll(await squash(layers, kept))).map((e) => {
    const h = e.header;
    let line = `${h.type} ${h.name}`;
    if (h.type === 'hardlink' || h.type === 'symlink') line += ` -> ${h.linkname}`;
    if (h.type === 'file' && h.size > 0) line += ` = ${e.body.length > 40 ? `${e.body.length} bytes` : e.body.toString()}`;
    return line;
  });
}

/**
 * What a stack shows, path by path, read from its export: type, metadata, content (a hard link counted as
 * the file it shares, plus the other paths of its inode).
 */
async function treeOf(layers: TarSource[]): Promise<Map<string, string>> {
  const entries = await readAll(await collect(exportMergedTar(layers)));
  const byName = new Map(entries.map((e) => [e.header.name.replace(/\/$/, ''), e]));
  const inode = new Map<string, string>(); // path -> the first path of its inode
  for (const e of entries) {
    const path = e.header.name.replace(/\/$/, '');
    inode.set(path, e.header.type === 'hardlink' ? inode.get(e.header.linkname)! : path);
  }
  const out = new Map<string, string>();
  for (const [path, first] of inode) {
    const e = byName.get(first)!;
    const h = e.header;
    const group = [...inode].filter(([, f]) => f === first).map(([p]) => p).sort();
    const xattrs = Object.entries(h.xattrs ?? {}).map(([k, v]) => `${k}=${v.toString('hex')}`).sort();
    out.set(
      path,
      JSON.stringify([h.type, h.mode, h.uid, h.gid, h.mtime, h.type === 'symlink' ? h.linkname : '', h.devmajor, h.devminor, xattrs, e.body.toString('hex'), group.length > 1 ? group : []]),
    );
  }
  return out;
}

/** Asserts the base plus the squashed layer is the same tree as the whole stack; returns the squashed tar. */
async function assertSameTree(layers: TarSource[], kept: number): Promise<Buffer> {
  const tar = await squash(layers, kept);
  const squashed = [...layers.slice(0, kept), bufferSource('squashed', tar)];
  assert.deepEqual(Object.fromEntries(await treeOf(squashed)), Object.fromEntries(await treeOf(layers)));
  return tar;
}

const base = () =>
  layer('base', [
    dir('bin'),
    file('bin/busybox', 'BUSYBOX', { mode: 0o755 }),
    symlink('bin/sh', 'busybox'),
    dir('etc'),
    file('etc/passwd', 'root:x:0:0'),
    file('etc/group', 'root:x:0:'),
    dir('usr'),
    dir('usr/share'),
    file('usr/share/a', 'A'),
    file('usr/share/b', 'B'),
    dir('var', { mode: 0o700, uid: 5, gid: 6, mtime: 1234 }),
    file('var/log', 'LOG'),
  ]);

describe('squashLayersTar', () => {
  test('a file added then deleted above the base leaves only the directory that stays', async () => {
    const layers = [
      await base(),
      await layer('workdir', [dir('home')]),
      await layer('dd', [dir('home'), file('home/50M.file', noise(100_000))]),
      await layer('rm', [dir('home'), file('home/.wh.50M.file')]),
    ];
    assert.deepEqual(await squashedLines(layers, 1), ['dir home/']);
    await assertSameTree(layers, 1);
  });

  test('whiteouts for deleted base paths; changed and new files carry their final content', async () => {
    const layers = [
      await base(),
      await layer('L1', [file('etc/passwd', 'v1'), file('etc/new', 'N1'), file('etc/.wh.group')]),
      await layer('L2', [file('etc/passwd', 'v2'), file('etc/new', 'N2'), file('usr/share/.wh.a')]),
    ];
    assert.deepEqual(await squashedLines(layers, 1), ['file etc/.wh.group', 'file etc/new = N2', 'file etc/passwd = v2', 'file usr/share/.wh.a']);
    await assertSameTree(layers, 1);
  });

  test('a base directory replaced wholesale becomes the directory plus an opaque marker', async () => {
    const layers = [
      await base(),
      await layer('rm', [file('usr/.wh.share')]),
      await layer('mkdir', [dir('usr/share', { mode: 0o750 }), file('usr/share/b', 'new B'), file('usr/share/c', 'C')]),
    ];
    assert.deepEqual(await squashedLines(layers, 1), ['dir usr/share/', 'file usr/share/.wh..wh..opq', 'file usr/share/b = new B', 'file usr/share/c = C']);
    await assertSameTree(layers, 1);
    // recreated only implicitly (no directory entry): default metadata, as the stack itself shows it
    const implicit = [await base(), await layer('rm', [file('var/.wh.log'), file('.wh.var')]), await layer('add', [file('var/x', 'X')])];
    assert.deepEqual(await squashedLines(implicit, 1), ['dir var/', 'file var/.wh..wh..opq', 'file var/x = X']);
    await assertSameTree(implicit, 1);
  });

  test('a base directory partly kept gets whiteouts, not an opaque marker', async () => {
    const layers = [await base(), await layer('L1', [file('usr/share/.wh..wh..opq'), file('usr/share/b', 'B')])];
    const lines = await squashedLines(layers, 1);
    assert.deepEqual(lines, ['file usr/share/.wh.a', 'file usr/share/b = B']);
    await assertSameTree(layers, 1);
  });

  test('types replaced: a file by a directory, a directory by a symlink, a symlink by a file', async () => {
    const layers = [
      await base(),
      await layer('L1', [file('etc/.wh.passwd'), dir('etc/passwd'), file('etc/passwd/x', 'X'), file('.wh.var'), symlink('var', 'tmp')]),
      await layer('L2', [file('bin/sh', 'not a link', { mode: 0o755 })]),
    ];
    assert.deepEqual(await squashedLines(layers, 1), ['file bin/sh = not a link', 'dir etc/passwd/', 'file etc/passwd/x = X', 'symlink var -> tmp']);
    await assertSameTree(layers, 1);
  });

  test('hard links: to a kept base file stay links; a group whose file was replaced keeps its old content', async () => {
    const layers = [
      await base(),
      await layer('L1', [hardlink('bin/ls', 'bin/busybox'), file('opt', 'OLD', { mode: 0o751 }), hardlink('opt2', 'opt'), hardlink('opt3', 'opt')]),
      await layer('L2', [file('opt', 'NEW')]),
    ];
    assert.deepEqual(await squashedLines(layers, 1), ['hardlink bin/ls -> bin/busybox', 'file opt = NEW', 'file opt2 = OLD', 'hardlink opt3 -> opt2']);
    await assertSameTree(layers, 1);
  });

  test('a link that sorts before its file is written as the file, the file as the link', async () => {
    const layers = [await base(), await layer('L1', [file('z/file', 'Z'), hardlink('a-link', 'z/file')]), await layer('L2', [dir('x')])];
    assert.deepEqual(await squashedLines(layers, 1), ['file a-link = Z', 'dir x/', 'dir z/', 'hardlink z/file -> a-link']);
    await assertSameTree(layers, 1);
  });

  test('metadata is kept: modes, owners, times, xattrs, devices, fifos, symlinks', async () => {
    const meta = { mode: 0o4755, uid: 1000, gid: 1001, mtime: 1_700_000_000, xattrs: { 'user.note': Buffer.from('hi'), 'security.capability': Buffer.from([1, 2, 3]) } };
    const layers = [
      await base(),
      await layer('L1', [
        file('bin/tool', 'T0'),
        { header: makeHeader({ name: 'dev/null', type: 'char', mode: 0o666, devmajor: 1, devminor: 3 }) },
        { header: makeHeader({ name: 'run/fifo', type: 'fifo', mode: 0o600 }) },
      ]),
      await layer('L2', [file('bin/tool', 'TOOL', meta), symlink('bin/link', '../etc/passwd', { uid: 7, mtime: 99 }), dir('var', { mode: 0o1777, mtime: 5 })]),
    ];
    const tar = await assertSameTree(layers, 1);
    const tool = (await readAll(tar)).find((e) => e.header.name === 'bin/tool')!.header;
    assert.deepEqual([tool.mode, tool.uid, tool.gid, tool.mtime, Object.keys(tool.xattrs ?? {}).sort()], [0o4755, 1000, 1001, 1_700_000_000, ['security.capability', 'user.note']]);
  });

  test('everything (kept 0): layers written out of order are still read whole, and the result is the final tree', async () => {
    const unsorted = await layer('unsorted', [file('z', 'Z'), dir('m'), file('m/b', 'MB'), file('a', 'A'), file('m/a', noise(300_000)), hardlink('b-link', 'm/b')]);
    const layers = [unsorted, await layer('L2', [file('.wh.z'), file('m/a', 'small'), file('c', 'C')])];
    assert.deepEqual(await squashedLines(layers, 0), ['file a = A', 'file b-link = MB', 'file c = C', 'dir m/', 'file m/a = small', 'hardlink m/b -> b-link']);
    await assertSameTree(layers, 0);
    await assertSameTree([await base(), ...layers], 0);
  });

  test('the same layers give the same bytes', async () => {
    const layers = [await base(), await layer('L1', [file('etc/a', 'A'), file('etc/.wh.group')]), await layer('L2', [file('etc/b', 'B')])];
    assert.deepEqual(await squash(layers, 1), await squash(layers, 1));
    assert.deepEqual(await squash(layers, 1), await tarOf([file('etc/.wh.group', '', { mode: 0 }), file('etc/a', 'A'), file('etc/b', 'B')]));
  });

  test('nothing changed above the base is an empty layer', async () => {
    const layers = [await base(), await layer('L1', [file('tmp', 'x')]), await layer('L2', [file('.wh.tmp')])];
    assert.deepEqual(await squashedLines(layers, 1), []);
  });
});
