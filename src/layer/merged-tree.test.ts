/** MergedTree and exportMergedTar: overlayfs semantics across a layer stack; summarizeLayer counts. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { lstatSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportMergedTar } from './export-tar.js';
import { summarizeLayer } from './layer-summary.js';
import { MergedTree, type TarSource } from './merged-tree.js';
import { makeHeader } from './tar-writer.js';
import { chunks, collect, dir, file, hardlink, hasCommand, layer, readAll, runFull, symlink, tarOf, withTempDir } from './layer-fixtures.js';

interface Listed {
  name: string;
  type: string;
  mode: number;
  linkname: string;
  content: string;
}

/** The merged tar of a stack, read back as simple records in tar order. */
async function exportList(layers: TarSource[]): Promise<Listed[]> {
  const tar = await collect(exportMergedTar(layers));
  return (await readAll(tar)).map((e) => ({
    name: e.header.name,
    type: e.header.type,
    mode: e.header.mode,
    linkname: e.header.linkname,
    content: e.body.toString(),
  }));
}
const names = (l: Listed[]) => l.map((e) => e.name);
const entry = (l: Listed[], name: string): Listed => {
  const e = l.find((x) => x.name === name);
  assert.ok(e, `export has no entry "${name}"; it has ${JSON.stringify(names(l))}`);
  return e;
};

/** Extracts the merged tar of a stack with GNU tar into a temp dir and hands the dir to `check`. */
async function extractMerged(layers: TarSource[], check: (root: string) => void): Promise<void> {
  if (!hasCommand('tar')) return; // the readTar checks still ran
  const tar = await collect(exportMergedTar(layers));
  await withTempDir((d) => {
    writeFileSync(join(d, 'merged.tar'), tar);
    mkdirSync(join(d, 'root'));
    const r = runFull('tar', ['-xf', '../merged.tar'], join(d, 'root'));
    assert.equal(r.stderr, '', 'GNU tar complained while extracting');
    check(join(d, 'root'));
  });
}

/** Every path under a directory, relative and sorted, directories marked with a trailing '/'. */
function tree(root: string, rel = ''): string[] {
  const out: string[] = [];
  for (const n of readdirSync(join(root, rel)).sort()) {
    const p = rel === '' ? n : `${rel}/${n}`;
    const st = lstatSync(join(root, p));
    if (st.isDirectory()) out.push(`${p}/`, ...tree(root, p));
    else out.push(p);
  }
  return out;
}
const read = (root: string, p: string) => readFileSync(join(root, p), 'utf8');

describe('MergedTree / exportMergedTar across layers', () => {
  test('a whiteout removes a lower file and the marker itself is not exported', async () => {
    const layers = [
      await layer('L1', [dir('etc'), file('etc/a', 'A'), file('etc/b', 'B')]),
      await layer('L2', [file('etc/.wh.a')]),
    ];
    const tree1 = await MergedTree.build(layers);
    assert.equal(tree1.lookup('etc/a'), undefined);
    assert.equal(tree1.lookup('etc/b')?.type, 'file');
    const out = await exportList(layers);
    assert.deepEqual(names(out), ['etc/', 'etc/b']);
    await extractMerged(layers, (root) => {
      assert.deepEqual(tree(root), ['etc/', 'etc/b']);
      assert.equal(read(root, 'etc/b'), 'B');
    });
  });

  test('a whiteout of a directory removes it with all its (many) descendants; recreating it starts empty', async () => {
    const many = Array.from({ length: 200 }, (_, i) => file(`d/f${i}`, `content ${i}`));
    const layers = [
      await layer('L1', [dir('d'), ...many, dir('d/sub'), file('d/sub/deep', 'x'), file('keep', 'K')]),
      await layer('L2', [file('.wh.d')]),
    ];
    assert.deepEqual(names(await exportList(layers)), ['keep']);
    const recreated = [...layers, await layer('L3', [dir('d'), file('d/new', 'N')])];
    assert.deepEqual(names(await exportList(recreated)).sort(), ['d/', 'd/new', 'keep']);
    await extractMerged(recreated, (root) => assert.deepEqual(tree(root), ['d/', 'd/new', 'keep']));
  });

  const lowerWithDir = () =>
    layer('L1', [dir('d'), file('d/old1', '1'), file('d/old2', '2'), dir('d/sub'), file('d/sub/deep', 'x'), file('other', 'o')]);

  test('an opaque marker hides the lower children but keeps the same layer\'s new ones', async () => {
    const layers = [await lowerWithDir(), await layer('L2', [dir('d'), file('d/.wh..wh..opq'), file('d/new', 'N')])];
    const out = await exportList(layers);
    assert.deepEqual(names(out).sort(), ['d/', 'd/new', 'other']);
    assert.equal(entry(out, 'd/new').content, 'N');
    await extractMerged(layers, (root) => assert.deepEqual(tree(root), ['d/', 'd/new', 'other']));
  });

  test('an opaque marker placed AFTER the new children in the tar is still applied first', async () => {
    const layers = [
      await lowerWithDir(),
      await layer('L2', [file('d/new', 'N'), dir('d/newdir'), file('d/newdir/x', 'X'), file('d/.wh..wh..opq')]),
    ];
    const out = await exportList(layers);
    assert.deepEqual(names(out).sort(), ['d/', 'd/new', 'd/newdir/', 'd/newdir/x', 'other']);
    await extractMerged(layers, (root) => {
      assert.deepEqual(tree(root), ['d/', 'd/new', 'd/newdir/', 'd/newdir/x', 'other']);
      assert.equal(read(root, 'd/newdir/x'), 'X');
    });
  });

  test('whiteouts after entries in the tar: lower files go, the layer\'s own same-named entry stays', async () => {
    const layers = [
      await layer('L1', [file('a', 'A'), file('b', 'B'), file('c', 'C')]),
      await layer('L2', [file('x', 'X'), file('b', 'B2'), file('.wh.a'), file('.wh.b')]),
    ];
    const out = await exportList(layers);
    assert.deepEqual(names(out).sort(), ['b', 'c', 'x']);
    assert.equal(entry(out, 'b').content, 'B2');
    await extractMerged(layers, (root) => {
      assert.deepEqual(tree(root), ['b', 'c', 'x']);
      assert.equal(read(root, 'b'), 'B2');
    });
  });

  test('a file replaced by a directory, and by a file again in a third layer', async () => {
    const l1 = await layer('L1', [file('p', 'file1')]);
    const l2 = await layer('L2', [dir('p', { mode: 0o711 }), file('p/child', 'c')]);
    const l3 = await layer('L3', [file('p', 'file3')]);
    const two = await exportList([l1, l2]);
    assert.deepEqual(names(two), ['p/', 'p/child']);
    assert.equal(entry(two, 'p/').mode, 0o711);
    const three = await exportList([l1, l2, l3]);
    assert.deepEqual(three.map((e) => [e.name, e.type, e.content]), [['p', 'file', 'file3']]);
    await extractMerged([l1, l2, l3], (root) => {
      assert.ok(lstatSync(join(root, 'p')).isFile());
      assert.equal(read(root, 'p'), 'file3');
    });
  });

  test('a hard link in layer 2 to a file of layer 1: the target is exported before the link', async () => {
    const layers = [
      await layer('L1', [dir('bin'), file('bin/tool', 'TOOL', { mode: 0o755 })]),
      await layer('L2', [hardlink('./bin/alias', './bin/tool'), file('bin/other', 'O')]),
    ];
    const out = await exportList(layers);
    const iTarget = names(out).indexOf('bin/tool');
    const iLink = names(out).indexOf('bin/alias');
    assert.ok(iTarget >= 0 && iLink > iTarget, `target at ${iTarget}, link at ${iLink}`);
    assert.equal(out[iLink]!.type, 'hardlink');
    assert.equal(out[iLink]!.linkname, 'bin/tool'); // cleaned of its './'
    await extractMerged(layers, (root) => {
      assert.equal(statSync(join(root, 'bin/alias')).ino, statSync(join(root, 'bin/tool')).ino);
      assert.equal(read(root, 'bin/alias'), 'TOOL');
    });
  });

  test('a hard link whose target a later layer deletes keeps the original content', async () => {
    const layers = [
      await layer('L1', [file('a', 'A', { mode: 0o750 })]),
      await layer('L2', [hardlink('l1', 'a'), hardlink('l2', 'a')]),
      await layer('L3', [file('.wh.a')]),
    ];
    const out = await exportList(layers);
    assert.ok(!names(out).includes('a'));
    // One of the links becomes the file, the other links to it; both carry a's content and mode.
    const l1 = entry(out, 'l1');
    assert.equal(l1.type, 'file');
    assert.equal(l1.content, 'A');
    assert.equal(l1.mode, 0o750);
    assert.deepEqual([entry(out, 'l2').type, entry(out, 'l2').linkname], ['hardlink', 'l1']);
    await extractMerged(layers, (root) => {
      assert.deepEqual(tree(root), ['l1', 'l2']);
      assert.equal(read(root, 'l2'), 'A');
      assert.equal(statSync(join(root, 'l1')).ino, statSync(join(root, 'l2')).ino);
    });
  });

  test('a hard link whose target is replaced later (next layer, or later in its own tar) keeps the old content', async () => {
    const nextLayer = [
      await layer('L1', [file('a', 'old')]),
      await layer('L2', [hardlink('l', 'a')]),
      await layer('L3', [file('a', 'new')]),
    ];
    const sameLayer = [await layer('L1', [file('a', 'old')]), await layer('L2', [hardlink('l', 'a'), file('a', 'new')])];
    for (const layers of [nextLayer, sameLayer]) {
      const out = await exportList(layers);
      assert.equal(entry(out, 'a').content, 'new');
      const l = entry(out, 'l');
      assert.equal(l.type, 'file');
      assert.equal(l.content, 'old');
      await extractMerged(layers, (root) => {
        assert.equal(read(root, 'a'), 'new');
        assert.equal(read(root, 'l'), 'old');
        assert.notEqual(statSync(join(root, 'l')).ino, statSync(join(root, 'a')).ino);
      });
    }
  });

  test('a hard link to a file replaced BEFORE the link in the same layer links to the new file', async () => {
    const layers = [await layer('L1', [file('a', 'old')]), await layer('L2', [file('a', 'new'), hardlink('l', 'a')])];
    const out = await exportList(layers);
    assert.deepEqual([entry(out, 'l').type, entry(out, 'l').linkname], ['hardlink', 'a']);
    await extractMerged(layers, (root) => assert.equal(read(root, 'l'), 'new'));
  });

  test('implicit parent directories are created (mode 0755) before the entries below them', async () => {
    const layers = [await layer('L1', [file('x/y/z/f', 'deep')])];
    const t = await MergedTree.build(layers);
    assert.equal(t.lookup('x/y')?.type, 'dir');
    assert.equal(t.lookup('x/y')?.src, undefined);
    const out = await exportList(layers);
    assert.deepEqual(
      out.map((e) => [e.name, e.type, e.mode]),
      [
        ['x/', 'dir', 0o755],
        ['x/y/', 'dir', 0o755],
        ['x/y/z/', 'dir', 0o755],
        ['x/y/z/f', 'file', 0o644],
      ],
    );
    await extractMerged(layers, (root) => {
      assert.equal(read(root, 'x/y/z/f'), 'deep');
      assert.equal(statSync(join(root, 'x/y')).mode & 0o7777, 0o755);
    });
  });

  test('a dir entry in an upper layer changes the mode/owner but keeps the lower children', async () => {
    const layers = [
      await layer('L1', [dir('d'), file('d/a', 'A'), dir('d/sub'), file('d/sub/b', 'B')]),
      await layer('L2', [dir('d', { mode: 0o700, uid: 5, gid: 6 })]),
    ];
    const t = await MergedTree.build(layers);
    assert.deepEqual(t.lookup('d')?.src, { layer: 1, index: 0 });
    const out = await exportList(layers);
    assert.deepEqual(names(out).sort(), ['d/', 'd/a', 'd/sub/', 'd/sub/b']);
    assert.equal(entry(out, 'd/').mode, 0o700);
    await extractMerged(layers, (root) => {
      assert.equal(statSync(join(root, 'd')).mode & 0o7777, 0o700);
      assert.deepEqual(tree(root), ['d/', 'd/a', 'd/sub/', 'd/sub/b']);
    });
  });

  test('a lower symlink replaced by a directory can then hold entries (no false escape)', async () => {
    const layers = [await layer('L1', [symlink('evil', '/tmp')]), await layer('L2', [dir('evil'), file('evil/x', 'X')])];
    const out = await exportList(layers);
    assert.deepEqual(out.map((e) => [e.name, e.type]), [['evil/', 'dir'], ['evil/x', 'file']]);
  });

  test('symlinks, devices, xattrs and metadata pass through the export unchanged', async () => {
    const xattrs = { 'user.k': Buffer.from([0, 1, 2]) };
    const layers = [
      await layer('L1', [
        file('f', 'F', { mode: 0o4711, uid: 3_000_000, gid: 7, mtime: 1700000000.5, uname: 'u', gname: 'g', xattrs }),
        symlink('s', '../somewhere/else'),
        { header: makeHeader({ name: 'null', type: 'char', mode: 0o666, devmajor: 1, devminor: 3 }) },
        { header: makeHeader({ name: 'fifo', type: 'fifo', mode: 0o600 }) },
      ]),
    ];
    const back = await readAll(await collect(exportMergedTar(layers)));
    const byName = new Map(back.map((e) => [e.header.name, e.header]));
    assert.deepEqual(
      byName.get('f'),
      makeHeader({ name: 'f', type: 'file', size: 1, mode: 0o4711, uid: 3_000_000, gid: 7, mtime: 1700000000.5, uname: 'u', gname: 'g', xattrs }),
    );
    assert.equal(byName.get('s')?.linkname, '../somewhere/else');
    assert.deepEqual([byName.get('null')?.type, byName.get('null')?.devmajor, byName.get('null')?.devminor], ['char', 1, 3]);
    assert.equal(byName.get('fifo')?.type, 'fifo');
  });

  test('the export is deterministic and has no whiteout names', async () => {
    const build = async () => [
      await layer('L1', [dir('a'), file('a/1', '1'), file('a/2', '2'), file('z', 'z')]),
      await layer('L2', [file('a/.wh.1'), file('a/3', '3'), file('.wh..wh..opq'), file('y', 'y')]),
    ];
    const one = await collect(exportMergedTar(await build()));
    const two = await collect(exportMergedTar(await build()));
    assert.ok(one.equals(two));
    const listed = names(await exportList(await build()));
    assert.ok(!listed.some((n) => n.includes('.wh.')), JSON.stringify(listed));
    // the root-level opaque marker hid everything of L1
    assert.deepEqual(listed.sort(), ['a/', 'a/3', 'y']);
  });

  test('survivors() lists, per layer, the tar indices of the entries that remain', async () => {
    const layers = [
      await layer('L1', [file('a'), file('b'), file('c')]),
      await layer('L2', [file('.wh.a'), file('c', 'again'), file('d')]),
    ];
    const t = await MergedTree.build(layers);
    assert.deepEqual(
      t.survivors(2).map((s) => [...s].sort()),
      [[1], [1, 2]],
    );
    assert.deepEqual([...t.walk()].map((w) => w.path), ['b', 'c', 'd']);
  });
});

describe('summarizeLayer', () => {
  test('contentSize sums file sizes and symlink target lengths, whiteouts excluded; entries and whiteouts are counted', async () => {
    const tar = await tarOf([
      dir('d'),
      file('d/a', 'x'.repeat(100)),
      file('d/b', 'y'.repeat(23)),
      symlink('d/s', 'a'),
      hardlink('d/h', 'd/a'),
      file('d/.wh.gone', 'ignored'), // a whiteout with content: still not counted
      file('e/.wh..wh..opq', '12345'),
    ]);
    assert.deepEqual(await summarizeLayer(chunks(tar, 100), 'layer'), { contentSize: 124, entries: 7, whiteouts: 2 });
  });

  test('an empty layer (just the end-of-archive blocks) is all zeros', async () => {
    assert.deepEqual(await summarizeLayer(chunks(await tarOf([])), 'empty'), { contentSize: 0, entries: 0, whiteouts: 0 });
  });
});
