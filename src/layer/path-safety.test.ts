/** Path safety: clean entry names, and hostile layers refused by summarizeLayer, MergedTree and the export. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { exportMergedTar } from './export-tar.js';
import { summarizeLayer } from './layer-summary.js';
import { MergedTree, type TarSource } from './merged-tree.js';
import { cleanEntryPath, cleanHeaderPath, cleanLinkTarget, isWithin } from './path-safety.js';
import type { TarWriteEntry } from './tar-writer.js';
import { chunks, collect, dir, file, hardlink, layer, rejectsWithCode, symlink, tarOf, throwsWithCode } from './layer-fixtures.js';

describe('cleanEntryPath', () => {
  test('normalises ./, doubled and trailing slashes and "." components', () => {
    assert.equal(cleanEntryPath('./a/b/'), 'a/b');
    assert.equal(cleanEntryPath('a//b'), 'a/b');
    assert.equal(cleanEntryPath('a/./b/.'), 'a/b');
    assert.equal(cleanEntryPath('plain'), 'plain');
    assert.equal(cleanEntryPath('...'), '...'); // only ".." is special; "..." is an ordinary name
    assert.equal(cleanEntryPath('a/..b/c..'), 'a/..b/c..');
  });

  test('"/", ".", "./" and "" are the root itself (kaniko writes "/", GNU tar "./")', () => {
    for (const root of ['/', '//', '/.', '/./', '.', './', './.', '']) assert.equal(cleanEntryPath(root), '', JSON.stringify(root));
  });

  test('absolute paths other than the root -> UNSAFE_PATH', () => {
    throwsWithCode(() => cleanEntryPath('/etc/passwd'), 'UNSAFE_PATH');
    throwsWithCode(() => cleanEntryPath('//etc'), 'UNSAFE_PATH');
    throwsWithCode(() => cleanEntryPath('/etc/'), 'UNSAFE_PATH');
    throwsWithCode(() => cleanEntryPath('/./etc'), 'UNSAFE_PATH');
    throwsWithCode(() => cleanEntryPath('/..'), 'UNSAFE_PATH');
    throwsWithCode(() => cleanEntryPath('/\0'), 'UNSAFE_PATH');
  });

  test('cleanHeaderPath: an entry naming the root must be a directory', () => {
    assert.equal(cleanHeaderPath({ name: '/', type: 'dir' }), '');
    assert.equal(cleanHeaderPath({ name: 'a/b/', type: 'dir' }), 'a/b');
    for (const type of ['file', 'symlink', 'hardlink', 'fifo'] as const) {
      const e = throwsWithCode(() => cleanHeaderPath({ name: '/', type }, 'layer L: entry'), 'CORRUPT_INPUT');
      assert.match(e.message, new RegExp(`layer L: entry "/" names the root directory but is a ${type}`));
    }
    throwsWithCode(() => cleanHeaderPath({ name: '/etc', type: 'dir' }), 'UNSAFE_PATH');
  });

  test('".." components anywhere -> UNSAFE_PATH, even when they would stay inside', () => {
    throwsWithCode(() => cleanEntryPath('a/../../x'), 'UNSAFE_PATH');
    throwsWithCode(() => cleanEntryPath('../x'), 'UNSAFE_PATH');
    throwsWithCode(() => cleanEntryPath('..'), 'UNSAFE_PATH');
    throwsWithCode(() => cleanEntryPath('a/b/..'), 'UNSAFE_PATH');
    throwsWithCode(() => cleanEntryPath('./a/../b'), 'UNSAFE_PATH');
  });

  test('a NUL byte -> UNSAFE_PATH', () => {
    throwsWithCode(() => cleanEntryPath('a\0b'), 'UNSAFE_PATH');
    throwsWithCode(() => cleanEntryPath('ok/name\0/../../etc'), 'UNSAFE_PATH');
  });

  test('the error names what was being checked', () => {
    const e = throwsWithCode(() => cleanEntryPath('/x', 'layer L: entry'), 'UNSAFE_PATH');
    assert.match(e.message, /layer L: entry "\/x"/);
  });

  test('cleanLinkTarget applies the same rules to hard link targets', () => {
    assert.equal(cleanLinkTarget('./usr/bin/x', 'l'), 'usr/bin/x');
    throwsWithCode(() => cleanLinkTarget('../outside', 'l'), 'UNSAFE_PATH');
    assert.equal(cleanLinkTarget('/etc/passwd', 'l'), 'etc/passwd', 'an absolute target is read from the root, as Docker and containerd join it');
    throwsWithCode(() => cleanLinkTarget('/../etc/passwd', 'l'), 'UNSAFE_PATH');
    for (const root of ['/', './', '.']) throwsWithCode(() => cleanLinkTarget(root, 'l'), 'CORRUPT_INPUT');
  });

  test('isWithin compares whole components', () => {
    assert.equal(isWithin('a/b', 'a'), true);
    assert.equal(isWithin('a', 'a'), true);
    assert.equal(isWithin('anything', ''), true);
    assert.equal(isWithin('ab/c', 'a'), false);
    assert.equal(isWithin('a', 'a/b'), false);
  });
});

/**
 * Hostile layers. Each is checked against summarizeLayer (one layer on its own), MergedTree.build and
 * exportMergedTar (the layer on top of an ordinary base layer); all must refuse with `code`.
 */
const hostile: { why: string; entries: TarWriteEntry[] }[] = [
  { why: 'a ".." traversal name', entries: [file('ok', 'x'), file('../../etc/cron.d/evil', 'x')] },
  { why: 'a ".." component inside a name', entries: [file('usr/../../../x', 'x')] },
  { why: 'an absolute name', entries: [file('/etc/passwd', 'root::0:0::/:/bin/sh')] },
  { why: 'an absolute directory name', entries: [dir('/tmp/evil')] },
  { why: 'a NUL byte in a name (via PAX path)', entries: [file(`a\0/${'x'.repeat(200)}`, 'x')] },
  { why: 'a hard link to ../outside', entries: [file('a', 'x'), hardlink('link', '../outside')] },
  { why: 'a hard link to /../etc/passwd', entries: [hardlink('passwd', '/../etc/passwd')] },
  { why: 'a symlink to /tmp, then a file written through it', entries: [symlink('evil', '/tmp'), file('evil/x', 'pwned')] },
  { why: 'a symlink to ../../.., then a file through it', entries: [symlink('evil', '../../..'), file('evil/x', 'pwned')] },
  { why: 'a symlink to /, then a deeper write through it', entries: [dir('d'), symlink('d/evil', '/'), file('d/evil/etc/x', 'x')] },
  { why: 'a symlink, then a directory through it', entries: [symlink('evil', '/etc'), dir('evil/cron.d')] },
];

const base = () => layer('base', [dir('etc'), file('etc/hosts', 'localhost'), dir('usr')]);

describe('hostile layers are refused with UNSAFE_PATH', () => {
  for (const { why, entries } of hostile) {
    test(`summarizeLayer: ${why}`, async () => {
      const tar = await tarOf(entries);
      await rejectsWithCode(() => summarizeLayer(chunks(tar, 512), 'hostile'), 'UNSAFE_PATH');
    });
    test(`MergedTree.build and exportMergedTar: ${why}`, async () => {
      const layers = [await base(), await layer('hostile', entries)];
      await rejectsWithCode(() => MergedTree.build(layers), 'UNSAFE_PATH');
      let emitted = 0;
      await rejectsWithCode(async () => {
        for await (const c of exportMergedTar(layers)) emitted += c.length;
      }, 'UNSAFE_PATH');
      assert.equal(emitted, 0, 'nothing was exported before the refusal');
    });
  }

  test('a symlink in a lower layer, written through by an upper layer', async () => {
    const layers = [await layer('L1', [symlink('evil', '/tmp')]), await layer('L2', [file('evil/x', 'pwned')])];
    await rejectsWithCode(() => MergedTree.build(layers), 'UNSAFE_PATH');
    await rejectsWithCode(() => collect(exportMergedTar(layers)), 'UNSAFE_PATH');
  });
});

describe('what is not an escape is accepted', () => {
  const benign: { why: string; entries: TarWriteEntry[] }[] = [
    { why: 'a symlink replaced by a directory before entries go below it', entries: [symlink('s', '/tmp'), dir('s'), file('s/x', 'x')] },
    { why: 'a name that merely starts with a symlink\'s name', entries: [symlink('evil', '/tmp'), file('evilx/y', 'y')] },
    { why: 'symlinks with absolute and ".." targets that nothing is written through', entries: [symlink('a', '/etc/passwd'), symlink('b', '../../..')] },
    { why: 'the root entry "./" and "./"-prefixed names', entries: [dir('./'), file('./a/b', 'x'), hardlink('./c', './a/b')] },
    { why: 'the root entry "/" (kaniko) before ordinary names', entries: [dir('/'), dir('etc/'), file('etc/x', 'x'), hardlink('etc/y', 'etc/x')] },
    { why: 'a hard link with an absolute target (kaniko), read from the root', entries: [dir('app'), file('app/run', 'x'), hardlink('app/run2', '/app/run')] },
    { why: 'the root entry "." and a root opaque marker', entries: [dir('.'), file('.wh..wh..opq'), file('a', 'x')] },
  ];
  for (const { why, entries } of benign) {
    test(why, async () => {
      const tar = await tarOf(entries);
      const s = await summarizeLayer(chunks(tar), 'benign');
      assert.equal(s.entries, entries.length);
      await MergedTree.build([await layer('benign', entries)]);
    });
  }
});

describe('an entry that names the root must be a directory', () => {
  const cases: { why: string; entries: TarWriteEntry[] }[] = [
    { why: 'a symlink "/"', entries: [symlink('/', '/tmp'), file('x', 'x')] },
    { why: 'a file "./"', entries: [file('.', 'x')] },
    { why: 'a hard link "/" to a file', entries: [file('a', 'x'), hardlink('/', 'a')] },
  ];
  for (const { why, entries } of cases) {
    test(`${why} -> CORRUPT_INPUT from summarizeLayer and MergedTree`, async () => {
      await rejectsWithCode(async () => summarizeLayer(chunks(await tarOf(entries)), 'layer'), 'CORRUPT_INPUT');
      await rejectsWithCode(async () => MergedTree.build([await base(), await layer('L2', entries)]), 'CORRUPT_INPUT');
    });
  }
});

describe('hard links that name nothing', () => {
  const cases: { why: string; layers: () => Promise<TarSource[]> }[] = [
    { why: 'a target that no layer has', layers: async () => [await base(), await layer('L2', [hardlink('l', 'missing')])] },
    { why: 'a target deleted by a whiteout of the same layer', layers: async () => [await base(), await layer('L2', [file('etc/.wh.hosts'), hardlink('l', 'etc/hosts')])] },
    { why: 'a target that only comes later in the tar', layers: async () => [await layer('L1', [hardlink('l', 'f'), file('f', 'x')])] },
    { why: 'an absolute target that no layer has', layers: async () => [await base(), await layer('L2', [hardlink('l', '/etc/shadow')])] },
    { why: 'a directory as target', layers: async () => [await base(), await layer('L2', [hardlink('l', 'etc')])] },
    { why: 'a target reached through a symlink', layers: async () => [await layer('L1', [symlink('evil', '/etc'), hardlink('l', 'evil/passwd')])] },
  ];
  for (const { why, layers } of cases) {
    test(`${why} -> CORRUPT_INPUT`, async () => {
      await rejectsWithCode(async () => MergedTree.build(await layers()), 'CORRUPT_INPUT');
    });
  }
});

describe('summarizeLayer and symlinks of the same layer', () => {
  test('a hard link whose target goes through a symlink of the layer -> UNSAFE_PATH', async () => {
    const tar = await tarOf([symlink('evil', '/etc'), hardlink('l', 'evil/passwd')]);
    await rejectsWithCode(() => summarizeLayer(chunks(tar), 'hostile'), 'UNSAFE_PATH');
  });

  test('whiteouts below a path that this layer turns into a symlink are not an escape', async () => {
    // A lower directory "x" replaced by a symlink: the diff holds the symlink and whiteouts of x's children.
    const tar = await tarOf([symlink('x', 'elsewhere'), file('x/.wh.child'), file('x/.wh..wh..opq')]);
    assert.deepEqual(await summarizeLayer(chunks(tar), 'layer'), { contentSize: 'elsewhere'.length, entries: 3, whiteouts: 2 });
  });
});
